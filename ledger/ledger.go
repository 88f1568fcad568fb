// Package ledger is Tabella's deterministic state machine: domain rules,
// validation, tallying and the state layout over one IAVL tree. It knows
// nothing of networking or CometBFT; the app package adapts it to ABCI.
//
// The life of a block is FinalizeBlock (execute, return the working app
// hash) followed by Commit (persist the IAVL version equal to the height).
// CheckTx validates mempool candidates against the last committed state plus
// what the mempool already holds. Reads go through a View of a committed,
// immutable version.
package ledger

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corestore "cosmossdk.io/core/store"
	"github.com/cosmos/iavl"
	idb "github.com/cosmos/iavl/db"
	"google.golang.org/protobuf/proto"

	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// Options tune the ledger's storage.
type Options struct {
	// CacheSize is IAVL's own cache of decoded nodes, in nodes (default
	// DefaultCacheSize). It need only hold the top of the tree: below it,
	// nodes come from the node cache (NodeCacheBytes), which costs the
	// collector and each commit far less per node.
	CacheSize int
	// NodeCacheBytes is the memory kept for the tree's encoded nodes
	// (default DefaultNodeCacheBytes; negative: none). See nodeCache.
	NodeCacheBytes int
	// SigCacheSize is how many verified signatures are remembered
	// (default 500,000).
	SigCacheSize int
	// FastIndex keeps IAVL's fast index: a second copy of every live key
	// and value, so that block execution's reads of the working state
	// skip the tree walk (CheckTx, views and proofs always walk the tree
	// of a saved version). Off by default: almost every ballot writes a
	// new key (the voter's live ballot), so the index doubled each
	// ballot's leaf writes for little gain on reads. Without it, one node
	// committed about 10% more ballots/s with about 90 MiB less RSS and 9%
	// less disk (docs/performance.md). The app hash does not depend on it.
	FastIndex bool
	// Marker keeps the commit marker. Nil keeps it in the database, which
	// costs the database's compactions dearly (see dbMarker); with a
	// marker of its own, IAVL syncs each version it saves before the
	// marker moves. A marker an earlier Tabella left in the database is
	// moved to it.
	Marker CommitMarker
	Logger *slog.Logger
}

// The defaults of Options.
const (
	DefaultCacheSize      = 1_000
	DefaultNodeCacheBytes = 128 << 20
)

// Block is what consensus decided: the ledger's view of a CometBFT block.
type Block struct {
	Height int64
	Time   time.Time
	Txs    [][]byte
	// Hash is the block's hash as consensus decided it (CometBFT's header
	// hash, RequestFinalizeBlock.hash). It seeds election tie-breaks.
	Hash []byte
}

// TxResult is the outcome of one tx. Code 0 means it was applied.
type TxResult struct {
	Code Code
	Log  string
	Hash []byte
	// Type is the tx's message type ("cast_ballot", "create_initiative",
	// …), or "" when the tx did not decode. It is not part of any hash:
	// metrics label by it without decoding the tx again.
	Type string
}

// BlockResult is the outcome of FinalizeBlock.
type BlockResult struct {
	TxResults        []TxResult
	AppHash          []byte
	ValidatorUpdates []ValidatorUpdate
}

