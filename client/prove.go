package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	cmttypes "github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/proto"

	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// ProvenState is a voter's ballot (or its absence), the initiative and its
// tally, all proven against one light-verified header.
type ProvenState struct {
	Height     int64
	Header     *cmttypes.SignedHeader
	Ballot     *tabellav1.BallotRecord // nil: no ballot from this voter
	Initiative *tabellav1.Initiative
	Tally      *tabellav1.Tally // counts filled when the node sent them
}

// ProveState asks the node for fresh proof material at its latest provable
// height and checks every piece against a header verified by the light
// client. A node that lies about any of it fails here.
func ProveState(ctx context.Context, c *Client, lv *LightVerifier, chainID, initiative string, voter []byte) (*ProvenState, error) {
	r, err := c.GetReceipt(ctx, &tabellav1.GetReceiptRequest{InitiativeId: initiative, Voter: voter})
	if err != nil {
		return nil, fmt.Errorf("fetch proof: %s", Describe(err))
	}
	if r.ChainId != chainID {
		return nil, fail("chain id", "the node serves chain %q, not %q", r.ChainId, chainID)
	}
	sh, _, err := decodeHeader(r.SignedHeader, r.ValidatorSet)
	if err != nil {
		return nil, fail("header", "%v", err)
	}
	if sh.Height != r.Height+1 {
		return nil, fail("header", "the node proved height %d with header %d", r.Height, sh.Height)
	}
	if err := lv.Matches(ctx, sh); err != nil {
		return nil, err
	}
	ps := &ProvenState{Height: r.Height, Header: sh}
	check := func(what string, pv *tabellav1.ProvenValue, wantKey []byte) error {
		if pv == nil || !bytes.Equal(pv.Key, wantKey) {
			return fail("proof", "the node did not prove the %s key", what)
		}
		if err := VerifyProof(sh.AppHash, pv.Key, pv.Value, pv.Proof); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	if err := check("ballot", r.Ballot, ledger.BallotKey(initiative, voter)); err != nil {
		return nil, err
	}
	if len(r.Ballot.Value) > 0 {
		if ps.Ballot, err = VerifyBallotRecord(chainID, initiative, voter, nil, r.Ballot.Value); err != nil {
			return nil, err
		}
	}
	if err := check("initiative", r.Initiative, ledger.InitiativeKey(initiative)); err != nil {
		return nil, err
	}
	if len(r.Initiative.Value) == 0 {
		return ps, nil
	}
	ps.Initiative = &tabellav1.Initiative{}
	if err := proto.Unmarshal(r.Initiative.Value, ps.Initiative); err != nil {
		return nil, fail("initiative", "does not decode: %v", err)
	}
	if err := check("tally", r.Tally, ledger.TallyKey(initiative)); err != nil {
		return nil, err
	}
	ps.Tally = &tabellav1.Tally{}
	if err := proto.Unmarshal(r.Tally.Value, ps.Tally); err != nil {
		return nil, fail("tally", "does not decode: %v", err)
	}
	// The stored record lists the options of a consultation; the tally
	// counts the options of every kind (approved proposals included).
	if n := len(r.Counts); n > 0 && (n == len(ps.Initiative.Spec.Options) || n == int(ps.Tally.OptionCount)) {
		ps.Tally.Counts = make([]uint64, len(r.Counts))
		for i, pv := range r.Counts {
			if err := check(fmt.Sprintf("count of option %d", i), pv, ledger.CountKey(initiative, uint32(i))); err != nil {
				return nil, err
			}
			if len(pv.Value) == 8 {
				ps.Tally.Counts[i] = binary.BigEndian.Uint64(pv.Value)
			}
		}
	}
	return ps, nil
}

// OnlineVerdict is the outcome of an online receipt verification.
type OnlineVerdict struct {
	Offline *Verdict
	Now     *ProvenState
	// Live: the receipt's ballot is still the voter's live ballot.
	Live bool
}

// VerifyOnline checks a receipt with the light client instead of trusting
// the receipt's validator set alone, then proves at the latest height that
// the ballot is still the live one, with the initiative's tally.
func VerifyOnline(ctx context.Context, r *Receipt, c *Client, lv *LightVerifier, trust *TrustRoot) (*OnlineVerdict, error) {
	v, err := r.VerifyOffline(trust)
	if err != nil {
		// A header signed by a set the trust root cannot vouch for
		// directly may still verify through the light client.
		ve, ok := err.(*VerifyError)
		if !ok || ve.Check != "trust" {
			return nil, err
		}
		relaxed := *trust
		var sh cmttypes.SignedHeader
		if err := cmtjson.Unmarshal(r.SignedHeader, &sh); err != nil {
			return nil, fail("header", "signed header does not decode: %v", err)
		}
		lb, err := lv.Header(ctx, sh.Height)
		if err != nil {
			return nil, err
		}
		relaxed.Validators = lb.ValidatorSet
		if v, err = r.VerifyOffline(&relaxed); err != nil {
			return nil, err
		}
	}
	if err := lv.Matches(ctx, v.Header); err != nil {
		return nil, err
	}
	now, err := ProveState(ctx, c, lv, r.ChainID, r.InitiativeID, r.Voter)
	if err != nil {
		return nil, err
	}
	out := &OnlineVerdict{Offline: v, Now: now}
	out.Live = now.Ballot != nil && bytes.Equal(now.Ballot.BallotHash, r.BallotHash)
	if now.Ballot == nil {
		return out, fail("ballot", "the ballot proven at height %d is absent at height %d: recorded ballots are never deleted, so the chain or the node is not the one the receipt came from", r.Height, now.Height)
	}
	if !out.Live && now.Ballot.Sequence < r.Sequence {
		return out, fail("ballot", "the live ballot at height %d has sequence %d, older than the receipt's %d", now.Height, now.Ballot.Sequence, r.Sequence)
	}
	return out, nil
}
