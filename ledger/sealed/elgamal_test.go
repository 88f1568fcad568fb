package sealed

import (
	"math"
	"testing"
)

func TestCiphertextHomomorphism(t *testing.T) {
	rnd := testRand(10)
	x, y := testKey(t, rnd)
	c3, _ := Encrypt(rnd, y, 3)
	c5, _ := Encrypt(rnd, y, 5)
	if got := decryptSmall(t, x, c3.Add(c5), 20); got != 8 {
		t.Fatalf("3+5 = %d", got)
	}
	if got := decryptSmall(t, x, c5.Sub(c3), 20); got != 2 {
		t.Fatalf("5-3 = %d", got)
	}
	if got := decryptSmall(t, x, c3.scaleU64(4), 20); got != 12 {
		t.Fatalf("3·4 = %d", got)
	}
	var zero Ciphertext
	if !zero.Add(c3).Equal(c3) || decryptSmall(t, x, zero, 0) != 0 {
		t.Fatal("the zero ciphertext is not an encryption of 0")
	}
	if _, err := Encrypt(rnd, PublicKey{}, 1); err == nil {
		t.Fatal("encryption to the zero key")
	}
}

func TestMulU64MatchesScalarMul(t *testing.T) {
	e := gExp(scalarU64(12345))
	for _, k := range []uint64{0, 1, 2, 3, 1 << 17, 250000, 1<<63 + 5, math.MaxUint64} {
		if !elementEq(mulU64(e, k), mul(e, scalarU64(k))) {
			t.Errorf("mulU64(e, %d) differs", k)
		}
	}
}
