package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// Chain reads signed headers from CometBFT's block store.
type Chain interface {
	// SignedHeader returns header h with a commit for it and the
	// validator set that signed it.
	SignedHeader(ctx context.Context, height int64) (*cmttypes.SignedHeader, *cmttypes.ValidatorSet, error)
	// Height is the latest block in the block store.
	Height() int64
}

// MaxReceiptCounts caps the per-option count proofs in a receipt; larger
// initiatives are proven through GetTally-style queries instead.
const MaxReceiptCounts = 256

// GetReceipt proves a voter's ballot (or its absence) at a state version
// whose app hash is already in a signed header.
func (s *Service) GetReceipt(ctx context.Context, req *tabellav1.GetReceiptRequest) (*tabellav1.GetReceiptResponse, error) {
	if s.chain == nil {
		return nil, status.Error(codes.Unimplemented, "this server has no access to block headers")
	}
	if len(req.Voter) != ed25519.PublicKeySize {
		return nil, StatusFromCode(ledger.CodeInvalidField, fmt.Sprintf("voter must be a %d-byte ed25519 public key", ed25519.PublicKeySize), nil)
	}
	height := req.Height
	if height == 0 {
		// The app hash of version v is in header v+1.
		height = min(s.ledger.LastHeight(), s.chain.Height()-1)
	}
	if height < 1 {
		return nil, status.Error(codes.Unavailable, "no signed state yet; try again after the first blocks")
	}
	if err := s.waitProvable(ctx, height); err != nil {
		return nil, err
	}
	v, err := s.view(height)
	if err != nil {
		return nil, err
	}
	in, err := v.Initiative(req.InitiativeId)
	if err != nil {
		return nil, internal(err)
	}
	if in == nil {
		return nil, StatusFromCode(ledger.CodeNotFound, fmt.Sprintf("initiative %q does not exist at height %d", req.InitiativeId, height), nil)
	}
	resp := &tabellav1.GetReceiptResponse{ChainId: s.ledger.ChainID(), Height: height}
	prove := func(key []byte) (*tabellav1.ProvenValue, error) {
		val, proof, err := v.Prove(key)
		if err != nil {
			return nil, internal(err)
		}
		pb, err := proof.Marshal()
		if err != nil {
			return nil, internal(err)
		}
		return &tabellav1.ProvenValue{Key: key, Value: val, Proof: pb}, nil
	}
	if resp.Ballot, err = prove(ledger.BallotKey(req.InitiativeId, req.Voter)); err != nil {
		return nil, err
	}
	if resp.Initiative, err = prove(ledger.InitiativeKey(req.InitiativeId)); err != nil {
		return nil, err
	}
	if resp.Tally, err = prove(ledger.TallyKey(req.InitiativeId)); err != nil {
		return nil, err
	}
	if n := len(in.Spec.Options); n <= MaxReceiptCounts && !ledger.CountsHidden(in) {
		for i := 0; i < n; i++ {
			c, err := prove(ledger.CountKey(req.InitiativeId, uint32(i)))
			if err != nil {
				return nil, err
			}
			resp.Counts = append(resp.Counts, c)
		}
	}
	sh, vals, err := s.chain.SignedHeader(ctx, height+1)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "signed header %d: %v", height+1, err)
	}
	shp := sh.ToProto()
	if resp.SignedHeader, err = shp.Marshal(); err != nil {
		return nil, internal(err)
	}
	vp, err := vals.ToProto()
	if err != nil {
		return nil, internal(err)
	}
	if resp.ValidatorSet, err = vp.Marshal(); err != nil {
		return nil, internal(err)
	}
	return resp, nil
}

// waitProvable waits until header height+1 is signed and stored.
func (s *Service) waitProvable(ctx context.Context, height int64) error {
	if _, ok := ctx.Deadline(); !ok {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, s.WaitTimeout)
		defer stop()
	}
	heights, cancel := s.events.WatchHeights()
	defer cancel()
	for s.ledger.LastHeight() < height+1 || s.chain.Height() < height+1 {
		if s.ledger.LastHeight() < height-1_000 {
			return status.Errorf(codes.OutOfRange, "height %d is far beyond the latest height %d", height, s.ledger.LastHeight())
		}
		select {
		case <-heights:
		case <-time.After(time.Second):
		case <-ctx.Done():
			return status.Errorf(codes.DeadlineExceeded, "height %d is not provable yet (latest %d)", height, s.ledger.LastHeight())
		}
	}
	return nil
}

// WatchTx streams a tx's stages until it is provable or rejected.
func (s *Service) WatchTx(req *tabellav1.WatchTxRequest, stream tabellav1.TabellaService_WatchTxServer) error {
	ctx := stream.Context()
	if len(req.TxHash) != 32 {
		return StatusFromCode(ledger.CodeInvalidField, "tx_hash must be the 32-byte SHA-256 of the tx", nil)
	}
	if _, ok := ctx.Deadline(); !ok {
		// A hash nobody submits would hold the stream forever.
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, 10*s.WaitTimeout)
		defer stop()
	}
	committed, cancel := s.events.WaitTx(req.TxHash)
	defer cancel()
	o, err := s.awaitCommit(ctx, req.TxHash, committed, true)
	if err != nil {
		return err
	}
	if o.Code != ledger.CodeOK {
		return stream.Send(&tabellav1.WatchTxResponse{Stage: tabellav1.TxStage_TX_STAGE_REJECTED, Height: o.Height, Code: uint32(o.Code), Log: o.Log})
	}
	if err := stream.Send(&tabellav1.WatchTxResponse{Stage: tabellav1.TxStage_TX_STAGE_COMMITTED, Height: o.Height}); err != nil {
		return err
	}
	if s.chain != nil {
		if err := s.waitProvable(ctx, o.Height); err != nil {
			return err
		}
	}
	return stream.Send(&tabellav1.WatchTxResponse{Stage: tabellav1.TxStage_TX_STAGE_PROVABLE, Height: o.Height})
}

// WatchInitiative streams the tally whenever it changes.
func (s *Service) WatchInitiative(req *tabellav1.WatchInitiativeRequest, stream tabellav1.TabellaService_WatchInitiativeServer) error {
	ctx := stream.Context()
	heights, cancel := s.events.WatchHeights()
	defer cancel()
	var last *tabellav1.WatchInitiativeResponse
	for {
		res, err := s.GetTally(ctx, &tabellav1.GetTallyRequest{InitiativeId: req.InitiativeId})
		if err != nil {
			return err
		}
		cur := &tabellav1.WatchInitiativeResponse{Tally: res.Tally, Status: res.Status, Result: res.Result, Height: res.Height}
		if last == nil || last.Tally.Height != cur.Tally.Height || last.Status != cur.Status {
			if err := stream.Send(cur); err != nil {
				return err
			}
			last = cur
		}
		select {
		case <-heights:
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return nil
			}
			return ctx.Err()
		}
	}
}