// Ledger owns the IAVL tree. InitChain, FinalizeBlock, Commit, CommitAsync,
// ImportVersion and Close must be called from one goroutine at a time, and
// CheckTx from one goroutine at a time (CometBFT's consensus and mempool
// ABCI connections do that); CheckTx may run while FinalizeBlock does, as
// it reads only committed state. View and PreVerify may be called
// concurrently with all of them.
type Ledger struct {
	marker CommitMarker
	tree   *iavl.MutableTree
	// reader opens the saved versions that CheckTx, PreVerify, views and
	// snapshots read while FinalizeBlock writes. It is a second IAVL
	// handle on the same database, with its own node cache: IAVL's writes
	// modify the in-memory nodes they copy (dropping their child
	// pointers), so readers must not share nodes with tree.
	reader *iavl.MutableTree
	log    *slog.Logger

	chainID  string
	lastTime int64 // block time of the last committed block, unix seconds

	// pending is the block finalized but not yet committed, and
	// pendingWrites what its execution wrote.
	pending       *Block
	pendingWrites *overlay
	// saving is the version CommitAsync is writing, nil when none is;
	// saveErr is the first failure to write one, after which the ledger
	// executes no more blocks.
	saving  *versionSave
	saveErr error
	// writing is the last version CommitAsync wrote or is writing, for
	// View to wait on.
	writing atomic.Pointer[versionSave]
	// genesis holds InitChain's writes until the first commit: they live
	// in the tree's working state, and a rollback of an uncommitted first
	// block must restore them.
	genesis *overlay

	// check is CheckTx's overlay: committed state plus the effects of
	// every tx the mempool accepted since the last commit. checkViews
	// holds the headers CheckTx decoded in the same scope.
	check      *overlay
	checkViews *viewCache
	// checkHeight and checkTime are the height and block time CheckTx
	// checks against: those of the block after the state it reads.
	checkHeight int64
	checkTime   int64

	// ballots answers reads of absent ballot keys from memory;
	// pendingBallots are the ballot keys the pending block wrote, added to
	// it at Commit.
	ballots        *ballotIndex
	pendingBallots [][]byte

	// sigs caches verified signatures across CheckTx, PreVerify and
	// FinalizeBlock; batcher gathers PreVerify's signatures into batches.
	sigs    *SigCache
	batcher *Batcher

	// decoded keeps the decoded form of txs PreVerify or CheckTx accepted,
	// keyed by preverifiedKey, so that CheckTx and FinalizeBlock do not
	// decode them again: strict decoding, the canonical re-encoding check
	// and the body's validation cost about a sixth of a block's execution.
	// Decoding depends only on the bytes and the chain id, so a cached
	// result is exactly what decoding again would give.
	decoded *genCache[*DecodedTx]

	// checkMu serialises CheckTx against the reset of its overlay.
	checkMu sync.Mutex

	// mu guards committed against Commit while readers use it.
	mu        sync.RWMutex
	committed *iavl.ImmutableTree
}

// versionBatchBytes bounds the batch in which IAVL writes a version.
const versionBatchBytes = 256 << 20

// batchRoom caps the room a new batch of the tree is made with: a block
// of a few thousand ballots writes a version of a few MiB.
const batchRoom = 4 << 20

// versionBatchDB is the tree's database with batches made with at most
// batchRoom: IAVL makes each new batch as large as its flush threshold,
// which would allocate versionBatchBytes at every commit. A batch grows as
// it fills.
type versionBatchDB struct{ idb.DB }

func (d versionBatchDB) NewBatchWithSize(size int) corestore.Batch {
	return d.DB.NewBatchWithSize(min(size, batchRoom))
}

// treePrefix holds the IAVL tree in the database; the commit marker,
// when kept there, is the only other key.
var treePrefix = []byte("iavl/")

