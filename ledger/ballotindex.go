package ledger

import (
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"time"

	"github.com/cosmos/iavl"
)

// ballotIndex is an in-memory Bloom filter of the ballot keys ("b/"...) in
// committed state. Nearly every ballot reads a key that does not exist yet,
// its voter's live ballot, once in CheckTx and once in FinalizeBlock; in an
// IAVL tree a read of an absent key walks a path from the root whose lower
// nodes are rarely cached, and those walks were a fifth of a loaded node's
// CPU. The filter answers most of them from memory.
//
// A Bloom filter has no false negatives, so a key it does not hold is
// certainly absent and a read of it returns nothing, exactly as the tree
// would: results, and so consensus, never depend on the filter. A key it
// may hold is read from the tree. Until the keys already in state have all
// been added (a scan of the committed tree in the background after Open or
// a snapshot import), every read goes to the tree.
type ballotIndex struct {
	seed maphash.Seed
	log  *slog.Logger

	mu     sync.RWMutex
	layers []*bloomLayer
	ready  bool

	// The background scan: cancel stops it, done is closed when it ends.
	cancel context.CancelFunc
	done   chan struct{}
}

var ballotKeyPrefix = []byte(prefixBallot)

func newBallotIndex(log *slog.Logger) *ballotIndex {
	return &ballotIndex{seed: maphash.MakeSeed(), log: log}
}

// mayHold reports whether key may be in committed state. It is false only
// for a ballot key that is certainly absent.
func (x *ballotIndex) mayHold(key []byte) bool {
	if !bytes.HasPrefix(key, ballotKeyPrefix) {
		return true
	}
	h := maphash.Bytes(x.seed, key)
	x.mu.RLock()
	defer x.mu.RUnlock()
	if !x.ready {
		return true
	}
	for _, l := range x.layers {
		if l.has(h) {
			return true
		}
	}
	return false
}

// add records committed keys; keys that are not ballot keys are ignored.
func (x *ballotIndex) add(keys ...[]byte) {
	hashes := make([]uint64, 0, len(keys))
	for _, k := range keys {
		if bytes.HasPrefix(k, ballotKeyPrefix) {
			hashes = append(hashes, maphash.Bytes(x.seed, k))
		}
	}
	x.addHashes(hashes)
}

func (x *ballotIndex) addHashes(hashes []uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, h := range hashes {
		x.addLocked(h)
	}
}

// firstLayerKeys is the first layer's capacity; each further layer doubles
// it, so a million ballots take five layers and about 1.2 MiB.
const firstLayerKeys = 1 << 16

func (x *ballotIndex) addLocked(h uint64) {
	n := len(x.layers)
	if n == 0 || x.layers[n-1].full() {
		capacity := firstLayerKeys
		if n > 0 {
			capacity = 2 * x.layers[n-1].capacity
		}
		x.layers = append(x.layers, newBloomLayer(capacity))
	}
	x.layers[len(x.layers)-1].add(h)
}

// rebuild forgets every key and adds, in the background, the ballot keys of
// t, the committed tree; keys committed meanwhile are added by Commit as
// usual. Until the scan ends, mayHold answers true.
func (x *ballotIndex) rebuild(t *iavl.ImmutableTree) {
	x.stop()
	version := t.Version()
	x.mu.Lock()
	defer x.mu.Unlock()
	x.layers, x.ready = nil, false
	if version == 0 {
		// Nothing is committed (t is the tree's working state, which the
		// next commit changes under a reader): nothing to scan.
		x.ready = true
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	x.cancel, x.done = cancel, done
	go func() {
		defer close(done)
		began := time.Now()
		n, err := x.scan(ctx, t)
		if err != nil {
			// Reads keep going to the tree: slower, never wrong.
			if ctx.Err() == nil {
				x.log.Error("ballot index: scan of the committed state failed; ballot reads go to the tree", "err", err)
			}
			return
		}
		x.mu.Lock()
		x.ready = true
		x.mu.Unlock()
		x.log.Info("ballot index ready", "ballots", n, "height", version, "took", time.Since(began).Round(time.Millisecond))
	}()
}

func (x *ballotIndex) scan(ctx context.Context, t *iavl.ImmutableTree) (int, error) {
	it, err := t.Iterator(ballotKeyPrefix, prefixEnd(ballotKeyPrefix), true)
	if err != nil {
		return 0, fmt.Errorf("iterate ballots: %w", err)
	}
	defer it.Close()
	// Keys are hashed as the iterator yields them and added a batch at a
	// time, so that Commit and readers wait for the lock only briefly.
	n := 0
	batch := make([]uint64, 0, 1024)
	for ; it.Valid(); it.Next() {
		batch = append(batch, maphash.Bytes(x.seed, it.Key()))
		if len(batch) == cap(batch) {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			x.addHashes(batch)
			n += len(batch)
			batch = batch[:0]
		}
	}
	x.addHashes(batch)
	n += len(batch)
	return n, it.Error()
}

// stop ends a running scan and waits for it.
func (x *ballotIndex) stop() {
	x.mu.Lock()
	cancel, done := x.cancel, x.done
	x.cancel, x.done = nil, nil
	x.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// bloomLayer is a Bloom filter sized for capacity keys at about 1% false
// positives: 10 bits and 7 probes per key, the probes derived from one
// 64-bit hash by double hashing.
type bloomLayer struct {
	bits     []uint64
	m        uint64
	capacity int
	n        int
}

const bloomProbes = 7

func newBloomLayer(capacity int) *bloomLayer {
	m := uint64(capacity) * 10
	return &bloomLayer{bits: make([]uint64, (m+63)/64), m: m, capacity: capacity}
}

func (b *bloomLayer) full() bool { return b.n >= b.capacity }

func (b *bloomLayer) add(h uint64) {
	h1, h2 := h, h>>32|h<<32|1
	for i := uint64(0); i < bloomProbes; i++ {
		p := (h1 + i*h2) % b.m
		b.bits[p/64] |= 1 << (p % 64)
	}
	b.n++
}

func (b *bloomLayer) has(h uint64) bool {
	h1, h2 := h, h>>32|h<<32|1
	for i := uint64(0); i < bloomProbes; i++ {
		p := (h1 + i*h2) % b.m
		if b.bits[p/64]&(1<<(p%64)) == 0 {
			return false
		}
	}
	return true
}

// ballotFiltered reads through r, answering a read of a ballot key the
// index knows to be absent without reading r.
type ballotFiltered struct {
	r   reader
	idx *ballotIndex
}

func (f ballotFiltered) Get(key []byte) ([]byte, error) {
	if !f.idx.mayHold(key) {
		return nil, nil
	}
	return f.r.Get(key)
}
