package client

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	cmtmath "github.com/cometbft/cometbft/libs/math"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"
	ics23 "github.com/cosmos/ics23/go"
	"google.golang.org/protobuf/proto"

	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// ReceiptVersion names the receipt schema (docs/verify-your-vote.md).
const ReceiptVersion = "tabella-receipt/1"

// HexBytes marshals as lower-case hex in JSON.
type HexBytes []byte

func (h HexBytes) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(h)) }

func (h *HexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("hex: %w", err)
	}
	*h = d
	return nil
}

// Receipt is what a citizen keeps: enough to prove, alone and offline, that
// their ballot is recorded in a state whose app hash a quorum of the
// consortium's validators signed.
type Receipt struct {
	Version      string   `json:"version"`
	ChainID      string   `json:"chain_id"`
	InitiativeID string   `json:"initiative_id"`
	Voter        HexBytes `json:"voter"`
	BallotHash   HexBytes `json:"ballot_hash"`
	Sequence     uint64   `json:"sequence"`
	// BallotHeight is the block that recorded the ballot.
	BallotHeight int64 `json:"ballot_height"`
	// Height is the proven state version; its app hash is in the signed
	// header of Height+1.
	Height int64    `json:"height"`
	Key    HexBytes `json:"key"`
	// Value is the tabella.v1.BallotRecord protobuf stored under Key.
	Value []byte `json:"value"`
	// Proof is a cosmos.ics23.v1.CommitmentProof protobuf.
	Proof []byte `json:"proof"`
	// SignedHeader (header Height+1 with its commit) and ValidatorSet (the
	// validators of that height) in CometBFT's JSON encoding.
	SignedHeader json.RawMessage `json:"signed_header"`
	ValidatorSet json.RawMessage `json:"validator_set"`
}

// ReceiptFromResponse builds a receipt from GetReceipt's answer. The
// response must hold a ballot (a membership proof).
func ReceiptFromResponse(initiative string, voter []byte, r *tabellav1.GetReceiptResponse) (*Receipt, error) {
	if r.Ballot == nil || len(r.Ballot.Value) == 0 {
		return nil, errors.New("the node has no ballot from this voter in this initiative")
	}
	var rec tabellav1.BallotRecord
	if err := proto.Unmarshal(r.Ballot.Value, &rec); err != nil {
		return nil, fmt.Errorf("ballot record: %w", err)
	}
	sh, vals, err := decodeHeader(r.SignedHeader, r.ValidatorSet)
	if err != nil {
		return nil, err
	}
	shJSON, err := cmtjson.Marshal(sh)
	if err != nil {
		return nil, err
	}
	valsJSON, err := cmtjson.Marshal(vals)
	if err != nil {
		return nil, err
	}
	return &Receipt{
		Version:      ReceiptVersion,
		ChainID:      r.ChainId,
		InitiativeID: initiative,
		Voter:        voter,
		BallotHash:   rec.BallotHash,
		Sequence:     rec.Sequence,
		BallotHeight: rec.Height,
		Height:       r.Height,
		Key:          r.Ballot.Key,
		Value:        r.Ballot.Value,
		Proof:        r.Ballot.Proof,
		SignedHeader: shJSON,
		ValidatorSet: valsJSON,
	}, nil
}

func decodeHeader(shb, valsb []byte) (*cmttypes.SignedHeader, *cmttypes.ValidatorSet, error) {
	var shp cmtproto.SignedHeader
	if err := shp.Unmarshal(shb); err != nil {
		return nil, nil, fmt.Errorf("signed header: %w", err)
	}
	sh, err := cmttypes.SignedHeaderFromProto(&shp)
	if err != nil {
		return nil, nil, fmt.Errorf("signed header: %w", err)
	}
	var vp cmtproto.ValidatorSet
	if err := vp.Unmarshal(valsb); err != nil {
		return nil, nil, fmt.Errorf("validator set: %w", err)
	}
	vals, err := cmttypes.ValidatorSetFromProto(&vp)
	if err != nil {
		return nil, nil, fmt.Errorf("validator set: %w", err)
	}
	return sh, vals, nil
}

// Save writes the receipt as indented JSON.
func (r *Receipt) Save(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// LoadReceipt reads a receipt file.
func LoadReceipt(path string) (*Receipt, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Receipt
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, &VerifyError{Check: "format", Err: fmt.Errorf("%s is not a receipt: %w", path, err)}
	}
	return &r, nil
}

// VerifyError names the check that failed.
type VerifyError struct {
	Check string
	Err   error
}