// Open loads the ledger from db, repairing a version left half-saved by a
// crash: the ledger writes a commit marker only after SaveVersion returns,
// so any version above the marker is discarded and will be replayed by
// CometBFT from its block store.
func Open(db corestore.KVStoreWithBatch, opts Options) (*Ledger, error) {
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.NodeCacheBytes == 0 {
		opts.NodeCacheBytes = DefaultNodeCacheBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SigCacheSize <= 0 {
		opts.SigCacheSize = 500_000
	}
	marker := opts.Marker
	// Each version is written in one batch: IAVL's default writes it in
	// 100 kB parts, and when LevelDB switched memtables between two parts
	// the version's keys (not written in key order) straddled two tables,
	// which then overlapped and had to be merged. Whole versions leave
	// every table its own range of versions, and compaction moves tables
	// down instead of rewriting them. A version bigger than this (a block
	// of some hundred thousand ballots) is still written in parts.
	treeOpts := []iavl.Option{iavl.FlushThresholdOption(versionBatchBytes)}
	if marker == nil {
		marker = dbMarker{db}
	} else {
		if err := adoptLegacyMarker(db, marker); err != nil {
			return nil, err
		}
		// The marker's own write no longer makes the version durable.
		treeOpts = append(treeOpts, iavl.SyncOption(true))
	}
	// The tree and the reader share one cache of encoded nodes.
	var treeDB idb.DB = idb.NewPrefixDB(db, treePrefix)
	if opts.NodeCacheBytes > 0 {
		treeDB = nodeCacheDB{DB: treeDB, cache: newNodeCache(opts.NodeCacheBytes)}
	}
	tree := iavl.NewMutableTree(versionBatchDB{treeDB}, opts.CacheSize, !opts.FastIndex, iavl.NewNopLogger(), treeOpts...)
	// The reader walks the tree: IAVL's fast index is kept, when it is
	// on, for block execution's reads of the working state.
	reader := iavl.NewMutableTree(treeDB, opts.CacheSize, true, iavl.NewNopLogger())
	sigs := NewSigCache(opts.SigCacheSize)
	l := &Ledger{marker: marker, tree: tree, reader: reader, log: opts.Logger, sigs: sigs, batcher: NewBatcher(sigs, 256, 2*time.Millisecond),
		decoded: newGenCache[*DecodedTx](decodedCacheSize), ballots: newBallotIndex(opts.Logger)}

	committedHeight, markerTime, err := marker.Load()
	if err != nil {
		return nil, err
	}
	if committedHeight > 0 {
		l.lastTime = markerTime
	}
	latest, err := tree.GetLatestVersion()
	if err != nil {
		return nil, fmt.Errorf("read latest IAVL version: %w", err)
	}
	if latest > committedHeight {
		l.log.Warn("discarding state versions saved after the last completed commit", "committed", committedHeight, "latest", latest)
		if err := tree.DeleteVersionsFrom(committedHeight + 1); err != nil {
			return nil, fmt.Errorf("discard partial versions %d..%d: %w", committedHeight+1, latest, err)
		}
	} else if latest < committedHeight {
		return nil, fmt.Errorf("state database is inconsistent: commit marker at %d but IAVL has only %d", committedHeight, latest)
	}
	if committedHeight > 0 {
		if _, err := tree.LoadVersion(committedHeight); err != nil {
			return nil, fmt.Errorf("load state version %d: %w", committedHeight, err)
		}
	} else if _, err := tree.Load(); err != nil {
		return nil, fmt.Errorf("load empty state: %w", err)
	}
	if err := l.refreshCommitted(); err != nil {
		return nil, err
	}
	l.ballots.rebuild(l.committed)
	if committedHeight > 0 {
		v := l.committed
		cid, err := v.Get(keyChainID)
		if err != nil {
			return nil, fmt.Errorf("read chain id: %w", err)
		}
		l.chainID = string(cid)
	}
	return l, nil
}

// refreshCommitted points readers and CheckTx at the latest saved version.
func (l *Ledger) refreshCommitted() error {
	l.mu.RLock()
	blockTime := l.lastTime
	l.mu.RUnlock()
	t, err := l.setCommitted(l.tree.Version(), blockTime)
	if err != nil {
		return err
	}
	l.resetCheck(t, t.Version()+1, blockTime)
	return nil
}

// setCommitted points readers at saved version v, whose block time is
// blockTime, and returns it.
func (l *Ledger) setCommitted(v, blockTime int64) (*iavl.ImmutableTree, error) {
	t := l.tree.ImmutableTree
	if v > 0 {
		var err error
		if t, err = l.reader.GetImmutable(v); err != nil {
			return nil, fmt.Errorf("open committed version %d: %w", v, err)
		}
	}
	l.mu.Lock()
	l.committed = t
	l.lastTime = blockTime
	l.mu.Unlock()
	return t, nil
}

// resetCheck starts CheckTx's overlay afresh over committed, the state
// before the block at height, whose block time CheckTx assumes blockTime.
// Before the first commit the state is the genesis InitChain wrote into
// the working tree, which the first block then changes: CheckTx reads a
// copy of the genesis writes instead (and IAVL's fast index, when on, has
// none of them until they are saved).
func (l *Ledger) resetCheck(committed reader, height, blockTime int64) {
	if l.tree.Version() == 0 {
		genesis := newOverlay(emptyState{})
		if l.genesis != nil {
			l.genesis.mergeInto(genesis)
		}
		committed = genesis
	}
	l.checkMu.Lock()
	l.check = newOverlay(newMemoReader(ballotFiltered{committed, l.ballots}))
	l.checkViews = newViewCache()
	l.checkHeight, l.checkTime = height, blockTime
	l.checkMu.Unlock()
}

// emptyState is the state before InitChain.
type emptyState struct{}

func (emptyState) Get([]byte) ([]byte, error) { return nil, nil }

// Close waits for a version being saved and releases the tree. The
// database is the caller's to close.
func (l *Ledger) Close() error {
	saveErr := l.waitSaved()
	l.batcher.Close()
	l.ballots.stop()
	return errors.Join(saveErr, l.reader.Close(), l.tree.Close())
}

// ChainID is the chain id set at InitChain ("" before).
func (l *Ledger) ChainID() string { return l.chainID }

// LastHeight is the last committed height whose state is saved and
// readable (the IAVL version). Safe for concurrent use.
func (l *Ledger) LastHeight() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.committed.Version()
}

