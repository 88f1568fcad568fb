// Package app adapts the ledger to CometBFT: the ABCI 2.0 application, the
// in-process node wiring and the gRPC service.
package app

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	"github.com/cometbft/cometbft/version"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// AppVersion is the application protocol version reported to CometBFT.
const AppVersion uint64 = 1

// Application is the ABCI application. Each ABCI connection serialises its
// own calls (clientCreator), so CheckTx, on the mempool's connection, runs
// beside FinalizeBlock, on consensus's; the ledger guards what they share.
type Application struct {
	abci.BaseApplication

	ledger    *ledger.Ledger
	log       *slog.Logger
	events    *CommitEvents
	snapshots *Snapshots // nil: no state sync
	metrics   *Metrics   // nil: no metrics

	// lastResults are the results of the block finalized but not yet
	// committed; Commit publishes them.
	mu          sync.Mutex
	lastResults []TxOutcome
}

var _ abci.Application = (*Application)(nil)

// NewApplication wraps a ledger.
func NewApplication(l *ledger.Ledger, log *slog.Logger) *Application {
	return &Application{ledger: l, log: log, events: NewCommitEvents()}
}

// Ledger returns the state machine (for in-process reads).
func (a *Application) Ledger() *ledger.Ledger { return a.ledger }

// Events returns the commit notifications.
func (a *Application) Events() *CommitEvents { return a.events }

// Info reports the last committed height and app hash, so CometBFT replays
// exactly the blocks the ledger has not committed.
func (a *Application) Info(context.Context, *abci.RequestInfo) (*abci.ResponseInfo, error) {
	height, hash, _ := a.ledger.LastCommit()
	return &abci.ResponseInfo{
		Data:             "tabella",
		Version:          version.ABCIVersion,
		AppVersion:       AppVersion,
		LastBlockHeight:  height,
		LastBlockAppHash: hash,
	}, nil
}

// InitChain loads the consortium from genesis app_state (protojson of
// tabella.v1.Genesis) and returns its validators.
func (a *Application) InitChain(_ context.Context, req *abci.RequestInitChain) (*abci.ResponseInitChain, error) {
	var g tabellav1.Genesis
	if err := protojson.Unmarshal(req.AppStateBytes, &g); err != nil {
		return nil, fmt.Errorf("genesis app_state is not a tabella.v1.Genesis: %w", err)
	}
	vals, hash, err := a.ledger.InitChain(req.ChainId, req.InitialHeight, req.Time, &g)
	if err != nil {
		return nil, err
	}
	a.log.Info("chain initialised", "chain_id", req.ChainId, "parties", len(g.Parties), "app_hash", hex.EncodeToString(hash))
	return &abci.ResponseInitChain{Validators: validatorUpdates(vals), AppHash: hash}, nil
}

func validatorUpdates(vals []ledger.ValidatorUpdate) []abci.ValidatorUpdate {
	out := make([]abci.ValidatorUpdate, len(vals))
	for i, v := range vals {
		out[i] = abci.ValidatorUpdate{
			PubKey: cmtcrypto.PublicKey{Sum: &cmtcrypto.PublicKey_Ed25519{Ed25519: v.PubKey}},
			Power:  v.Power,
		}
	}
	return out
}

// CheckTx runs the ledger's stateless and stateful checks.
func (a *Application) CheckTx(_ context.Context, req *abci.RequestCheckTx) (*abci.ResponseCheckTx, error) {
	start := time.Now()
	r := a.ledger.CheckTx(req.Tx)
	a.metrics.observeCheckTx(req.Tx, r, time.Since(start))
	resp := &abci.ResponseCheckTx{Code: uint32(r.Code), Log: r.Log}
	if r.Code != ledger.CodeOK {
		resp.Codespace = ledger.Codespace
	}
	return resp, nil
}

// FinalizeBlock executes the block in the ledger.
func (a *Application) FinalizeBlock(_ context.Context, req *abci.RequestFinalizeBlock) (*abci.ResponseFinalizeBlock, error) {
	start := time.Now()
	res, err := a.ledger.FinalizeBlock(ledger.Block{Height: req.Height, Time: req.Time, Txs: req.Txs, Hash: req.Hash})
	if err != nil {
		return nil, err
	}
	a.metrics.observeBlock(req.Txs, res, time.Since(start))
	resp := &abci.ResponseFinalizeBlock{
		TxResults:        make([]*abci.ExecTxResult, len(res.TxResults)),
		ValidatorUpdates: validatorUpdates(res.ValidatorUpdates),
		AppHash:          res.AppHash,
	}
	outcomes := make([]TxOutcome, len(res.TxResults))
	for i, r := range res.TxResults {
		resp.TxResults[i] = &abci.ExecTxResult{Code: uint32(r.Code), Log: r.Log}
		if r.Code != ledger.CodeOK {
			resp.TxResults[i].Codespace = ledger.Codespace
		}
		outcomes[i] = TxOutcome{Hash: r.Hash, Height: req.Height, Code: r.Code, Log: r.Log}
	}
	a.mu.Lock()
	a.lastResults = outcomes
	a.mu.Unlock()
	return resp, nil
}

