package ledger

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
)

func TestSigCacheOnlyCachesValid(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := []byte("tabella")
	good := ed25519.Sign(priv, msg)
	bad := append([]byte(nil), good...)
	bad[10] ^= 1
	c := NewSigCache(4)
	if c.Verify(pub, msg, bad) || c.has(keyOf(pub, msg, bad)) {
		t.Fatal("a bad signature verified or was cached")
	}
	if !c.Verify(pub, msg, good) || !c.has(keyOf(pub, msg, good)) {
		t.Fatal("a good signature failed or was not cached")
	}
	// A batch with one bad signature caches exactly the good ones.
	var items []sigItem
	var goods [][]byte
	for i := 0; i < 10; i++ {
		m := []byte{byte(i)}
		s := ed25519.Sign(priv, m)
		if i == 3 {
			s = append([]byte(nil), s...)
			s[0] ^= 1
		} else {
			goods = append(goods, m)
		}
		items = append(items, sigItem{pub: pub, msg: m, sig: s})
	}
	c = NewSigCache(100)
	c.verifyBatch(items)
	for i, it := range items {
		if got := c.has(keyOf(it.pub, it.msg, it.sig)); got != (i != 3) {
			t.Fatalf("item %d cached = %v", i, got)
		}
	}
	// Bounded: the cache keeps two generations of half its capacity.
	c = NewSigCache(4)
	for i := 0; i < 10; i++ {
		m := []byte{byte(i)}
		c.Verify(pub, m, ed25519.Sign(priv, m))
	}
	if n := c.set.len(); n > 4 {
		t.Fatalf("cache holds %d entries, capacity 4", n)
	}
	// Cofactored verification agrees with Go's for honest signatures.
	if !VerifySignature(pub, msg, good) || VerifySignature(pub, msg, bad) || VerifySignature(pub[:31], msg, good) {
		t.Fatal("VerifySignature disagrees")
	}
}
