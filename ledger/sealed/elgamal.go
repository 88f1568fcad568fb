package sealed

import (
	"fmt"
	"io"
	"math/bits"
)

// CiphertextSize is the size of an encoded Ciphertext: A ‖ B.
const CiphertextSize = 2 * ElementSize

// Ciphertext is an exponential-ElGamal ciphertext (A, B) = (g^r, g^m·Y^r).
// Exponential ElGamal is additively homomorphic, which is what lets the
// ledger tally ballots without decrypting them; the price is that decryption
// yields g^m and m is recovered by a bounded discrete log (see DLogTable).
//
// Ciphertexts are immutable values. The zero value is (identity, identity),
// a valid encryption of 0 with r = 0, so a zero Ciphertext is a usable empty
// tally cell.
type Ciphertext struct{ a, b *element }

// encrypt returns (g^r, g^m·Y^r) for a plaintext scalar m.
func encrypt(y *element, m, r *scalar) Ciphertext {
	return Ciphertext{a: gExp(r), b: add(gExp(m), mul(y, r))}
}

// Encrypt encrypts the small integer m to the key y with fresh randomness
// from rnd. Ballots should use EncryptBallot, which also proves the
// plaintexts are well-formed; Encrypt is for tests and tooling.
func Encrypt(rnd io.Reader, y PublicKey, m uint64) (Ciphertext, error) {
	if !y.valid() {
		return Ciphertext{}, fmt.Errorf("%w: invalid public key", ErrRules)
	}
	r, err := randomScalar(rnd)
	if err != nil {
		return Ciphertext{}, err
	}
	return encrypt(y.e, scalarU64(m), r), nil
}

// Add returns the component-wise product, an encryption of the sum of the
// plaintexts.
func (c Ciphertext) Add(o Ciphertext) Ciphertext {
	return Ciphertext{a: add(orIdentity(c.a), orIdentity(o.a)), b: add(orIdentity(c.b), orIdentity(o.b))}
}

// Sub returns the component-wise quotient, an encryption of the difference
// (used when a revote supersedes an earlier ballot).
func (c Ciphertext) Sub(o Ciphertext) Ciphertext {
	return Ciphertext{a: sub(orIdentity(c.a), orIdentity(o.a)), b: sub(orIdentity(c.b), orIdentity(o.b))}
}

// scaleU64 returns c^k, an encryption of k·m, for a public integer k, by double-and-add. It is
// variable-time in k, which is fine because k is public (a cost or a power
// of two), and 2–10× faster than a full constant-time multiplication for the
// small factors of the budget proof.
func (c Ciphertext) scaleU64(k uint64) Ciphertext {
	return Ciphertext{a: mulU64(orIdentity(c.a), k), b: mulU64(orIdentity(c.b), k)}
}

func mulU64(e *element, k uint64) *element {
	acc := identity()
	for i := bits.Len64(k) - 1; i >= 0; i-- {
		acc = add(acc, acc)
		if (k>>i)&1 == 1 {
			acc = add(acc, e)
		}
	}
	return acc
}

// subPlain returns c / (1, g^m): the same randomness, plaintext reduced by m.
func (c Ciphertext) subPlain(m *scalar) Ciphertext {
	return Ciphertext{a: orIdentity(c.a), b: sub(orIdentity(c.b), gExp(m))}
}

// Equal reports whether two ciphertexts are identical.
func (c Ciphertext) Equal(o Ciphertext) bool {
	return elementEq(orIdentity(c.a), orIdentity(o.a)) && elementEq(orIdentity(c.b), orIdentity(o.b))
}

// Bytes returns the canonical 64-byte encoding A ‖ B.
func (c Ciphertext) Bytes() []byte {
	var w writer
	w.ciphertext(c)
	return w.buf
}

// DecodeCiphertext parses a canonical 64-byte ciphertext.
func DecodeCiphertext(b []byte) (Ciphertext, error) {
	r := reader{b: b}
	c := r.ciphertext("ciphertext")
	if err := r.done("ciphertext"); err != nil {
		return Ciphertext{}, err
	}
	return c, nil
}