// LastAppHash is the root hash of the last committed version. Safe for
// concurrent use.
func (l *Ledger) LastAppHash() []byte {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.committed.Hash()
}

// LastCommit is LastHeight, LastAppHash and LastBlockTime read together,
// so that they describe one version even while the next is being saved.
// Safe for concurrent use.
func (l *Ledger) LastCommit() (height int64, appHash []byte, blockTime time.Time) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.committed.Version(), l.committed.Hash(), time.Unix(l.lastTime, 0).UTC()
}

// LastBlockTime is the time of the last committed block (genesis time
// before the first). Safe for concurrent use.
func (l *Ledger) LastBlockTime() time.Time {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return time.Unix(l.lastTime, 0).UTC()
}

// InitChain writes the genesis consortium and returns the initial validator
// set and the app hash the first block must carry.
func (l *Ledger) InitChain(chainID string, initialHeight int64, genesisTime time.Time, g *tabellav1.Genesis) ([]ValidatorUpdate, []byte, error) {
	if l.tree.Version() != 0 {
		return nil, nil, fmt.Errorf("InitChain on a ledger already at height %d", l.tree.Version())
	}
	if !ValidChainID(chainID) {
		return nil, nil, fmt.Errorf("invalid chain id %q: 1-%d characters of A-Z, a-z, 0-9, '.', '_', '-'", chainID, MaxChainIDLen)
	}
	if err := ValidateGenesis(g); err != nil {
		return nil, nil, fmt.Errorf("invalid genesis: %w", err)
	}
	if initialHeight > 1 {
		l.tree.SetInitialVersion(uint64(initialHeight))
	}
	kv := newOverlay(l.tree)
	vals := writeGenesis(kv, chainID, g)
	if err := l.flush(kv); err != nil {
		return nil, nil, err
	}
	l.chainID = chainID
	l.mu.Lock()
	l.lastTime = genesisTime.Unix()
	l.mu.Unlock()
	l.genesis = kv
	l.resetCheck(nil, 1, genesisTime.Unix())
	return vals, l.tree.WorkingHash(), nil
}

// FinalizeBlock executes a decided block: scheduled transitions first, then
// every tx in order. It returns the app hash of the resulting working state;
// nothing is persisted until Commit. An error means the node cannot
// continue (storage failure or a broken invariant), never a bad tx.
func (l *Ledger) FinalizeBlock(b Block) (*BlockResult, error) {
	if l.chainID == "" {
		return nil, errors.New("FinalizeBlock before InitChain")
	}
	if err := l.waitSaved(); err != nil {
		return nil, err
	}
	if l.pending != nil {
		// A block was finalized but not committed (consensus moved on
		// after a crash-free retry); start again from the last commit.
		l.tree.Rollback()
		l.pending = nil
		l.pendingWrites = nil
		l.pendingBallots = nil
		if l.genesis != nil {
			if err := l.flush(l.genesis); err != nil {
				return nil, err
			}
		}
	}
	if want := l.tree.WorkingVersion(); b.Height != want {
		return nil, fmt.Errorf("FinalizeBlock at height %d, the ledger expects %d", b.Height, want)
	}
	ctx := &execCtx{kv: newOverlay(newMemoReader(ballotFiltered{l.tree, l.ballots})), chainID: l.chainID, height: b.Height, time: b.Time.Unix(), blockHash: b.Hash, tallyLeft: TallyReadsPerBlock, sigs: l.sigs, views: newViewCache()}
	// Verify every signature of the block in batches across cores first;
	// sequential execution then finds them cached. Signatures already
	// verified by PreVerify or CheckTx are not verified again.
	keys := make([]sigKey, len(b.Txs))
	for i, raw := range b.Txs {
		keys[i] = preverifiedKey(raw)
	}
	l.preverifyTxs(b.Txs, keys, l.tree)
	if err := l.runQueue(ctx); err != nil {
		return nil, fmt.Errorf("scheduled transitions at height %d: %w", b.Height, err)
	}
	res := &BlockResult{TxResults: make([]TxResult, len(b.Txs))}
	for i, raw := range b.Txs {
		r, err := l.deliverTx(ctx, raw, keys[i])
		if err != nil {
			return nil, fmt.Errorf("tx %d at height %d: %w", i, b.Height, err)
		}
		res.TxResults[i] = r
	}
	if len(ctx.valUpdates) > 0 {
		// Read the set the block started with before the block's writes
		// reach the tree.
		start, err := validatorKeys(l.tree)
		if err != nil {
			return nil, err
		}
		ctx.valUpdates = normalizeValidatorUpdates(start, ctx.valUpdates)
	}
	// Nothing is written for a block without txs or due events, so an
	// empty block keeps the app hash and CometBFT can pace empty blocks
	// by create_empty_blocks_interval instead of every timeout_commit.
	if err := l.flush(ctx.kv); err != nil {
		return nil, err
	}
	// Map order is harmless here: the keys only feed the ballot index.
	for k := range ctx.kv.writes {
		if strings.HasPrefix(k, prefixBallot) {
			l.pendingBallots = append(l.pendingBallots, []byte(k))
		}
	}
	res.AppHash = l.tree.WorkingHash()
	res.ValidatorUpdates = ctx.valUpdates
	blk := b
	l.pending = &blk
	l.pendingWrites = ctx.kv
	return res, nil
}

