package sealed

import (
	"io"
	"math/rand/v2"
	"testing"
)

// testRand returns a deterministic randomness source for reproducible tests.
func testRand(seed uint64) io.Reader {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return rand.NewChaCha8(s)
}

// testKey returns a single-party key pair (x, Y = g^x).
func testKey(t testing.TB, rnd io.Reader) (*scalar, PublicKey) {
	t.Helper()
	x, err := randomScalar(rnd)
	if err != nil {
		t.Fatal(err)
	}
	return x, PublicKey{gExp(x)}
}

// decryptSmall decrypts with the full secret key by brute force (m ≤ limit).
func decryptSmall(t testing.TB, x *scalar, c Ciphertext, limit uint64) uint64 {
	t.Helper()
	gm := sub(orIdentity(c.b), mul(orIdentity(c.a), x))
	acc := identity()
	g := generator()
	for m := uint64(0); m <= limit; m++ {
		if elementEq(acc, gm) {
			return m
		}
		acc = add(acc, g)
	}
	t.Fatalf("plaintext above %d", limit)
	return 0
}
