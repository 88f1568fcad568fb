package ledger

import "sync"

// genCache is a bounded map for values that are cheap to recompute: two
// generations of at most half the capacity each; when the current one
// fills, it becomes the old one and the previous old one is dropped. Every
// entry survives at least half the capacity of insertions, without the
// bookkeeping of an LRU. Safe for concurrent use.
type genCache[V any] struct {
	mu       sync.Mutex
	cur, old map[sigKey]V
	half     int
}

func newGenCache[V any](capacity int) *genCache[V] {
	half := max(capacity/2, 1)
	return &genCache[V]{cur: make(map[sigKey]V, half), old: map[sigKey]V{}, half: half}
}

func (c *genCache[V]) get(k sigKey) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[k]; ok {
		return v, true
	}
	v, ok := c.old[k]
	return v, ok
}

func (c *genCache[V]) put(k sigKey, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cur) >= c.half {
		c.old, c.cur = c.cur, make(map[sigKey]V, c.half)
	}
	c.cur[k] = v
}

// take returns the entry and forgets it.
func (c *genCache[V]) take(k sigKey) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[k]; ok {
		delete(c.cur, k)
		return v, true
	}
	v, ok := c.old[k]
	if ok {
		delete(c.old, k)
	}
	return v, ok
}

func (c *genCache[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.old)
}
