package sealed

import (
	"crypto"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/cloudflare/circl/expander"
	"github.com/gtank/ristretto255"
)

// Every value of this package lives in the prime-order group ristretto255
// (RFC 9496). The arithmetic is gtank/ristretto255 over
// filippo.io/edwards25519: constant-time for everything a prover or trustee
// does with secrets, and variable-time multi-scalar multiplication for
// verifiers, which only ever handle public values.
type (
	scalar  = ristretto255.Scalar
	element = ristretto255.Element
)

// Sizes of the canonical encodings.
const (
	ElementSize = 32 // a ristretto255 element
	ScalarSize  = 32 // a scalar mod ℓ, little-endian
)

const dstRandom = "tabella/sealed/v1/random-scalar"

func newScalar() *scalar   { return ristretto255.NewScalar() }
func newElement() *element { return ristretto255.NewIdentityElement() }
func identity() *element   { return ristretto255.NewIdentityElement() }
func generator() *element  { return ristretto255.NewGeneratorElement() }

// hashToScalar is hash_to_scalar of RFC 9497 for ristretto255:
// expand_message_xmd with SHA-512 to 64 bytes under dst, reduced mod ℓ.
func hashToScalar(msg, dst []byte) *scalar {
	uniform := expander.NewExpanderMD(crypto.SHA512, dst).Expand(msg, 64)
	s, err := newScalar().SetUniformBytes(uniform)
	if err != nil {
		panic(fmt.Sprintf("sealed: hash to scalar: %v", err)) // 64 bytes cannot fail
	}
	return s
}

// randomScalar draws a uniform scalar from rnd: 64 bytes reduced with the
// hash-to-scalar (bias ≈ 2^-260), so that tests with a seeded reader are
// reproducible.
func randomScalar(rnd io.Reader) (*scalar, error) {
	var buf [64]byte
	if _, err := io.ReadFull(rnd, buf[:]); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRandom, err)
	}
	return hashToScalar(buf[:], []byte(dstRandom)), nil
}

// randomScalars draws n scalars.
func randomScalars(rnd io.Reader, n int) ([]*scalar, error) {
	out := make([]*scalar, n)
	for i := range out {
		s, err := randomScalar(rnd)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

func scalarU64(v uint64) *scalar {
	var b [ScalarSize]byte
	binary.LittleEndian.PutUint64(b[:], v)
	s, err := newScalar().SetCanonicalBytes(b[:])
	if err != nil {
		panic(fmt.Sprintf("sealed: small scalar: %v", err)) // below 2^64 < ℓ
	}
	return s
}

// scalarInt returns v mod ℓ for a possibly negative v (used for Lagrange
// coefficients and by tests that forge "negative" plaintexts).
func scalarInt(v int64) *scalar {
	if v >= 0 {
		return scalarU64(uint64(v))
	}
	return newScalar().Negate(scalarU64(uint64(-v)))
}

func isZero(s *scalar) bool { return s.Equal(newScalar()) == 1 }

func scalarEq(a, b *scalar) bool { return a.Equal(b) == 1 }

func copyScalar(s *scalar) *scalar { return newScalar().Set(s) }

// gExp returns g^s (constant time).
func gExp(s *scalar) *element { return newElement().ScalarBaseMult(s) }

// mul returns e^s (multiplicative notation; constant time).
func mul(e *element, s *scalar) *element { return newElement().ScalarMult(s, e) }

// add returns a·b (the group operation).
func add(a, b *element) *element { return newElement().Add(a, b) }

// sub returns a/b.
func sub(a, b *element) *element { return newElement().Subtract(a, b) }

// neg returns 1/a.
func neg(a *element) *element { return newElement().Negate(a) }

// mulVarTime returns Π e_i^{s_i} in variable time: for verifiers only.
func mulVarTime(s []*scalar, e []*element) *element {
	return newElement().VarTimeMultiScalarMult(s, e)
}

func elementEq(a, b *element) bool { return a.Equal(b) == 1 }

func isIdentity(e *element) bool { return e.Equal(identity()) == 1 }

// orIdentity treats a nil element (the zero value of our structs) as the
// identity, so that zero-value ciphertexts and tallies are usable.
func orIdentity(e *element) *element {
	if e == nil {
		return identity()
	}
	return e
}

// ctEq returns 1 if a == b and 0 otherwise, without branching on the values.
func ctEq(a, b int) int { return subtle.ConstantTimeEq(int32(a), int32(b)) }

// selectScalar returns x if b == 1 and y if b == 0, in constant time (the
// library has no conditional move for scalars, so it moves the canonical
// encodings).
func selectScalar(b int, x, y *scalar) *scalar {
	out := y.Bytes()
	subtle.ConstantTimeCopy(b, out, x.Bytes())
	s, err := newScalar().SetCanonicalBytes(out)
	if err != nil {
		panic(fmt.Sprintf("sealed: select scalar: %v", err)) // both inputs canonical
	}
	return s
}
