package client

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tabella/tabella/ledger"
	"github.com/tabella/tabella/ledger/sealed"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// Sealed ballots and the trustees' key ceremony (docs/sealed-ballots.md,
// docs/protocol.md §5.11). These helpers build the txs; the trustee's
// secrets (its transport key, derived key share) never leave the caller.

// SealBallot encrypts a selection (option indexes) to a sealed
// initiative's joint key and proves it valid for voter. st is the
// initiative's SealedState (GetSealed); the ballot only verifies for the
// same chain, initiative and voter key.
func SealBallot(rnd io.Reader, chainID string, st *tabellav1.SealedState, voter ed25519.PublicKey, selections []uint32) ([]byte, error) {
	if st.GetStatus() != tabellav1.CeremonyStatus_CEREMONY_STATUS_READY {
		return nil, fmt.Errorf("initiative %q has no election key yet (key ceremony %s)", st.GetInitiativeId(), st.GetStatus())
	}
	y, err := sealed.DecodePublicKey(st.JointKey)
	if err != nil {
		return nil, fmt.Errorf("joint key of %q: %w", st.InitiativeId, err)
	}
	rules := ledger.SealedRules(st)
	choices := make([]uint8, rules.Options)
	for _, s := range selections {
		if int(s) >= rules.Options {
			return nil, fmt.Errorf("option %d is not on the ballot (%d options)", s, rules.Options)
		}
		if choices[s] == 1 {
			return nil, fmt.Errorf("option %d is selected twice", s)
		}
		choices[s] = 1
	}
	b, err := sealed.EncryptBallot(rnd, y, ledger.SealedBallotContext(chainID, st.InitiativeId, voter), choices, rules)
	if err != nil {
		return nil, fmt.Errorf("seal the ballot: %w", err)
	}
	return b.Bytes(), nil
}

// SealedBallotTx builds and signs a sealed ballot. Exactly one of cred
// (SEALED) and token (ANONYMOUS_SEALED) is set.
func SealedBallotTx(chainID string, voterKey ed25519.PrivateKey, initiativeID string, cred *tabellav1.SignedCredential, token *tabellav1.AnonymousToken, ballot []byte, sequence uint64) ([]byte, error) {
	return SignTx(chainID, voterKey, &tabellav1.TxBody{Msg: &tabellav1.TxBody_CastBallot{CastBallot: &tabellav1.CastBallot{
		InitiativeId: initiativeID,
		Credential:   cred,
		Token:        token,
		Sequence:     sequence,
		SealedBallot: ballot,
	}}})
}

// TrusteeSecret is a party's long-term trustee transport secret: a
// ristretto255 scalar. The same secret serves every initiative the party
// is a trustee of, at whatever index it has there.
type TrusteeSecret struct{ key *sealed.TrusteeKey }

// NewTrusteeSecret draws a fresh trustee secret.
func NewTrusteeSecret(rnd io.Reader) (*TrusteeSecret, error) {
	k, err := sealed.NewTrusteeKey(rnd, 1)
	if err != nil {
		return nil, err
	}
	return &TrusteeSecret{k}, nil
}

// DecodeTrusteeSecret parses TrusteeSecret.Bytes.
func DecodeTrusteeSecret(b []byte) (*TrusteeSecret, error) {
	k, err := sealed.DecodeTrusteeKey(b)
	if err != nil {
		return nil, fmt.Errorf("trustee secret: %w", err)
	}
	return &TrusteeSecret{k}, nil
}

// Bytes is the SECRET encoding, for the trustee's own storage only.
func (s *TrusteeSecret) Bytes() []byte { return s.key.Bytes() }

// Public is the transport key to register (RegisterTrusteeKey).
func (s *TrusteeSecret) Public() []byte { return s.key.Public().Bytes() }

// at returns the secret as trustee index i of a ceremony: the package's
// key encoding is u16 index ‖ scalar, so only the index changes.
func (s *TrusteeSecret) at(i int) (*sealed.TrusteeKey, error) {
	b := s.key.Bytes()
	binary.BigEndian.PutUint16(b[:2], uint16(i))
	return sealed.DecodeTrusteeKey(b)
}

// RegisterTrusteeKeyTx builds and signs a party's trustee key
// registration with one of its admin keys.
func RegisterTrusteeKeyTx(chainID string, adminKey ed25519.PrivateKey, partyID string, public []byte) ([]byte, error) {
	return SignTx(chainID, adminKey, &tabellav1.TxBody{Msg: &tabellav1.TxBody_RegisterTrusteeKey{RegisterTrusteeKey: &tabellav1.RegisterTrusteeKey{PartyId: partyID, PublicKey: public}}})
}

// Trustee is one party acting in one sealed initiative's ceremony.
type Trustee struct {
	ChainID    string
	Initiative string
	PartyID    string
	// Index is the party's trustee index (from 1).
	Index  int
	params sealed.DKGParams
	key    *sealed.TrusteeKey
}

// NewTrustee prepares party's role in a sealed initiative from its spec
// and SealedState, checking that the registered key is this secret's.
func NewTrustee(chainID string, spec *tabellav1.InitiativeSpec, st *tabellav1.SealedState, partyID string, secret *TrusteeSecret) (*Trustee, error) {
	idx := -1
	for i, p := range spec.GetSealed().GetTrusteePartyIds() {
		if p == partyID {
			idx = i + 1
		}
	}
	if idx < 1 {
		return nil, fmt.Errorf("party %q is not a trustee of initiative %q", partyID, spec.GetId())
	}
	params, err := ledger.DKGParams(chainID, st)
	if err != nil {
		return nil, err
	}
	k, err := secret.at(idx)
	if err != nil {
		return nil, err
	}
	if !params.Trustees[idx-1].Equal(k.Public()) {
		return nil, fmt.Errorf("the trustee key recorded for party %q in initiative %q is not this secret's public key", partyID, spec.GetId())
	}
	return &Trustee{ChainID: chainID, Initiative: spec.GetId(), PartyID: partyID, Index: idx, params: params, key: k}, nil
}

