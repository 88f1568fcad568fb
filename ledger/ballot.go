package ledger

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// castBallot records a ballot and moves the running tally. The checks run
// from the cheapest to the dearest; every one happens before any write.
func (c *execCtx) castBallot(d *DecodedTx, m *tabellav1.CastBallot) error {
	in, err := c.initiative(m.InitiativeId)
	if err != nil {
		return err
	}
	if in.Status != tabellav1.InitiativeStatus_INITIATIVE_STATUS_VOTING {
		return Errorf(CodeNotOpen, "initiative %q is not open for voting (status %s; voting %s)", m.InitiativeId, statusName(in.Status), windowText(in.Spec.Schedule))
	}
	cred := d.Credential
	if !bytes.Equal(cred.VoterPublicKey, d.Signer) {
		return Errorf(CodeBadCredential, "the credential certifies key %s, the ballot is signed by %s", shortKey(cred.VoterPublicKey), shortKey(d.Signer))
	}
	if !contains(in.Spec.Eligibility.IssuerIds, cred.IssuerId) {
		return Errorf(CodeIssuerNotAccepted, "initiative %q does not accept credentials from issuer %q", m.InitiativeId, cred.IssuerId)
	}
	iss, ok, err := c.issuer(cred.IssuerId)
	if err != nil {
		return err
	}
	if !ok {
		return Errorf(CodeUnknownIssuer, "credential issuer %q is not registered", cred.IssuerId)
	}
	if iss.Revoked {
		return Errorf(CodeIssuerRevoked, "credential issuer %q has been revoked", cred.IssuerId)
	}
	if cred.ExpiresAt <= c.time {
		return Errorf(CodeCredentialExpired, "credential expired at %s, block time is %s", fmtTime(cred.ExpiresAt), fmtTime(c.time))
	}
	if !VerifyCredentialSignature(c.chainID, iss.PublicKey, m.Credential) {
		return Errorf(CodeBadCredential, "credential signature does not verify against issuer %q", cred.IssuerId)
	}
	if ok, why := Eligible(cred.Attributes, in.Spec.Eligibility.Predicates); !ok {
		return Errorf(CodeIneligible, "voter is not eligible: %s", why)
	}
	rules := in.Spec.Ballot
	n := uint32(len(m.Selections))
	if n < rules.MinSelections || n > rules.MaxSelections {
		return Errorf(CodeSelectionCount, "ballot selects %d options, this initiative needs %d to %d", n, rules.MinSelections, rules.MaxSelections)
	}
	for _, s := range m.Selections {
		if int(s) >= len(in.Spec.Options) {
			return Errorf(CodeUnknownOption, "option index %d does not exist (the initiative has %d options)", s, len(in.Spec.Options))
		}
	}

	voter := []byte(d.Signer)
	var prev tabellav1.BallotRecord
	hasPrev, err := c.get(BallotKey(m.InitiativeId, voter), &prev)
	if err != nil {
		return err
	}
	if hasPrev {
		if bytes.Equal(prev.BallotHash, d.Hash) {
			return Errorf(CodeReplay, "this exact ballot is already recorded (sequence %d)", prev.Sequence)
		}
		if !rules.RevotingAllowed {
			return Errorf(CodeRevotingDisabled, "this voter has already voted and initiative %q does not allow revoting", m.InitiativeId)
		}
		if m.Sequence <= prev.Sequence {
			return Errorf(CodeReplay, "a ballot with sequence %d is already recorded for this voter; a new ballot needs a higher sequence", prev.Sequence)
		}
	}

	var tally tabellav1.Tally
	if _, err := c.get(TallyKey(m.InitiativeId), &tally); err != nil {
		return err
	}
	if hasPrev {
		c.put(HistoryKey(m.InitiativeId, voter, prev.Sequence), &prev)
		for _, s := range prev.Selections {
			if err := c.addCount(m.InitiativeId, s, -1); err != nil {
				return err
			}
		}
	} else {
		tally.Turnout++
	}
	for _, s := range m.Selections {
		if err := c.addCount(m.InitiativeId, s, +1); err != nil {
			return err
		}
	}
	tally.InitiativeId = m.InitiativeId
	tally.BallotsCast++
	tally.Height = c.height
	c.put(TallyKey(m.InitiativeId), &tally)
	c.put(BallotKey(m.InitiativeId, voter), &tabellav1.BallotRecord{
		InitiativeId: m.InitiativeId,
		Voter:        voter,
		Sequence:     m.Sequence,
		Selections:   m.Selections,
		IssuerId:     cred.IssuerId,
		BallotHash:   d.Hash,
		Height:       c.height,
		Tx:           d.Raw,
	})
	return nil
}

// addCount moves one option's count by delta. Counts are 8-byte big-endian
// values under CountKey; a missing key is zero.
func (c *execCtx) addCount(initiative string, option uint32, delta int64) error {
	k := CountKey(initiative, option)
	cur, err := readCount(c.kv, k)
	if err != nil {
		return err
	}
	if delta < 0 && cur < uint64(-delta) {
		return fmt.Errorf("ledger: count of option %d in %q would go negative", option, initiative)
	}
	c.kv.Set(k, be64(uint64(int64(cur)+delta)))
	return nil
}

func readCount(r reader, k []byte) (uint64, error) {
	b, err := r.Get(k)
	if err != nil {
		return 0, fmt.Errorf("read count %q: %w", k, err)
	}
	if b == nil {
		return 0, nil
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("count %q has %d bytes, want 8", k, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func shortKey(k []byte) string {
	h := hex.EncodeToString(k)
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}

func statusName(s tabellav1.InitiativeStatus) string {
	const p = "INITIATIVE_STATUS_"
	n := s.String()
	if len(n) > len(p) && n[:len(p)] == p {
		return n[len(p):]
	}
	return n
}

func windowText(s *tabellav1.Schedule) string {
	return fmt.Sprintf("from %s to %s in block time", fmtTime(s.VotingOpensAt), fmtTime(s.VotingClosesAt))
}

// fmtTime renders unix seconds as RFC 3339 in UTC, so messages are the same
// on every node.
func fmtTime(unix int64) string {
	return time.Unix(unix, 0).UTC().Format(time.RFC3339)
}
