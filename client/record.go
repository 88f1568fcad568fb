package client

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/tabella/tabella/ledger"
	"github.com/tabella/tabella/ledger/sealed"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// SealedRecordCheck is what VerifySealedRecord re-checked.
type SealedRecordCheck struct {
	Deals   int
	Ballots int
	Shares  int
	// Counts are the counts recovered from the shares (nil before t
	// valid shares).
	Counts []uint64
}

// VerifySealedRecord re-checks a sealed initiative's election record with
// nothing but the record: every deal and the joint and verification keys
// derived from the qualified ones, every live ballot's proofs and that
// their homomorphic sum is the recorded encrypted tally, every decryption
// share's proof, and that the shares decrypt the tally to the recorded
// result's counts. ballots are the live ballot records (each carries its
// signed tx); encrypted is the recorded tally.
func VerifySealedRecord(chainID string, spec *tabellav1.InitiativeSpec, st *tabellav1.SealedState, deals, shares [][]byte, ballots []*tabellav1.BallotRecord, encrypted []byte, result *tabellav1.Result) (*SealedRecordCheck, error) {
	out := &SealedRecordCheck{}
	params, err := ledger.DKGParams(chainID, st)
	if err != nil {
		return nil, err
	}
	if len(deals) != len(st.Dealt) {
		return nil, fmt.Errorf("the record has %d deals, the state lists %d dealers", len(deals), len(st.Dealt))
	}
	var qualified []*sealed.Deal
	for i, raw := range deals {
		d, err := sealed.DecodeDeal(raw)
		if err != nil {
			return nil, fmt.Errorf("deal of trustee %d: %w", st.Dealt[i], err)
		}
		if d.Dealer() != int(st.Dealt[i]) {
			return nil, fmt.Errorf("deal %d is by trustee %d, the state says %d", i, d.Dealer(), st.Dealt[i])
		}
		if err := sealed.VerifyDeal(params, d); err != nil {
			return nil, fmt.Errorf("deal of trustee %d: %w", d.Dealer(), err)
		}
		out.Deals++
		if slices.Contains(st.Qualified, st.Dealt[i]) {
			qualified = append(qualified, d)
		}
	}
	if st.Status != tabellav1.CeremonyStatus_CEREMONY_STATUS_READY {
		return out, nil
	}
	y, err := sealed.JointKey(qualified)
	if err != nil {
		return nil, fmt.Errorf("joint key: %w", err)
	}
	if !bytes.Equal(y.Bytes(), st.JointKey) {
		return nil, fmt.Errorf("the qualified deals give joint key %x, the record says %x", y.Bytes(), st.JointKey)
	}
	for i := range st.TrusteeKeys {
		vk, err := sealed.VerificationKey(qualified, i+1)
		if err != nil {
			return nil, fmt.Errorf("verification key %d: %w", i+1, err)
		}
		if !bytes.Equal(vk.Bytes(), st.VerificationKeys[i]) {
			return nil, fmt.Errorf("the qualified deals give trustee %d verification key %x, the record says %x", i+1, vk.Bytes(), st.VerificationKeys[i])
		}
	}
	tally, err := sealed.NewTally(int(st.Options))
	if err != nil {
		return nil, err
	}
	var turnout uint64
	for _, rec := range ballots {
		if rec.Withdrawn {
			continue
		}
		if err := VerifyBallot(chainID, spec.Id, rec.Voter, rec.BallotHash, rec); err != nil {
			return nil, err
		}
		body, err := ledger.DecodeTxUnverified(rec.Tx)
		if err != nil {
			return nil, err
		}
		b, err := ledger.VerifySealedBallot(nil, chainID, st, rec.Voter, body.GetCastBallot().GetSealedBallot())
		if err != nil {
			return nil, fmt.Errorf("ballot of %x: %w", rec.Voter, err)
		}
		if err := tally.Add(b); err != nil {
			return nil, err
		}
		out.Ballots++
		turnout++
	}
	if !bytes.Equal(tally.Bytes(), encrypted) {
		return nil, fmt.Errorf("the live ballots do not add up to the recorded encrypted tally")
	}
	if len(shares) != len(st.Shared) {
		return nil, fmt.Errorf("the record has %d shares, the state lists %d", len(shares), len(st.Shared))
	}
	var partials []*sealed.PartialDecryption
	for i, raw := range shares {
		p, err := sealed.DecodePartialDecryption(raw)
		if err != nil {
			return nil, fmt.Errorf("share of trustee %d: %w", st.Shared[i], err)
		}
		j := int(st.Shared[i])
		if p.Index() != j || j < 1 || j > len(st.VerificationKeys) {
			return nil, fmt.Errorf("share %d is by trustee %d, the state says %d", i, p.Index(), j)
		}
		yj, err := sealed.DecodePublicKey(st.VerificationKeys[j-1])
		if err != nil {
			return nil, err
		}
		if err := sealed.VerifyPartial(ledger.SealedDecryptContext(chainID, spec.Id), yj, tally, p); err != nil {
			return nil, fmt.Errorf("share of trustee %d: %w", j, err)
		}
		partials = append(partials, p)
		out.Shares++
	}
	if len(partials) >= int(st.Threshold) && turnout > 0 {
		table, err := sealed.NewDLogTable(turnout, 0)
		if err != nil {
			return nil, err
		}
		if out.Counts, err = sealed.Combine(table, int(st.Threshold), tally, partials); err != nil {
			return nil, fmt.Errorf("combine the shares: %w", err)
		}
	}
	if result != nil && turnout > 0 && !slices.Equal(out.Counts, result.Counts) {
		return nil, fmt.Errorf("the shares decrypt the tally to %v, the recorded result says %v", out.Counts, result.Counts)
	}
	return out, nil
}