// Deal makes the party's round-1 deal.
func (t *Trustee) Deal(rnd io.Reader) ([]byte, error) {
	d, err := sealed.NewDeal(rnd, t.params, t.Index)
	if err != nil {
		return nil, fmt.Errorf("deal: %w", err)
	}
	return d.Bytes(), nil
}

// Complaints checks this trustee's share in every posted deal and returns
// a complaint against each dealer whose share is wrong.
func (t *Trustee) Complaints(rnd io.Reader, deals [][]byte) ([][]byte, error) {
	var out [][]byte
	for _, raw := range deals {
		d, err := sealed.DecodeDeal(raw)
		if err != nil {
			return nil, fmt.Errorf("posted deal: %w", err)
		}
		if d.Dealer() == t.Index || t.key.CheckShare(t.params, d) == nil {
			continue
		}
		c, err := t.key.Complain(rnd, t.params, d)
		if err != nil {
			return nil, fmt.Errorf("complain about trustee %d: %w", d.Dealer(), err)
		}
		out = append(out, c.Bytes())
	}
	return out, nil
}

// DecryptionShare derives the party's key share from the qualified deals
// and partially decrypts the closing encrypted tally.
func (t *Trustee) DecryptionShare(rnd io.Reader, st *tabellav1.SealedState, deals [][]byte, encrypted []byte) ([]byte, error) {
	var qualified []*sealed.Deal
	for i, raw := range deals {
		if !containsU32(st.Qualified, st.Dealt[i]) {
			continue
		}
		d, err := sealed.DecodeDeal(raw)
		if err != nil {
			return nil, fmt.Errorf("posted deal: %w", err)
		}
		qualified = append(qualified, d)
	}
	share, err := t.key.KeyShare(t.params, qualified)
	if err != nil {
		return nil, fmt.Errorf("key share of trustee %d: %w", t.Index, err)
	}
	tally, err := sealed.DecodeTally(encrypted)
	if err != nil {
		return nil, fmt.Errorf("encrypted tally: %w", err)
	}
	p, err := share.PartialDecrypt(rnd, ledger.SealedDecryptContext(t.ChainID, t.Initiative), tally)
	if err != nil {
		return nil, fmt.Errorf("partial decryption: %w", err)
	}
	return p.Bytes(), nil
}

func containsU32(s []uint32, v uint32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TrusteeDealTx builds and signs a deal with one of the party's admin keys.
func TrusteeDealTx(chainID string, adminKey ed25519.PrivateKey, initiativeID, partyID string, deal []byte) ([]byte, error) {
	return SignTx(chainID, adminKey, &tabellav1.TxBody{Msg: &tabellav1.TxBody_TrusteeDeal{TrusteeDeal: &tabellav1.TrusteeDeal{InitiativeId: initiativeID, PartyId: partyID, Deal: deal}}})
}

// TrusteeComplaintTx builds and signs a complaint.
func TrusteeComplaintTx(chainID string, adminKey ed25519.PrivateKey, initiativeID, partyID string, complaint []byte) ([]byte, error) {
	return SignTx(chainID, adminKey, &tabellav1.TxBody{Msg: &tabellav1.TxBody_TrusteeComplaint{TrusteeComplaint: &tabellav1.TrusteeComplaint{InitiativeId: initiativeID, PartyId: partyID, Complaint: complaint}}})
}

// DecryptionShareTx builds and signs a decryption share.
func DecryptionShareTx(chainID string, adminKey ed25519.PrivateKey, initiativeID, partyID string, share []byte) ([]byte, error) {
	return SignTx(chainID, adminKey, &tabellav1.TxBody{Msg: &tabellav1.TxBody_DecryptionShare{DecryptionShare: &tabellav1.DecryptionShare{InitiativeId: initiativeID, PartyId: partyID, Share: share}}})
}

// TrusteeSecretPath is where a party's trustee secret is kept:
// <home>/trustee/<party>.key (hex, mode 0600).
func TrusteeSecretPath(home, party string) string {
	return filepath.Join(home, "trustee", party+".key")
}

// LoadTrusteeSecret reads a party's trustee secret from home.
func LoadTrusteeSecret(home, party string) (*TrusteeSecret, error) {
	b, err := os.ReadFile(TrusteeSecretPath(home, party))
	if err != nil {
		return nil, fmt.Errorf("trustee secret of %s: %w (create it with `tabella trustee keygen --party %s`)", party, err, party)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("trustee secret of %s is not hex: %w", party, err)
	}
	return DecodeTrusteeSecret(raw)
}

// CreateTrusteeSecret draws a party's trustee secret and stores it in
// home; it refuses to replace an existing one, whose key shares would be
// lost.
func CreateTrusteeSecret(home, party string) (*TrusteeSecret, error) {
	path := TrusteeSecretPath(home, party)
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("%s already exists: a trustee secret is never replaced while an initiative may need it", path)
	}
	s, err := NewTrusteeSecret(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintln(f, hex.EncodeToString(s.Bytes())); err != nil {
		f.Close()
		return nil, err
	}
	return s, f.Close()
}
