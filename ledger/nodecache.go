package ledger

import (
	"encoding/binary"
	"math/bits"
	"sync"

	corestore "cosmossdk.io/core/store"
	idb "github.com/cosmos/iavl/db"
)

// nodeCache keeps the encoded bytes of the state tree's nodes in memory,
// in front of the database. IAVL v1 drops a saved node's child pointers,
// so every ballot's insertion fetches the nodes of its path again by node
// key: from IAVL's LRU cache of decoded nodes, or from goleveldb, which
// decodes a whole snappy block to return one node. Both were dear under
// load: the LRU cache's map and list and the nine heap objects of each
// cached node were a large share of the collector's marking and of every
// commit (each saved node is put in, evicting another), and goleveldb's
// reads most of the rest of an insertion (docs/performance.md).
//
// This cache holds the bytes the database holds, so IAVL decodes exactly
// what it would have read: hashes, proofs and so consensus never depend on
// it. Its memory is a ring of large byte segments and an index without
// pointers, neither of which the collector scans. Segments are never
// reused: when the ring is full the oldest is dropped from the index and
// left to the collector, so a node IAVL decoded from it (IAVL keeps slices
// of the buffer it decodes) stays valid. A node read from the database is
// admitted again into the newest segment, so the nodes of the live tree
// keep moving forward while those of old versions, which nothing reads,
// fall off the end.
type nodeCache struct {
	mu       sync.Mutex
	index    nodeIndex
	segments []*nodeSegment // oldest first
	nextID   uint32         // id of the next segment made
	maxSegs  int
	// deletes counts the deletes applied, so that a node read from the
	// database while one was applied is not admitted: it may be gone.
	deletes uint64
	segSize int
}

// nodeID is an IAVL v1 node key packed in a word: its version in the high
// half, its nonce in the low one. Never 0 (versions start at 1).
type nodeID uint64

type nodeSegment struct {
	id   uint32
	buf  []byte
	keys []nodeID
}

// nodeSegmentBytes is the size of one segment: large enough that dropping
// one is rare, small enough that the ring's budget is spent finely.
const nodeSegmentBytes = 1 << 20

// newNodeCache returns a cache of about budget bytes. Budgets under a few
// MiB (tests) get smaller segments.
func newNodeCache(budget int) *nodeCache {
	seg := min(nodeSegmentBytes, max(budget/4, 256))
	return &nodeCache{
		segSize: seg,
		maxSegs: max(2, budget/seg),
	}
}

// parseNodeKey reports whether key is an IAVL v1 node key ('s', version
// and nonce, big-endian) that the cache can hold, and returns its id.
// Versions from 2^32 on (a block a second for 136 years) are not cached.
func parseNodeKey(key []byte) (nodeID, bool) {
	if len(key) != 13 || key[0] != 's' {
		return 0, false
	}
	version := binary.BigEndian.Uint64(key[1:9])
	if version == 0 || version >= 1<<32 {
		return 0, false
	}
	return nodeID(version<<32 | uint64(binary.BigEndian.Uint32(key[9:13]))), true
}

func (c *nodeCache) get(id nodeID) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.index.get(id)
	if s == nil {
		return nil
	}
	seg := c.segments[s.seg-c.segments[0].id]
	return seg.buf[s.off:s.end:s.end]
}

// deletesSoFar is the number of deletes applied, for admit.
func (c *nodeCache) deletesSoFar() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deletes
}

// admit records enc, read from the database, as the node id's bytes and
// returns the cached copy, unless a delete was applied since the read
// began (deletesSoFar returned since).
func (c *nodeCache) admit(id nodeID, enc []byte, since uint64) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deletes != since {
		return enc
	}
	return c.putLocked(id, enc)
}

func (c *nodeCache) putLocked(id nodeID, enc []byte) []byte {
	if len(enc) > c.segSize {
		c.index.delete(id)
		return enc
	}
	seg := c.current(len(enc))
	off := len(seg.buf)
	seg.buf = append(seg.buf, enc...)
	seg.keys = append(seg.keys, id)
	c.index.set(nodeSlot{id: id, seg: seg.id, off: uint32(off), end: uint32(len(seg.buf))})
	return seg.buf[off:len(seg.buf):len(seg.buf)]
}

// current returns a segment with room for n more bytes, dropping the
// oldest when the ring is full.
func (c *nodeCache) current(n int) *nodeSegment {
	if k := len(c.segments); k > 0 {
		if seg := c.segments[k-1]; len(seg.buf)+n <= cap(seg.buf) {
			return seg
		}
	}
	if len(c.segments) == c.maxSegs {
		old := c.segments[0]
		for _, id := range old.keys {
			if s := c.index.get(id); s != nil && s.seg == old.id {
				c.index.delete(id)
			}
		}
		c.segments[0] = nil
		c.segments = c.segments[1:]
	}
	seg := &nodeSegment{id: c.nextID, buf: make([]byte, 0, c.segSize)}
	c.nextID++
	c.segments = append(c.segments, seg)
	return seg
}

func (c *nodeCache) apply(ops []nodeOp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, op := range ops {
		if op.enc == nil {
			c.deletes++
			c.index.delete(op.id)
			continue
		}
		c.putLocked(op.id, op.enc)
	}
}

// nodeOp is a write of a node key in a batch not yet written: a set, or a
// delete when enc is nil.
type nodeOp struct {
	id  nodeID
	enc []byte
}