// deliverTx runs one tx in its own overlay; only success reaches the block.
// key is the tx's preverifiedKey.
func (l *Ledger) deliverTx(ctx *execCtx, raw []byte, key sigKey) (TxResult, error) {
	d, _, err := l.decode(raw, key, true)
	if err != nil {
		return rejection(raw, err), nil
	}
	cc := ctx.child()
	if err := cc.deliver(d); err != nil {
		if CodeOf(err) == CodeInternal {
			return TxResult{}, err
		}
		return rejectionOf(d, err), nil
	}
	ctx.commitChild(cc)
	return TxResult{Code: CodeOK, Hash: d.Hash, Type: d.Type()}, nil
}

// rejectionOf is rejection for a tx that decoded: the result also names
// its message type.
func rejectionOf(d *DecodedTx, err error) TxResult {
	r := rejection(d.Raw, err)
	r.Type = d.Type()
	return r
}

func rejection(raw []byte, err error) TxResult {
	var le *Error
	if errors.As(err, &le) {
		return TxResult{Code: le.Code, Log: le.Msg, Hash: TxHash(raw)}
	}
	return TxResult{Code: CodeInternal, Log: err.Error(), Hash: TxHash(raw)}
}

// runQueue processes every scheduled event due at or before the block time.
// A cursor remembers the last processed event, so the queue itself is never
// deleted from and stays in history like everything else.
func (l *Ledger) runQueue(ctx *execCtx) error {
	start := []byte(prefixQueue)
	cursor, err := l.tree.Get(keyQueueCursor)
	if err != nil {
		return err
	}
	if cursor != nil {
		start = append(append([]byte(nil), cursor...), 0)
	}
	it, err := l.tree.Iterator(start, queueEnd(ctx.time), true)
	if err != nil {
		return err
	}
	var due [][]byte
	for ; it.Valid(); it.Next() {
		due = append(due, append([]byte(nil), it.Key()...))
	}
	if err := it.Error(); err != nil {
		it.Close()
		return err
	}
	it.Close()
	for _, k := range due {
		_, kind, id, ok := parseQueueKey(k)
		if !ok {
			return fmt.Errorf("malformed queue key %x", k)
		}
		switch kind {
		case eventOpenProposals, eventCloseProposals, eventOpenVoting, eventCloseVoting:
			err = ctx.advance(id)
		case eventContinueTally:
			err = ctx.continueCount(id)
		case eventGovDeadline:
			err = ctx.expireProposal(id)
		case eventKeyCeremony:
			err = ctx.finishCeremony(id)
		default:
			err = fmt.Errorf("unknown queue event kind %d", kind)
		}
		if err != nil {
			return err
		}
	}
	if len(due) > 0 {
		ctx.kv.Set(keyQueueCursor, due[len(due)-1])
	}
	return nil
}

// flush writes an overlay into the tree in sorted key order.
func (l *Ledger) flush(kv *overlay) error {
	for _, k := range kv.sortedKeys() {
		if _, err := l.tree.Set([]byte(k), kv.writes[k]); err != nil {
			return fmt.Errorf("write %q: %w", k, err)
		}
	}
	return nil
}

// Commit persists the finalized block as IAVL version == height, then
// writes the commit marker. It returns the committed height once the
// version is on disk and View reads it.
func (l *Ledger) Commit() (int64, error) {
	if _, err := l.CommitAsync(nil); err != nil {
		return 0, err
	}
	if err := l.waitSaved(); err != nil {
		return 0, err
	}
	return l.LastHeight(), nil
}

