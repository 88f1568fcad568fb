package ledger

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	idb "github.com/cosmos/iavl/db"
)

func testNodeKey(version int64, nonce uint32) []byte {
	k := []byte{'s'}
	k = binary.BigEndian.AppendUint64(k, uint64(version))
	return binary.BigEndian.AppendUint32(k, nonce)
}

// TestNodeCacheDBMatchesDatabase drives a database seen through a small
// node cache (so that segments are dropped all the time) and the same
// database seen directly with random batches of sets and deletes, some
// written and some abandoned, and random reads: every read through the
// cache must return what the database holds.
func TestNodeCacheDBMatchesDatabase(t *testing.T) {
	for seed := range uint64(5) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 17))
			raw := idb.NewMemDB()
			cached := nodeCacheDB{DB: raw, cache: newNodeCache(4 << 10)}
			keys := make([][]byte, 200)
			for i := range keys {
				keys[i] = testNodeKey(int64(i/8+1), uint32(i%8))
			}
			// A key that is not a node key passes through untouched.
			keys = append(keys, []byte("other"), []byte("s-short"))
			for step := range 2_000 {
				switch rng.IntN(3) {
				case 0, 1:
					b := cached.NewBatch()
					for range 1 + rng.IntN(20) {
						k := keys[rng.IntN(len(keys))]
						var err error
						if rng.IntN(4) == 0 {
							err = b.Delete(k)
						} else {
							v := make([]byte, 1+rng.IntN(600))
							for i := range v {
								v[i] = byte(rng.Uint32())
							}
							err = b.Set(k, v)
						}
						if err != nil {
							t.Fatal(err)
						}
					}
					if rng.IntN(5) > 0 {
						if err := b.Write(); err != nil {
							t.Fatal(err)
						}
					}
					if err := b.Close(); err != nil {
						t.Fatal(err)
					}
				case 2:
					for range 20 {
						k := keys[rng.IntN(len(keys))]
						got, err := cached.Get(k)
						if err != nil {
							t.Fatal(err)
						}
						want, err := raw.Get(k)
						if err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(got, want) {
							t.Fatalf("step %d: Get(%x) = %x through the cache, %x in the database", step, k, got, want)
						}
					}
				}
			}
			if n := len(cached.cache.segments); n > cached.cache.maxSegs {
				t.Fatalf("%d segments, budget %d", n, cached.cache.maxSegs)
			}
		})
	}
}

// TestNodeCacheServesWrittenNodes: a node is served from memory once its
// batch is written, not before, and no longer after a delete is written.
func TestNodeCacheServesWrittenNodes(t *testing.T) {
	raw := idb.NewMemDB()
	db := nodeCacheDB{DB: raw, cache: newNodeCache(1 << 20)}
	k := testNodeKey(7, 1)
	id, _ := parseNodeKey(k)

	b := db.NewBatch()
	if err := b.Set(k, []byte("node")); err != nil {
		t.Fatal(err)
	}
	if db.cache.get(id) != nil {
		t.Fatal("cached before its batch was written")
	}
	if err := b.Write(); err != nil {
		t.Fatal(err)
	}
	if got := db.cache.get(id); string(got) != "node" {
		t.Fatalf("after the write the cache holds %q", got)
	}

	b = db.NewBatch()
	if err := b.Delete(k); err != nil {
		t.Fatal(err)
	}
	if err := b.Write(); err != nil {
		t.Fatal(err)
	}
	if got := db.cache.get(id); got != nil {
		t.Fatalf("deleted node still cached: %q", got)
	}
	if got, err := db.Get(k); err != nil || got != nil {
		t.Fatalf("Get after delete: %q, %v", got, err)
	}
}

// TestNodeCacheAdmitAfterDelete: a node read from the database while a
// delete was applied is not admitted, since the read may predate it.
func TestNodeCacheAdmitAfterDelete(t *testing.T) {
	c := newNodeCache(1 << 20)
	a, _ := parseNodeKey(testNodeKey(3, 0))
	b, _ := parseNodeKey(testNodeKey(3, 1))
	since := c.deletesSoFar()
	c.apply([]nodeOp{{id: b}})
	if got := c.admit(a, []byte("stale?"), since); string(got) != "stale?" {
		t.Fatalf("admit returned %q", got)
	}
	if c.get(a) != nil {
		t.Fatal("admitted a node read before a delete")
	}
	if got := c.admit(a, []byte("fresh"), c.deletesSoFar()); string(got) != "fresh" || string(c.get(a)) != "fresh" {
		t.Fatalf("not admitted without a delete: %q", c.get(a))
	}
}