func (e *VerifyError) Error() string { return e.Check + ": " + e.Err.Error() }
func (e *VerifyError) Unwrap() error { return e.Err }

func fail(check string, format string, args ...any) error {
	return &VerifyError{Check: check, Err: fmt.Errorf(format, args...)}
}

// TrustRoot is what a verifier trusts without asking any node: the chain
// id and a validator set (genesis's, or that of a header it trusts).
type TrustRoot struct {
	ChainID    string
	Validators *cmttypes.ValidatorSet
}

// TrustFromGenesis reads genesis.json and trusts its validators.
func TrustFromGenesis(path string) (*TrustRoot, error) {
	doc, err := cmttypes.GenesisDocFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	vals := make([]*cmttypes.Validator, len(doc.Validators))
	for i, v := range doc.Validators {
		vals[i] = cmttypes.NewValidator(v.PubKey, v.Power)
	}
	return &TrustRoot{ChainID: doc.ChainID, Validators: cmttypes.NewValidatorSet(vals)}, nil
}

// VerifyHeader checks that sh is a header of chainID signed by more than
// two thirds of vals, and that vals is trusted: either it is the trusted
// set itself, or more than a third of the trusted set's power also signed
// (CometBFT's light-client rule for skipping across validator changes).
func VerifyHeader(trust *TrustRoot, sh *cmttypes.SignedHeader, vals *cmttypes.ValidatorSet) error {
	if sh.Header == nil || sh.Commit == nil {
		return fail("header", "the signed header is empty")
	}
	if sh.ChainID != trust.ChainID {
		return fail("chain id", "header is from chain %q, the trusted chain is %q", sh.ChainID, trust.ChainID)
	}
	if err := sh.ValidateBasic(trust.ChainID); err != nil {
		return fail("header", "the commit does not belong to this header (was the header altered?): %v", err)
	}
	if !bytes.Equal(vals.Hash(), sh.ValidatorsHash) {
		return fail("validator set", "the validator set does not match the header's validators hash")
	}
	if err := vals.VerifyCommitLightAllSignatures(trust.ChainID, sh.Commit.BlockID, sh.Height, sh.Commit); err != nil {
		var low cmttypes.ErrNotEnoughVotingPowerSigned
		if errors.As(err, &low) {
			return fail("commit", "validators holding %d power signed header %d; more than %d (two thirds) is needed", low.Got, sh.Height, low.Needed)
		}
		return fail("commit", "the commit of header %d does not verify: %v", sh.Height, err)
	}
	if bytes.Equal(trust.Validators.Hash(), vals.Hash()) {
		return nil
	}
	if err := trust.Validators.VerifyCommitLightTrusting(trust.ChainID, sh.Commit, cmtmath.Fraction{Numerator: 1, Denominator: 3}); err != nil {
		return fail("trust", "header %d is signed by a validator set that the trusted validators do not vouch for (less than a third of them signed); verify online from a more recent trusted header: %v", sh.Height, err)
	}
	return nil
}

// VerifyProof checks an ICS23 proof of key against appHash: membership of
// value when value is non-empty, absence otherwise.
func VerifyProof(appHash, key, value, proofBytes []byte) error {
	var p ics23.CommitmentProof
	if err := p.Unmarshal(proofBytes); err != nil {
		return fail("proof", "the proof does not decode: %v", err)
	}
	if len(value) == 0 {
		if p.GetNonexist() == nil || !ics23.VerifyNonMembership(ics23.IavlSpec, appHash, &p, key) {
			return fail("proof", "the absence proof does not verify against app hash %X", appHash)
		}
		return nil
	}
	if p.GetExist() == nil {
		return fail("proof", "the proof is not a membership proof")
	}
	root, err := p.Calculate()
	if err != nil {
		return fail("proof", "the proof is malformed: %v", err)
	}
	if !bytes.Equal(root, appHash) {
		return fail("app hash", "the proof leads to root %X, but the signed header commits to app hash %X", root, appHash)
	}
	if !ics23.VerifyMembership(ics23.IavlSpec, appHash, &p, key, value) {
		return fail("proof", "the proof does not prove this key and value (was the value altered?)")
	}
	return nil
}