// Commit persists the block and tells waiters their txs are committed.
// RetainHeight stays 0: auditors and light clients need every block.
func (a *Application) Commit(context.Context, *abci.RequestCommit) (*abci.ResponseCommit, error) {
	start := time.Now()
	a.mu.Lock()
	outcomes := a.lastResults
	a.lastResults = nil
	a.mu.Unlock()
	// The version is written while consensus moves on; waiters hear of
	// their txs once it is readable, so a receipt asked for at once is
	// found. A failed write stops the next FinalizeBlock, and the node.
	_, err := a.ledger.CommitAsync(func(h int64, err error) {
		if err != nil {
			a.log.Error("saving the committed state failed; the node stops at the next block", "height", h, "err", err)
			return
		}
		a.metrics.observeCommit(h, time.Since(start))
		a.events.publish(h, outcomes)
		if a.snapshots != nil {
			a.snapshots.MaybeTake(h, a.ledger.LastBlockTime().Unix())
		}
	})
	if err != nil {
		return nil, err
	}
	return &abci.ResponseCommit{}, nil
}

// SetMetrics enables the Prometheus metrics.
func (a *Application) SetMetrics(m *Metrics) { a.metrics = m }

// Metrics returns the metrics set by SetMetrics, or nil.
func (a *Application) Metrics() *Metrics { return a.metrics }

// SetSnapshots enables state-sync snapshots.
func (a *Application) SetSnapshots(s *Snapshots) { a.snapshots = s }

// ListSnapshots lists the snapshots this node can serve.
func (a *Application) ListSnapshots(context.Context, *abci.RequestListSnapshots) (*abci.ResponseListSnapshots, error) {
	if a.snapshots == nil {
		return &abci.ResponseListSnapshots{}, nil
	}
	return &abci.ResponseListSnapshots{Snapshots: a.snapshots.List()}, nil
}

// LoadSnapshotChunk serves one chunk of a snapshot.
func (a *Application) LoadSnapshotChunk(_ context.Context, req *abci.RequestLoadSnapshotChunk) (*abci.ResponseLoadSnapshotChunk, error) {
	if a.snapshots == nil {
		return &abci.ResponseLoadSnapshotChunk{}, nil
	}
	return &abci.ResponseLoadSnapshotChunk{Chunk: a.snapshots.LoadChunk(req.Height, req.Format, req.Chunk)}, nil
}

// OfferSnapshot decides whether to restore an offered snapshot.
func (a *Application) OfferSnapshot(_ context.Context, req *abci.RequestOfferSnapshot) (*abci.ResponseOfferSnapshot, error) {
	if a.snapshots == nil {
		return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_REJECT}, nil
	}
	return &abci.ResponseOfferSnapshot{Result: a.snapshots.Offer(req.Snapshot, req.AppHash)}, nil
}

// ApplySnapshotChunk restores a snapshot chunk by chunk.
func (a *Application) ApplySnapshotChunk(_ context.Context, req *abci.RequestApplySnapshotChunk) (*abci.ResponseApplySnapshotChunk, error) {
	if a.snapshots == nil {
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ABORT}, nil
	}
	return a.snapshots.ApplyChunk(req.Index, req.Chunk, req.Sender), nil
}

// Query serves raw state with ICS23 proofs. Path "/store" reads the key in
// Data at Height (0 = latest); with Prove set, ProofOps carries one
// "ics23:iavl" op whose Data is a serialized ics23.CommitmentProof against
// the app hash in header Height+1.
func (a *Application) Query(_ context.Context, req *abci.RequestQuery) (*abci.ResponseQuery, error) {
	if req.Path != "/store" {
		return &abci.ResponseQuery{Code: uint32(ledger.CodeNotFound), Codespace: ledger.Codespace, Log: fmt.Sprintf("unknown query path %q; use /store", req.Path)}, nil
	}
	v, err := a.ledger.View(req.Height)
	if err != nil {
		return &abci.ResponseQuery{Code: uint32(ledger.CodeNotFound), Codespace: ledger.Codespace, Log: err.Error()}, nil
	}
	resp := &abci.ResponseQuery{Key: req.Data, Height: v.Height}
	if !req.Prove {
		val, err := v.Get(req.Data)
		if err != nil {
			return nil, err
		}
		resp.Value = val
		return resp, nil
	}
	val, proof, err := v.Prove(req.Data)
	if err != nil {
		return nil, err
	}
	op, err := ProofOp(req.Data, proof)
	if err != nil {
		return nil, err
	}
	resp.Value = val
	resp.ProofOps = op
	return resp, nil
}
