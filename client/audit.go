package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	coretypes "github.com/cometbft/cometbft/rpc/core/types"
	cmttypes "github.com/cometbft/cometbft/types"
	idb "github.com/cosmos/iavl/db"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// AuditOptions configure a full-chain audit.
type AuditOptions struct {
	// RPC is the CometBFT RPC address of the audited node.
	RPC string
	// Genesis is the trusted genesis. Nil: take the node's (then the audit
	// proves the chain is consistent with that genesis, not that it is the
	// right one: compare its hash with the published one).
	Genesis *cmttypes.GenesisDoc
	// ToHeight stops the audit early; 0 audits to the node's tip.
	ToHeight int64
	// Progress, if set, is called after each block.
	Progress func(height, tip int64, ballots int64)
	// Fetchers is how many blocks are fetched ahead in parallel.
	Fetchers int
}

// AuditReport is the outcome of a clean audit.
type AuditReport struct {
	ChainID     string
	GenesisHash []byte
	Heights     int64
	Txs         int64
	Ballots     int64
	Rejected    int64
	Duration    time.Duration
	// AppHash is the re-executed app hash at Heights, equal to the one in
	// header Heights+1.
	AppHash []byte
	// Ledger is the re-executed state, for exports and reports.
	Ledger *ledger.Ledger
}

// Divergence is an audit failure at a height (and tx, when known).
type Divergence struct {
	Height  int64
	TxIndex int // -1 when no single tx is to blame
	What    string
}

func (d *Divergence) Error() string {
	if d.TxIndex >= 0 {
		return fmt.Sprintf("divergence at height %d, tx %d: %s", d.Height, d.TxIndex, d.What)
	}
	return fmt.Sprintf("divergence at height %d: %s", d.Height, d.What)
}

func diverge(h int64, tx int, format string, args ...any) error {
	return &Divergence{Height: h, TxIndex: tx, What: fmt.Sprintf(format, args...)}
}