// VerifyBallotRecord checks a stored ballot is the voter's, signed by the
// voter, and hashes to ballotHash.
func VerifyBallotRecord(chainID, initiative string, voter, ballotHash, value []byte) (*tabellav1.BallotRecord, error) {
	var rec tabellav1.BallotRecord
	if err := proto.Unmarshal(value, &rec); err != nil {
		return nil, fail("ballot", "the recorded value is not a ballot: %v", err)
	}
	if err := VerifyBallot(chainID, initiative, voter, ballotHash, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// VerifyBallot checks a decoded ballot record: the voter's, signed by the
// voter over exactly the recorded selections, hashing to ballotHash (when
// given).
func VerifyBallot(chainID, initiative string, voter, ballotHash []byte, rec *tabellav1.BallotRecord) error {
	if rec.InitiativeId != initiative || !bytes.Equal(rec.Voter, voter) {
		return fail("ballot", "the recorded ballot belongs to %s/%x, not %s/%x", rec.InitiativeId, rec.Voter, initiative, voter)
	}
	if !bytes.Equal(ledger.TxHash(rec.Tx), rec.BallotHash) {
		return fail("ballot", "the recorded ballot's hash does not match its signed content")
	}
	if ballotHash != nil && !bytes.Equal(rec.BallotHash, ballotHash) {
		return fail("ballot", "the recorded ballot is %X, the receipt's ballot is %X", rec.BallotHash, ballotHash)
	}
	d, err := ledger.DecodeTx(chainID, rec.Tx)
	if err != nil {
		return fail("ballot signature", "the recorded ballot does not carry a valid voter signature: %v", err)
	}
	if rec.Withdrawn {
		// A withdrawal record carries the voter's signed WithdrawBallot.
		wb := d.Body.GetWithdrawBallot()
		if wb == nil || !bytes.Equal(d.Signer, voter) || wb.InitiativeId != initiative || wb.Sequence != rec.Sequence || len(rec.Selections) != 0 {
			return fail("ballot signature", "the recorded withdrawal is not the voter's signed withdrawal")
		}
		return nil
	}
	cb := d.Body.GetCastBallot()
	if cb == nil || !bytes.Equal(d.Signer, voter) || cb.InitiativeId != initiative || cb.Sequence != rec.Sequence || !equalU32(cb.Selections, rec.Selections) {
		return fail("ballot signature", "the signed ballot does not match the recorded selections")
	}
	return nil
}

func equalU32(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Verdict is the outcome of a receipt verification.
type Verdict struct {
	Ballot *tabellav1.BallotRecord
	Header *cmttypes.SignedHeader
}

// VerifyOffline checks a receipt against a trust root with no network: the
// header's commit, the app hash, the proof, the ballot and its signature.
func (r *Receipt) VerifyOffline(trust *TrustRoot) (*Verdict, error) {
	if r.Version != ReceiptVersion {
		return nil, fail("format", "receipt version %q, this tool reads %q", r.Version, ReceiptVersion)
	}
	if r.ChainID != trust.ChainID {
		return nil, fail("chain id", "the receipt is for chain %q, the trusted chain is %q", r.ChainID, trust.ChainID)
	}
	var sh cmttypes.SignedHeader
	if err := cmtjson.Unmarshal(r.SignedHeader, &sh); err != nil {
		return nil, fail("header", "signed header does not decode: %v", err)
	}
	var vals cmttypes.ValidatorSet
	if err := cmtjson.Unmarshal(r.ValidatorSet, &vals); err != nil {
		return nil, fail("validator set", "validator set does not decode: %v", err)
	}
	if sh.Header != nil && sh.Height != r.Height+1 {
		return nil, fail("header", "the receipt proves height %d, which needs header %d, not %d", r.Height, r.Height+1, sh.Height)
	}
	if err := VerifyHeader(trust, &sh, &vals); err != nil {
		return nil, err
	}
	if !bytes.Equal(r.Key, ledger.BallotKey(r.InitiativeID, r.Voter)) {
		return nil, fail("proof", "the proven key is not this voter's ballot key")
	}
	if len(r.Value) == 0 {
		return nil, fail("proof", "the receipt holds no ballot")
	}
	if err := VerifyProof(sh.AppHash, r.Key, r.Value, r.Proof); err != nil {
		return nil, err
	}
	rec, err := VerifyBallotRecord(r.ChainID, r.InitiativeID, r.Voter, r.BallotHash, r.Value)
	if err != nil {
		return nil, err
	}
	if rec.Sequence != r.Sequence || rec.Height != r.BallotHeight {
		return nil, fail("ballot", "the receipt says sequence %d at height %d, the proven ballot is sequence %d at height %d", r.Sequence, r.BallotHeight, rec.Sequence, rec.Height)
	}
	return &Verdict{Ballot: rec, Header: &sh}, nil
}
