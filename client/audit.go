package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
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
	// GenesisFile is the trusted genesis.json. Empty: take the node's
	// (then the audit proves the chain is consistent with that genesis,
	// not that it is the right one: compare its hash with the published
	// one).
	GenesisFile string
	// ToHeight stops the audit early; 0 audits to the node's tip.
	ToHeight int64
	// Progress, if set, is called after each block.
	Progress func(height, tip int64, ballots int64)
	// Fetchers is how many blocks are fetched ahead in parallel.
	Fetchers int
}

// AuditReport is the outcome of a clean audit.
type AuditReport struct {
	ChainID string
	// GenesisHash is SHA-256 of the genesis file's bytes (of the node's
	// /genesis JSON when no file was given).
	GenesisHash []byte
	// First and Heights bound the re-executed heights whose app hash the
	// next header confirmed; Latest is the node's tip, re-executed too and
	// compared with the state the node serves.
	First    int64
	Heights  int64
	Latest   int64
	Txs      int64
	Ballots  int64
	Rejected int64
	// SealedBallots and DecryptionShares count the accepted sealed
	// ballots and decryption shares: re-execution verified each one's
	// zero-knowledge proofs (ballot validity, DLEQ) from scratch, as it
	// did every deal and upheld complaint of the key ceremonies.
	SealedBallots    int64
	DecryptionShares int64
	Deals            int64
	Complaints       int64
	Duration         time.Duration
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
	var gen *cmttypes.GenesisDoc
	var genBytes []byte
	if o.GenesisFile != "" {
		if genBytes, err = os.ReadFile(o.GenesisFile); err != nil {
			return nil, err
		}
		if gen, err = cmttypes.GenesisDocFromJSON(genBytes); err != nil {
			return nil, fmt.Errorf("genesis %s: %w", o.GenesisFile, err)
		}
	} else {
		g, err := rpc.Genesis(ctx)
		if err != nil {
			return nil, fmt.Errorf("fetch genesis: %w", err)
		}
		gen = g.Genesis
		if genBytes, err = cmtjson.Marshal(gen); err != nil {
			return nil, err
		}
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
	rep := &AuditReport{ChainID: gen.ChainID, Ledger: l, First: gen.InitialHeight, GenesisHash: ledger.TxHash(genBytes)}

	latest := tip + 1
	blocks := prefetch(ctx, rpc, gen.InitialHeight, latest, max(o.Fetchers, 8))
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
		if err := checkBlock(cur); err != nil {
			return nil, diverge(h, -1, "%v", err)
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
		res, err := l.FinalizeBlock(ledger.Block{Height: h, Time: blk.Time, Txs: blk.Txs.ToSliceOfBytes(), Hash: cur.BlockID.Hash})
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
		for i, tx := range blk.Txs {
			if res.TxResults[i].Code == ledger.CodeOK {
				rep.count(tx)
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
	// The tip's header carries the last verified app hash; its own commit
	// (not yet in any block) must be signed by the validators too.
	if err := checkBlock(cur); err != nil {
		return nil, diverge(latest, -1, "%v", err)
	}
	if !bytes.Equal(cur.Block.ValidatorsHash, vals.Hash()) {
		return nil, diverge(latest, -1, "header names validators %X, re-execution gives %X", cur.Block.ValidatorsHash, vals.Hash())
	}
	sc, err := rpc.Commit(ctx, &latest)
	if err != nil {
		return nil, fmt.Errorf("fetch the commit of height %d: %w", latest, err)
	}
	if !bytes.Equal(sc.SignedHeader.Hash(), cur.BlockID.Hash) {
		return nil, diverge(latest, -1, "the commit signs header %X, the node served %X", sc.SignedHeader.Hash(), cur.BlockID.Hash)
	}
	if err := vals.VerifyCommitLightAllSignatures(gen.ChainID, cur.BlockID, latest, sc.Commit); err != nil {
		return nil, diverge(latest, -1, "commit does not verify against the validator set: %v", err)
	}
	if err := checkServedState(ctx, rpc, l, tip); err != nil {
		return nil, err
	}
	// Re-execute the tip as well: its app hash is not signed yet, but the
	// node serves reads from it, and they must equal the re-executed state.
	if _, err := l.FinalizeBlock(ledger.Block{Height: latest, Time: cur.Block.Time, Txs: cur.Block.Txs.ToSliceOfBytes(), Hash: cur.BlockID.Hash}); err != nil {
		return nil, diverge(latest, -1, "re-execution failed: %v", err)
	}
	if _, err := l.Commit(); err != nil {
		return nil, err
	}
	if err := checkServedValues(ctx, rpc, l, latest); err != nil {
		return nil, err
	}
	rep.Latest = latest
	rep.Duration = time.Since(start)
	return rep, nil
}

// checkBlock checks a fetched block is well formed and is the block its
// block ID names: the commits verified against that ID then vouch for the
// header and, through its data hash, for the txs.
func checkBlock(b *coretypes.ResultBlock) error {
	if err := b.Block.ValidateBasic(); err != nil {
		return fmt.Errorf("block is malformed (data or commit hash mismatch): %v", err)
	}
	if !bytes.Equal(b.Block.Hash(), b.BlockID.Hash) {
		return fmt.Errorf("the node served header %X under block ID %X: the header was altered", b.Block.Hash(), b.BlockID.Hash)
	}
	return nil
}

// count classifies an accepted tx for the report.
func (r *AuditReport) count(tx []byte) {
	d, err := ledger.DecodeTxUnverified(tx)
	if err != nil {
		return
	}
	switch {
	case d.GetCastBallot() != nil:
		r.Ballots++
		if len(d.GetCastBallot().SealedBallot) > 0 {
			r.SealedBallots++
		}
	case d.GetDecryptionShare() != nil:
		r.DecryptionShares++
	case d.GetTrusteeDeal() != nil:
		r.Deals++
	case d.GetTrusteeComplaint() != nil:
		r.Complaints++
	}
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
	return checkServed(ctx, rpc, l, tip, true)
}

// checkServedValues compares the values the node serves at height (not
// yet signed, so without proofs) with the re-executed state. Reads of the
// latest state come from caches a tampered node could have altered.
func checkServedValues(ctx context.Context, rpc *rpchttp.HTTP, l *ledger.Ledger, height int64) error {
	return checkServed(ctx, rpc, l, height, false)
}

func checkServed(ctx context.Context, rpc *rpchttp.HTTP, l *ledger.Ledger, tip int64, prove bool) error {
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
			t, err := v.Tally(id)
			if err != nil {
				return err
			}
			keys = append(keys, ledger.InitiativeKey(id), ledger.HeaderKey(id), ledger.TallyKey(id))
			for i := range t.Counts {
				keys = append(keys, ledger.CountKey(id, uint32(i)))
				if in.Spec.Proposals != nil || in.Spec.Kind == tabellav1.InitiativeKind_INITIATIVE_KIND_BUDGET {
					keys = append(keys, ledger.OptionKey(id, uint32(i)))
				}
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
		res, err := rpc.ABCIQueryWithOptions(ctx, "/store", k, rpcclient.ABCIQueryOptions{Height: tip, Prove: prove})
		if err != nil {
			return fmt.Errorf("query %q at height %d: %w", k, tip, err)
		}
		if err := checkQuery(res, appHash, k, want, prove); err != nil {
			return diverge(tip, -1, "the node serves altered state for key %q: %v", k, err)
		}
	}
	return nil
}

func checkQuery(res *coretypes.ResultABCIQuery, appHash, key, want []byte, prove bool) error {
	r := res.Response
	if r.Code != 0 {
		return fmt.Errorf("query failed: %s", r.Log)
	}
	if !bytes.Equal(r.Value, want) {
		return fmt.Errorf("value %x, re-execution has %x", r.Value, want)
	}
	if !prove {
		return nil
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