// Audit fetches every block and commit from genesis, verifies each commit
// against the validator set as re-execution evolves it, re-executes every
// tx in a fresh in-memory ledger, and compares the app hash and the tx
// results at every height. Finally it checks that the state the node serves
// matches the re-executed state.
func Audit(ctx context.Context, o AuditOptions) (*AuditReport, error) {
	start := time.Now()
	rpc, err := rpchttp.New(normalizeRPC(o.RPC), "/websocket")
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", o.RPC, err)
	}
	gen := o.Genesis
	if gen == nil {
		g, err := rpc.Genesis(ctx)
		if err != nil {
			return nil, fmt.Errorf("fetch genesis: %w", err)
		}
		gen = g.Genesis
	}
	if err := gen.ValidateAndComplete(); err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	var appState tabellav1.Genesis
	if err := protojson.Unmarshal(gen.AppState, &appState); err != nil {
		return nil, fmt.Errorf("genesis app_state: %w", err)
	}
	status, err := rpc.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("node status: %w", err)
	}
	if status.NodeInfo.Network != gen.ChainID {
		return nil, fmt.Errorf("the node runs chain %q, the genesis is for %q", status.NodeInfo.Network, gen.ChainID)
	}
	// The app hash after block h is in header h+1: audit to the tip - 1.
	tip := status.SyncInfo.LatestBlockHeight - 1
	if o.ToHeight > 0 && o.ToHeight < tip {
		tip = o.ToHeight
	}
	if tip < gen.InitialHeight {
		return nil, errors.New("the chain has no audited height yet; wait for a few blocks")
	}

	l, err := ledger.Open(idb.NewMemDB(), ledger.Options{CacheSize: 500_000})
	if err != nil {
		return nil, err
	}
	initVals, appHash, err := l.InitChain(gen.ChainID, gen.InitialHeight, gen.GenesisTime, &appState)
	if err != nil {
		return nil, diverge(gen.InitialHeight, -1, "genesis does not initialise: %v", err)
	}
	vals, err := validatorSet(nil, initVals)
	if err != nil {
		return nil, err
	}
	nextVals := vals.Copy()
	rep := &AuditReport{ChainID: gen.ChainID, Ledger: l}
	if rep.GenesisHash, err = genesisHash(gen); err != nil {
		return nil, err
	}

	blocks := prefetch(ctx, rpc, gen.InitialHeight, tip+1, max(o.Fetchers, 8))
	cur, err := (<-blocks).get()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(cur.Block.AppHash, appHash) {
		return nil, diverge(gen.InitialHeight, -1, "header carries app hash %X, genesis gives %X", cur.Block.AppHash, appHash)
	}
	for h := gen.InitialHeight; h <= tip; h++ {
		next, err := (<-blocks).get()
		if err != nil {
			return nil, err
		}
		blk := cur.Block
		if err := blk.ValidateBasic(); err != nil {
			return nil, diverge(h, -1, "block is malformed (data or commit hash mismatch): %v", err)
		}
		if blk.ChainID != gen.ChainID || blk.Height != h {
			return nil, diverge(h, -1, "block is for chain %q height %d", blk.ChainID, blk.Height)
		}
		if !bytes.Equal(blk.ValidatorsHash, vals.Hash()) {
			return nil, diverge(h, -1, "header names validators %X, re-execution gives %X", blk.ValidatorsHash, vals.Hash())
		}
		if !bytes.Equal(blk.NextValidatorsHash, nextVals.Hash()) {
			return nil, diverge(h, -1, "header names next validators %X, re-execution gives %X", blk.NextValidatorsHash, nextVals.Hash())
		}
		// Block h's commit travels in block h+1.
		commit := next.Block.LastCommit
		if err := vals.VerifyCommitLightAllSignatures(gen.ChainID, cur.BlockID, h, commit); err != nil {
			return nil, diverge(h, -1, "commit does not verify against the validator set: %v", err)
		}
		res, err := l.FinalizeBlock(ledger.Block{Height: h, Time: blk.Time, Txs: blk.Txs.ToSliceOfBytes()})
		if err != nil {
			return nil, diverge(h, -1, "re-execution failed: %v", err)
		}
		if _, err := l.Commit(); err != nil {
			return nil, err
		}
		results := make([]*abci.ExecTxResult, len(res.TxResults))
		for i, r := range res.TxResults {
			results[i] = &abci.ExecTxResult{Code: uint32(r.Code)}
			rep.Txs++
			if r.Code != ledger.CodeOK {
				rep.Rejected++
			}
		}
		for _, tx := range blk.Txs {
			if isBallot(tx) {
				rep.Ballots++
			}
		}
		if !bytes.Equal(next.Block.LastResultsHash, cmttypes.NewResults(results).Hash()) {
			return nil, firstResultDivergence(ctx, rpc, h, res)
		}
		if !bytes.Equal(next.Block.AppHash, res.AppHash) {
			return nil, diverge(h, -1, "header %d carries app hash %X, re-execution gives %X", h+1, next.Block.AppHash, res.AppHash)
		}
		after, err := validatorSet(nextVals, res.ValidatorUpdates)
		if err != nil {
			return nil, diverge(h, -1, "validator updates: %v", err)
		}
		vals, nextVals = nextVals, after
		rep.Heights, rep.AppHash = h, res.AppHash
		if o.Progress != nil {
			o.Progress(h, tip, rep.Ballots)
		}
		cur = next
	}
	if err := checkServedState(ctx, rpc, l, tip); err != nil {
		return nil, err
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

func isBallot(tx []byte) bool {
	d, err := ledger.DecodeTxUnverified(tx)
	return err == nil && d.GetCastBallot() != nil
}

// validatorSet applies ledger validator updates to base (nil: a new set).
func validatorSet(base *cmttypes.ValidatorSet, updates []ledger.ValidatorUpdate) (*cmttypes.ValidatorSet, error) {
	changes := make([]*cmttypes.Validator, len(updates))
	for i, u := range updates {
		changes[i] = cmttypes.NewValidator(cmted25519.PubKey(u.PubKey), u.Power)
	}
	if base == nil {
		return cmttypes.NewValidatorSet(changes), nil
	}
	set := base.Copy()
	if len(changes) == 0 {
		return set, nil
	}
	// The proposer rotation does not enter any hash we compare.
	if err := set.UpdateWithChangeSet(changes); err != nil {
		return nil, err
	}
	return set, nil
}

func genesisHash(gen *cmttypes.GenesisDoc) ([]byte, error) {
	b, err := cmtjson.Marshal(gen)
	if err != nil {
		return nil, err
	}
	return ledger.TxHash(b), nil
}

// firstResultDivergence names the first tx whose result code differs
// from the node's.
func firstResultDivergence(ctx context.Context, rpc *rpchttp.HTTP, h int64, ours *ledger.BlockResult) error {
	theirs, err := rpc.BlockResults(ctx, &h)
	if err != nil {
		return diverge(h, -1, "tx results differ from the header's results hash (and the node's results could not be fetched: %v)", err)
	}
	for i, r := range ours.TxResults {
		if i >= len(theirs.TxsResults) {
			break
		}
		if uint32(r.Code) != theirs.TxsResults[i].Code {
			return diverge(h, i, "the chain recorded result code %d, re-execution gives %d (%s: %s)", theirs.TxsResults[i].Code, r.Code, r.Code, r.Log)
		}
	}
	return diverge(h, -1, "tx results differ from the header's results hash")
}

// checkServedState compares, for every initiative, the records the node
// serves at the audited tip with the re-executed state, verifying the
// node's proofs against the audited app hash. A node whose database was
// altered after the fact serves values that fail here.
func checkServedState(ctx context.Context, rpc *rpchttp.HTTP, l *ledger.Ledger, tip int64) error {
	v, err := l.View(tip)
	if err != nil {
		return err
	}
	appHash := v.AppHash()
	var keys [][]byte
	var token string
	for {
		list, next, err := v.Initiatives(0, token, 500)
		if err != nil {
			return err
		}
		for _, in := range list {
			id := in.Spec.Id
			keys = append(keys, ledger.InitiativeKey(id), ledger.TallyKey(id))
			for i := range in.Spec.Options {
				keys = append(keys, ledger.CountKey(id, uint32(i)))
			}
		}
		if next == "" {
			break
		}
		token = next
	}
	for _, k := range keys {
		want, err := v.Get(k)
		if err != nil {
			return err
		}
		res, err := rpc.ABCIQueryWithOptions(ctx, "/store", k, rpcclient.ABCIQueryOptions{Height: tip, Prove: true})
		if err != nil {
			return fmt.Errorf("query %q at height %d: %w", k, tip, err)
		}
		if err := checkQuery(res, appHash, k, want); err != nil {
			return diverge(tip, -1, "the node serves altered state for key %q: %v", k, err)
		}
	}
	return nil
}

func checkQuery(res *coretypes.ResultABCIQuery, appHash, key, want []byte) error {
	r := res.Response
	if r.Code != 0 {
		return fmt.Errorf("query failed: %s", r.Log)
	}
	if !bytes.Equal(r.Value, want) {
		return fmt.Errorf("value %x, re-execution has %x", r.Value, want)
	}
	if r.ProofOps == nil || len(r.ProofOps.Ops) != 1 {
		return errors.New("no proof")
	}
	if err := VerifyProof(appHash, key, r.Value, r.ProofOps.Ops[0].Data); err != nil {
		return err
	}
	return nil
}

// fetched is one prefetched block or the error fetching it.
type fetched struct {
	res *coretypes.ResultBlock
	err error
}

func (f fetched) get() (*coretypes.ResultBlock, error) {
	if f.res == nil && f.err == nil {
		return nil, errors.New("block fetching stopped")
	}
	return f.res, f.err
}

// prefetch fetches blocks from..to in order, up to n in flight.
func prefetch(ctx context.Context, rpc *rpchttp.HTTP, from, to int64, n int) <-chan fetched {
	out := make(chan fetched, n)
	slots := make(chan chan fetched, n)
	go func() {
		defer close(slots)
		for h := from; h <= to; h++ {
			ch := make(chan fetched, 1)
			select {
			case slots <- ch:
			case <-ctx.Done():
				return
			}
			go func(h int64) {
				var last error
				for attempt := 0; attempt < 5; attempt++ {
					b, err := rpc.Block(ctx, &h)
					if err == nil {
						ch <- fetched{res: b}
						return
					}
					last = err
					time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
				}
				ch <- fetched{err: fmt.Errorf("fetch block %d: %w", h, last)}
			}(h)
		}
	}()
	go func() {
		defer close(out)
		for ch := range slots {
			select {
			case out <- <-ch:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