// CommitAsync commits the finalized block and returns its height at once:
// from then on CheckTx checks against the block's state, while the
// version is written on another goroutine, off the block cycle (writing a
// block of a few thousand ballots takes tens of milliseconds, during which
// CometBFT holds its mempool and the next height waits). The next
// FinalizeBlock, ImportVersion and Close wait for the write, and a failed
// write fails them: the node stops rather than run on state it could not
// save. saved, when not nil, is called on the writing goroutine once the
// version is durable and View reads it, or with the error that stopped it;
// the calls come in height order.
//
// A crash while the version is written loses at most that version: the
// commit marker still names the one before, Open discards what was
// written above it, and CometBFT replays the block from its store.
func (l *Ledger) CommitAsync(saved func(height int64, err error)) (int64, error) {
	if err := l.waitSaved(); err != nil {
		return 0, err
	}
	if l.pending == nil {
		return 0, errors.New("Commit without a finalized block")
	}
	b, writes, ballots := l.pending, l.pendingWrites, l.pendingBallots
	l.pending, l.pendingWrites, l.pendingBallots = nil, nil, nil
	s := &versionSave{height: b.Height, done: make(chan struct{})}
	if l.tree.Version() == 0 {
		// The first commit: readers still read the working tree (the
		// genesis state), whose nodes SaveVersion changes, so it is saved
		// before CommitAsync returns.
		var t *iavl.ImmutableTree
		if t, s.err = l.save(b, true); s.err == nil {
			// The index learns the block's ballots before CheckTx can
			// read the version that holds them.
			l.ballots.add(ballots...)
			l.resetCheck(t, b.Height+1, b.Time.Unix())
		}
		l.genesis = nil
		close(s.done)
		l.saving = s
		if saved != nil {
			saved(b.Height, s.err)
		}
		return b.Height, s.err
	}
	// CheckTx reads the block's writes over the version before it, which
	// readers share with nothing SaveVersion touches. The ballot index
	// learns the block's ballots first, as it answers for absent ones.
	l.ballots.add(ballots...)
	l.mu.RLock()
	state := newOverlay(l.committed)
	l.mu.RUnlock()
	writes.mergeInto(state)
	l.resetCheck(state, b.Height+1, b.Time.Unix())
	l.saving = s
	l.writing.Store(s)
	go func() {
		defer close(s.done)
		_, s.err = l.save(b, false)
		if saved != nil {
			saved(b.Height, s.err)
		}
	}()
	return b.Height, nil
}

// versionSave is a version being written by CommitAsync; err is set
// before done closes.
type versionSave struct {
	height int64
	done   chan struct{}
	err    error
}

// WaitSaved waits for the version CommitAsync is writing and returns the
// error of any write that failed. Call it only while no block can be
// finalized or committed: to shut down after CometBFT has stopped.
func (l *Ledger) WaitSaved() error { return l.waitSaved() }

// waitSaved waits for the version CommitAsync is writing, and returns the
// first error any write gave.
func (l *Ledger) waitSaved() error {
	if s := l.saving; s != nil {
		<-s.done
		l.saving = nil
		if s.err != nil && l.saveErr == nil {
			l.saveErr = s.err
		}
	}
	if l.saveErr != nil {
		return fmt.Errorf("an earlier commit failed, the ledger stopped: %w", l.saveErr)
	}
	return nil
}

// save writes block b's version and its commit marker, then points
// readers at it and returns it. Readers share no nodes with the tree once
// a version is saved, so only the first save, which changes the genesis
// state they read from the working tree, holds them off.
func (l *Ledger) save(b *Block, first bool) (*iavl.ImmutableTree, error) {
	if first {
		l.mu.Lock()
	}
	_, v, err := l.tree.SaveVersion()
	if first {
		l.mu.Unlock()
	}
	if err != nil {
		return nil, fmt.Errorf("save state version %d: %w", b.Height, err)
	}
	if v != b.Height {
		return nil, fmt.Errorf("saved state version %d for block %d", v, b.Height)
	}
	if err := l.marker.Store(v, b.Time.Unix()); err != nil {
		return nil, fmt.Errorf("write commit marker %d: %w", v, err)
	}
	return l.setCommitted(v, b.Time.Unix())
}