// nodeCacheDB is the tree's database seen through a nodeCache.
type nodeCacheDB struct {
	idb.DB
	cache *nodeCache
}

func (d nodeCacheDB) Get(key []byte) ([]byte, error) {
	id, ok := parseNodeKey(key)
	if !ok {
		return d.DB.Get(key)
	}
	if enc := d.cache.get(id); enc != nil {
		return enc, nil
	}
	since := d.cache.deletesSoFar()
	enc, err := d.DB.Get(key)
	if err != nil || enc == nil {
		return enc, err
	}
	return d.cache.admit(id, enc, since), nil
}

func (d nodeCacheDB) NewBatch() corestore.Batch {
	return &nodeCacheBatch{Batch: d.DB.NewBatch(), cache: d.cache}
}

func (d nodeCacheDB) NewBatchWithSize(size int) corestore.Batch {
	return &nodeCacheBatch{Batch: d.DB.NewBatchWithSize(size), cache: d.cache}
}

// nodeCacheBatch passes a batch's writes of node keys to the cache once the
// batch is written, so that the cache never holds what the database does
// not. Node keys are written once, except when versions are deleted and
// saved again (DeleteVersionsFrom, an import that failed): a delete drops
// the node from the cache and a set replaces it.
type nodeCacheBatch struct {
	corestore.Batch
	cache *nodeCache
	ops   []nodeOp
}

func (b *nodeCacheBatch) Set(key, value []byte) error {
	if err := b.Batch.Set(key, value); err != nil {
		return err
	}
	if id, ok := parseNodeKey(key); ok {
		b.ops = append(b.ops, nodeOp{id: id, enc: value})
	}
	return nil
}

func (b *nodeCacheBatch) Delete(key []byte) error {
	if err := b.Batch.Delete(key); err != nil {
		return err
	}
	if id, ok := parseNodeKey(key); ok {
		b.ops = append(b.ops, nodeOp{id: id})
	}
	return nil
}

func (b *nodeCacheBatch) Write() error {
	if err := b.Batch.Write(); err != nil {
		return err
	}
	b.flush()
	return nil
}

func (b *nodeCacheBatch) WriteSync() error {
	if err := b.Batch.WriteSync(); err != nil {
		return err
	}
	b.flush()
	return nil
}

func (b *nodeCacheBatch) flush() {
	b.cache.apply(b.ops)
	b.ops = nil
}

func (b *nodeCacheBatch) Close() error {
	b.ops = nil
	return b.Batch.Close()
}

// nodeIndex maps node ids to their place in the ring. It is a hash table
// with open addressing and linear probing, kept at most half full, whose
// slots hold no pointers. A Go map did the same job at about three cache
// misses a lookup (its control word, then the slot), and under the cache's
// steady churn of inserts and deletes those lookups were 9% of a loaded
// validator's CPU; a slot here is found at about one.
type nodeIndex struct {
	slots []nodeSlot
	count int
	shift uint // 64 - log2(len(slots))
}

type nodeSlot struct {
	id       nodeID // 0: empty
	seg      uint32
	off, end uint32
}

const nodeIndexMinSlots = 1 << 12

// home is the slot where id's probe starts: Fibonacci hashing, whose top
// bits mix both the version and the nonce.
func (x *nodeIndex) home(id nodeID) int {
	return int((uint64(id) * 0x9e3779b97f4a7c15) >> x.shift)
}

// find returns id's slot, or the empty slot where it would go.
func (x *nodeIndex) find(id nodeID) (int, bool) {
	mask := len(x.slots) - 1
	for i := x.home(id); ; i = (i + 1) & mask {
		switch x.slots[i].id {
		case id:
			return i, true
		case 0:
			return i, false
		}
	}
}

func (x *nodeIndex) get(id nodeID) *nodeSlot {
	if x.count == 0 {
		return nil
	}
	if i, ok := x.find(id); ok {
		return &x.slots[i]
	}
	return nil
}

func (x *nodeIndex) set(s nodeSlot) {
	if x.slots == nil {
		x.resize(nodeIndexMinSlots)
	}
	i, ok := x.find(s.id)
	if !ok {
		if 2*(x.count+1) > len(x.slots) {
			x.resize(2 * len(x.slots))
			i, _ = x.find(s.id)
		}
		x.count++
	}
	x.slots[i] = s
}

// delete removes id, shifting back the slots after it that probed past
// it, so that no tombstones lengthen later probes.
func (x *nodeIndex) delete(id nodeID) {
	if x.count == 0 {
		return
	}
	i, ok := x.find(id)
	if !ok {
		return
	}
	mask := len(x.slots) - 1
	for j := (i + 1) & mask; x.slots[j].id != 0; j = (j + 1) & mask {
		// The slot at j may move to the hole at i unless its home lies
		// cyclically after i, up to j.
		if h := x.home(x.slots[j].id); (j-h)&mask >= (j-i)&mask {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = nodeSlot{}
	x.count--
}

func (x *nodeIndex) resize(n int) {
	old := x.slots
	x.slots = make([]nodeSlot, n)
	x.shift = uint(64 - bits.TrailingZeros(uint(n)))
	for _, s := range old {
		if s.id != 0 {
			i, _ := x.find(s.id)
			x.slots[i] = s
		}
	}
}
