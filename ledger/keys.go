package ledger

import "encoding/binary"

// State key layout. All keys live in one IAVL tree; docs/protocol.md is the
// normative description. Identifiers never contain '/', so the separators
// below are unambiguous; binary segments (voter keys, big-endian integers)
// have fixed lengths.
const (
	prefixMeta       = "m/"
	prefixParty      = "party/"
	prefixOrganiser  = "organiser/"
	prefixIssuer     = "issuer/"
	prefixGov        = "gov/"
	prefixInitiative = "initiative/"
	prefixTally      = "t/"
	prefixCount      = "c/"
	prefixBallot     = "b/"
	prefixHistory    = "bh/"
	prefixQueue      = "q/"
	prefixHeader     = "ih/"
	prefixOption     = "o/"
	prefixProposal   = "p/"
	prefixSubmitter  = "pn/"
	prefixProgress   = "cl/"
	prefixBlindKey   = "bk/"
	prefixTrustee    = "tk/"
	prefixSealed     = "sealed/"
	prefixDeal       = "sdl/"
	prefixComplaint  = "scp/"
	prefixShare      = "ssh/"
)

var (
	keyChainID     = []byte(prefixMeta + "chain_id")
	keyQueueCursor = []byte(prefixMeta + "queue_cursor")
	keyPartyIndex  = []byte(prefixMeta + "parties")
)

func concat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func be64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func be32(v uint32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return b[:]
}

// PartyKey is "party/" || party_id.
func PartyKey(id string) []byte { return []byte(prefixParty + id) }

// OrganiserKey is "organiser/" || organiser_id.
func OrganiserKey(id string) []byte { return []byte(prefixOrganiser + id) }

// IssuerKey is "issuer/" || issuer_id.
func IssuerKey(id string) []byte { return []byte(prefixIssuer + id) }

// GovKey is "gov/" || proposal_id.
func GovKey(id string) []byte { return []byte(prefixGov + id) }

// InitiativeKey is "initiative/" || initiative_id.
func InitiativeKey(id string) []byte { return []byte(prefixInitiative + id) }

// TallyKey is "t/" || initiative_id.
func TallyKey(id string) []byte { return []byte(prefixTally + id) }

// CountKey is "c/" || initiative_id || "/" || uint32be(option index).
func CountKey(id string, option uint32) []byte {
	return concat([]byte(prefixCount+id+"/"), be32(option))
}

// BallotKey is "b/" || initiative_id || "/" || voter (32 bytes): the live
// ballot of a voter.
func BallotKey(id string, voter []byte) []byte {
	return concat([]byte(prefixBallot+id+"/"), voter)
}

// HistoryKey is "bh/" || initiative_id || "/" || voter || uint64be(sequence):
// a superseded ballot.
func HistoryKey(id string, voter []byte, seq uint64) []byte {
	return concat([]byte(prefixHistory+id+"/"), voter, be64(seq))
}

// HeaderKey is "ih/" || initiative_id: the initiative record without its
// listed options and its result, which ballots and proposals read so that
// their cost does not grow with the number of options.
func HeaderKey(id string) []byte { return []byte(prefixHeader + id) }

// OptionKey is "o/" || initiative_id || "/" || uint32be(option index): an
// option that is not in the spec's list (an approved proposal or a
// registered candidate), and every option of a BUDGET (for its cost).
func OptionKey(id string, option uint32) []byte {
	return concat([]byte(prefixOption+id+"/"), be32(option))
}

// ProposalKey is "p/" || initiative_id || "/" || proposal_id.
func ProposalKey(id, proposal string) []byte {
	return []byte(prefixProposal + id + "/" + proposal)
}

// SubmitterKey is "pn/" || initiative_id || "/" || submitter (32 bytes):
// the number of proposals the submitter made, uint32be.
func SubmitterKey(id string, submitter []byte) []byte {
	return concat([]byte(prefixSubmitter+id+"/"), submitter)
}

// ProgressKey is "cl/" || initiative_id: the count of a CLOSING initiative
// in progress.
func ProgressKey(id string) []byte { return []byte(prefixProgress + id) }

// BlindKeyKey is "bk/" || initiative_id || "/" || issuer_id: the issuer's
// attested RSA blind-signing key for an ANONYMOUS initiative, which its
// ballots read instead of the whole spec.
func BlindKeyKey(id, issuer string) []byte {
	return []byte(prefixBlindKey + id + "/" + issuer)
}

// TrusteeKeyKey is "tk/" || party_id: the party's registered trustee
// transport key, the raw 32-byte ristretto255 encoding.
func TrusteeKeyKey(party string) []byte { return []byte(prefixTrustee + party) }

// SealedKey is "sealed/" || initiative_id: the SealedState of a sealed
// initiative.
func SealedKey(id string) []byte { return []byte(prefixSealed + id) }

// DealKey is "sdl/" || initiative_id || "/" || uint32be(trustee index): a
// trustee's deal, the raw ledger/sealed Deal encoding as posted.
func DealKey(id string, trustee uint32) []byte {
	return concat([]byte(prefixDeal+id+"/"), be32(trustee))
}

// ComplaintKey is "scp/" || initiative_id || "/" || uint32be(dealer) ||
// uint32be(complainer): an upheld complaint, the raw Complaint encoding.
func ComplaintKey(id string, dealer, complainer uint32) []byte {
	return concat([]byte(prefixComplaint+id+"/"), be32(dealer), be32(complainer))
}

// ShareKey is "ssh/" || initiative_id || "/" || uint32be(trustee index): a
// trustee's valid decryption share, the raw PartialDecryption encoding.
func ShareKey(id string, trustee uint32) []byte {
	return concat([]byte(prefixShare+id+"/"), be32(trustee))
}

// Queue event kinds: scheduled transitions processed at the first block
// whose time is at or past the event time.
const (
	eventOpenVoting     byte = 1
	eventCloseVoting    byte = 2
	eventGovDeadline    byte = 3
	eventOpenProposals  byte = 4
	eventCloseProposals byte = 5
	eventContinueTally  byte = 6
	eventKeyCeremony    byte = 7
)

// queueKey is "q/" || uint64be(unix time) || kind || id.
func queueKey(at int64, kind byte, id string) []byte {
	return concat([]byte(prefixQueue), be64(uint64(at)), []byte{kind}, []byte(id))
}

// queueEnd is the first queue key after every event due at or before t.
func queueEnd(t int64) []byte {
	return concat([]byte(prefixQueue), be64(uint64(t)+1))
}

func parseQueueKey(k []byte) (at int64, kind byte, id string, ok bool) {
	if len(k) < len(prefixQueue)+9 {
		return 0, 0, "", false
	}
	k = k[len(prefixQueue):]
	return int64(binary.BigEndian.Uint64(k[:8])), k[8], string(k[9:]), true
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func be64Uint(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