// CheckTx decides whether a tx may enter the mempool: every stateless check
// and every stateful check against the last committed state plus the txs
// the mempool has already accepted (so a voter's second ballot with the same
// sequence is refused before it reaches a block).
func (l *Ledger) CheckTx(raw []byte) TxResult {
	if l.chainID == "" {
		return TxResult{Code: CodeInternal, Log: "node is not initialised yet", Hash: TxHash(raw)}
	}
	key := preverifiedKey(raw)
	d, cached, err := l.decode(raw, key, false)
	if err != nil {
		return rejection(raw, err)
	}
	// CheckTx may run while FinalizeBlock executes the next block (they use
	// separate ABCI connections); it only reads committed state.
	l.checkMu.Lock()
	defer l.checkMu.Unlock()
	ctx := &execCtx{kv: newOverlay(l.check), chainID: l.chainID, height: l.checkHeight, time: l.checkTime, sigs: l.sigs, views: l.checkViews}
	if err := ctx.deliver(d); err != nil {
		return rejectionOf(d, err)
	}
	ctx.kv.mergeInto(l.check)
	l.sigs.add(key)
	if !cached {
		l.decoded.put(key, d)
	}
	return TxResult{Code: CodeOK, Hash: d.Hash, Type: d.Type()}
}

// decodedCacheSize bounds the decoded txs kept between PreVerify, CheckTx
// and FinalizeBlock: more than a full mempool's worth of ballots at the
// default settings, about 40 MiB.
const decodedCacheSize = 16_384

// decode returns the decoded tx, from the cache (cached) when PreVerify or
// CheckTx decoded it already. consume drops the cache entry: a tx is
// executed in one block.
func (l *Ledger) decode(raw []byte, key sigKey, consume bool) (d *DecodedTx, cached bool, err error) {
	get := l.decoded.get
	if consume {
		get = l.decoded.take
	}
	if d, ok := get(key); ok {
		return d, true, nil
	}
	d, err = decodeTx(l.chainID, raw, l.sigs)
	return d, false, err
}

// PreVerify checks a tx's envelope and signatures, and a ballot's
// credential signature against the issuer key in committed state, caching
// what verifies so CheckTx and FinalizeBlock need not verify again. It is
// safe to call from many goroutines at once: a node's API handlers call it
// before handing txs to the mempool, which spreads signature verification
// over every core. A returned error is the rejection CheckTx would give.
func (l *Ledger) PreVerify(raw []byte) error {
	if l.chainID == "" {
		return nil
	}
	l.mu.RLock()
	committed := l.committed
	l.mu.RUnlock()
	if committed.Version() == 0 {
		// Before the first commit the only state is the working tree,
		// which the first block is changing: CheckTx decides alone.
		return nil
	}
	if e, ok := parseEnvelope(raw); ok {
		if items := l.sigItems(e, committed); len(items) > 0 {
			l.batcher.Verify(items)
		}
		if it, ok := l.tokenOf(e, committed); ok {
			l.sigs.VerifyToken(it.der, it.msg, it.sig)
		}
		if it, ok := l.sealedOf(e, committed); ok {
			_, _ = VerifySealedBallot(l.sigs, l.chainID, it.st, it.voter, it.raw)
		}
	}
	// With the signatures cached, decoding gives CheckTx's verdict on the
	// envelope and the signature.
	d, err := decodeTx(l.chainID, raw, l.sigs)
	if err != nil {
		return err
	}
	key := preverifiedKey(raw)
	l.decoded.put(key, d)
	l.sigs.add(key)
	return nil
}

// envelope is a tx decoded as far as pre-verification needs: its one
// signature and its message. Pre-verification decodes each tx once into
// it and finds there the signatures, token and sealed ballot it verifies.
type envelope struct {
	tx   tabellav1.Tx
	body tabellav1.TxBody
}

// parseEnvelope decodes raw into an envelope. ok is false for anything
// malformed, which has nothing worth verifying ahead: execution rejects it
// with the proper error.
func parseEnvelope(raw []byte) (e *envelope, ok bool) {
	e = new(envelope)
	if len(raw) > MaxTxBytes || proto.Unmarshal(raw, &e.tx) != nil || len(e.tx.Signatures) != 1 || proto.Unmarshal(e.tx.Body, &e.body) != nil {
		return nil, false
	}
	return e, true
}

// sigItems lists a tx's signature and, for a ballot, its credential's
// signature under the issuer key found in r.
func (l *Ledger) sigItems(e *envelope, r reader) []sigItem {
	s := e.tx.Signatures[0]
	items := []sigItem{{pub: s.PublicKey, msg: TxSignBytes(l.chainID, e.tx.Body), sig: s.Signature}}
	cb := e.body.GetCastBallot()
	if cb == nil || cb.Credential == nil {
		return items
	}
	var cred tabellav1.Credential
	if proto.Unmarshal(cb.Credential.Body, &cred) != nil {
		return items
	}
	var iss tabellav1.Issuer
	if ok, err := getProto(r, IssuerKey(cred.IssuerId), &iss); err == nil && ok {
		items = append(items, sigItem{pub: iss.PublicKey, msg: CredentialSignBytes(l.chainID, cb.Credential.Body), sig: cb.Credential.Signature})
	}
	return items
}