// TestNodeCacheKeepsDecodedBytes: bytes handed out stay intact after their
// segment is dropped, since IAVL keeps slices of the buffers it decodes.
func TestNodeCacheKeepsDecodedBytes(t *testing.T) {
	c := newNodeCache(2 << 10) // segments of 512 B, four of them
	first, _ := parseNodeKey(testNodeKey(1, 0))
	held := c.admit(first, bytes.Repeat([]byte{0xab}, 100), c.deletesSoFar())
	for i := range 100 {
		id, _ := parseNodeKey(testNodeKey(2, uint32(i)))
		c.admit(id, bytes.Repeat([]byte{byte(i)}, 100), c.deletesSoFar())
	}
	if c.get(first) != nil {
		t.Fatal("the oldest segment was not dropped")
	}
	if !bytes.Equal(held, bytes.Repeat([]byte{0xab}, 100)) {
		t.Fatalf("bytes handed out changed: %x", held)
	}
	if len(c.segments) > c.maxSegs {
		t.Fatalf("%d segments, budget %d", len(c.segments), c.maxSegs)
	}
	// Appending to a slice handed out must not write into the node after
	// it in the same segment.
	c = newNodeCache(1 << 20)
	a, _ := parseNodeKey(testNodeKey(4, 0))
	b, _ := parseNodeKey(testNodeKey(4, 1))
	c.admit(a, []byte{7, 7, 7}, c.deletesSoFar())
	c.admit(b, []byte{1, 2, 3}, c.deletesSoFar())
	_ = append(c.get(a), 0xff)
	if got := c.get(b); !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Fatalf("appending to one node changed the next: %x", got)
	}
}

// TestNodeIndexMatchesMap checks the index against a Go map under random
// sets and deletes over a key space small enough that probes collide and
// deletes shift long runs back, through several resizes.
func TestNodeIndexMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	var x nodeIndex
	want := map[nodeID]nodeSlot{}
	for step := range 200_000 {
		// Versions and nonces from small ranges, as IAVL's are.
		id := nodeID(uint64(1+rng.IntN(40))<<32 | uint64(rng.IntN(300)))
		switch rng.IntN(3) {
		case 0, 1:
			s := nodeSlot{id: id, seg: rng.Uint32(), off: uint32(step)}
			x.set(s)
			want[id] = s
		case 2:
			x.delete(id)
			delete(want, id)
		}
		if step%1_000 == 0 || step > 199_000 {
			if x.count != len(want) {
				t.Fatalf("step %d: %d entries, want %d", step, x.count, len(want))
			}
			for id, w := range want {
				if got := x.get(id); got == nil || *got != w {
					t.Fatalf("step %d: get(%x) = %+v, want %+v", step, id, got, w)
				}
			}
			for range 100 {
				id := nodeID(uint64(1+rng.IntN(40))<<32 | uint64(rng.IntN(300)))
				if _, ok := want[id]; !ok && x.get(id) != nil {
					t.Fatalf("step %d: get(%x) found a deleted id", step, id)
				}
			}
		}
	}
	if 2*x.count > len(x.slots) {
		t.Fatalf("%d entries in %d slots: more than half full", x.count, len(x.slots))
	}
}

func TestParseNodeKey(t *testing.T) {
	if id, ok := parseNodeKey(testNodeKey(7, 3)); !ok || id != nodeID(7<<32|3) {
		t.Fatalf("parseNodeKey(7, 3) = %x, %v", id, ok)
	}
	for _, k := range [][]byte{
		testNodeKey(0, 1),                             // no IAVL version 0
		testNodeKey(1<<32, 1),                         // beyond what an id packs
		testNodeKey(-1, 1),                            // negative as int64
		testNodeKey(5, 1)[:12],                        // short
		append([]byte{'f'}, testNodeKey(5, 1)[1:]...), // IAVL's fast index
		[]byte("s"),
	} {
		if _, ok := parseNodeKey(k); ok {
			t.Errorf("parseNodeKey(%x) accepted", k)
		}
	}
}