// Preverified reports whether PreVerify, PreVerifyBatch or CheckTx already
// accepted raw, so its signatures are cached.
func (l *Ledger) Preverified(raw []byte) bool {
	return l.sigs.has(preverifiedKey(raw))
}

// PreVerifyBatch is PreVerify for many txs at once: their signatures share
// batches spread over every core. The mempool's connection calls it for the
// txs it is about to check together, most of them gossiped by peers, which
// did not come through this node's API and would otherwise be verified one
// at a time in CheckTx. Like PreVerify it only fills caches; CheckTx still
// gives every verdict.
func (l *Ledger) PreVerifyBatch(txs [][]byte) {
	if l.chainID == "" || len(txs) == 0 {
		return
	}
	l.mu.RLock()
	committed := l.committed
	l.mu.RUnlock()
	if committed.Version() == 0 {
		return // see PreVerify
	}
	keys := make([]sigKey, len(txs))
	for i, raw := range txs {
		keys[i] = preverifiedKey(raw)
	}
	l.preverifyTxs(txs, keys, committed)
}

// preverifyTxs batch-verifies the signatures, tokens and sealed ballots of
// txs that are not cached, reading issuer and blind keys in r. keys are the
// txs' preverifiedKeys.
func (l *Ledger) preverifyTxs(txs [][]byte, keys []sigKey, r reader) {
	// Txs this node already accepted in PreVerify or CheckTx have every
	// signature, token and proof cached: skip decoding them again.
	envs := make([]*envelope, 0, len(txs))
	for i, raw := range txs {
		if l.sigs.has(keys[i]) {
			continue
		}
		if e, ok := parseEnvelope(raw); ok {
			envs = append(envs, e)
		}
	}
	if len(envs) == 0 {
		return
	}
	items := make([]sigItem, 0, 2*len(envs))
	for _, e := range envs {
		items = append(items, l.sigItems(e, r)...)
	}
	l.sigs.verifyBatch(items)
	l.preverifyTokens(envs, r)
	l.preverifySealed(envs, r)
}

// tokenItem is an anonymous token to verify.
type tokenItem struct{ der, msg, sig []byte }

// tokenOf finds an anonymous ballot's token and the blind key it must
// verify under in r; ok is false for anything else, or anything malformed,
// which execution rejects with the proper error.
func (l *Ledger) tokenOf(e *envelope, r reader) (tokenItem, bool) {
	cb := e.body.GetCastBallot()
	if cb.GetToken() == nil || !ValidID(cb.InitiativeId) || !ValidID(cb.Token.IssuerId) {
		return tokenItem{}, false
	}
	var bk tabellav1.BlindKey
	if ok, err := getProto(r, BlindKeyKey(cb.InitiativeId, cb.Token.IssuerId), &bk); err != nil || !ok {
		return tokenItem{}, false
	}
	return tokenItem{bk.RsaPublicKey, TokenMessage(l.chainID, cb.InitiativeId, e.tx.Signatures[0].PublicKey), cb.Token.Signature}, true
}

// preverifyTokens verifies the anonymous tokens of txs that are not cached
// (a block this node's mempool did not see: catching up, re-executing in
// an audit; or gossiped txs about to be checked) on every core, reading
// blind keys in r, before sequential execution needs them.
func (l *Ledger) preverifyTokens(envs []*envelope, r reader) {
	var todo []tokenItem
	for _, e := range envs {
		if it, ok := l.tokenOf(e, r); ok && !l.sigs.has(tokenKeyOf(it.der, it.msg, it.sig)) {
			todo = append(todo, it)
		}
	}
	if len(todo) == 0 {
		return
	}
	onEveryCore(len(todo), func(i int) {
		l.sigs.VerifyToken(todo[i].der, todo[i].msg, todo[i].sig)
	})
}

// onEveryCore calls f(0) … f(n-1) spread over one goroutine per core and
// returns when all have returned. Only work whose outcome does not depend
// on order goes here (verification that fills a cache).
func onEveryCore(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				f(i)
			}
		}()
	}
	wg.Wait()
}
