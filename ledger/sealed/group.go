package sealed

import (
	"crypto/subtle"
	"fmt"
	"io"

	"github.com/cloudflare/circl/group"
)

// grp is the prime-order group every value of this package lives in. The
// circl group value is stateless; nothing here is mutated.
var grp = group.Ristretto255

// Sizes of the canonical encodings.
const (
	ElementSize = 32 // a ristretto255 element
	ScalarSize  = 32 // a scalar mod ℓ, little-endian
)

const dstRandom = "tabella/sealed/v1/random-scalar"

// randomScalar draws a uniform scalar from rnd. circl's RandomScalar ignores
// its reader (it always uses crypto/rand), which would make tests
// non-reproducible, so we read 64 bytes ourselves and reduce them with the
// group's hash-to-scalar (bias ≈ 2^-260).
func randomScalar(rnd io.Reader) (group.Scalar, error) {
	var buf [64]byte
	if _, err := io.ReadFull(rnd, buf[:]); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRandom, err)
	}
	return grp.HashToScalar(buf[:], []byte(dstRandom)), nil
}

// randomScalars draws n scalars.
func randomScalars(rnd io.Reader, n int) ([]group.Scalar, error) {
	out := make([]group.Scalar, n)
	for i := range out {
		s, err := randomScalar(rnd)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

func scalarU64(v uint64) group.Scalar { return grp.NewScalar().SetUint64(v) }

// scalarInt returns v mod ℓ for a possibly negative v (used for Lagrange
// coefficients and by tests that forge "negative" plaintexts).
func scalarInt(v int64) group.Scalar {
	if v >= 0 {
		return scalarU64(uint64(v))
	}
	return grp.NewScalar().Neg(scalarU64(uint64(-v)))
}

// gExp returns g^s.
func gExp(s group.Scalar) group.Element { return grp.NewElement().MulGen(s) }

// mul returns e^s (multiplicative notation; circl's Mul is the scalar action).
func mul(e group.Element, s group.Scalar) group.Element { return grp.NewElement().Mul(e, s) }

// add returns a·b (the group operation).
func add(a, b group.Element) group.Element { return grp.NewElement().Add(a, b) }

// sub returns a/b.
func sub(a, b group.Element) group.Element {
	return grp.NewElement().Add(a, grp.NewElement().Neg(b))
}

// orIdentity treats a nil element (the zero value of our structs) as the
// identity, so that zero-value ciphertexts and tallies are usable.
func orIdentity(e group.Element) group.Element {
	if e == nil {
		return grp.Identity()
	}
	return e
}

// ctEq returns 1 if a == b and 0 otherwise, without branching on the values.
func ctEq(a, b int) int { return subtle.ConstantTimeEq(int32(a), int32(b)) }

// selectScalar returns x if b == 1 and y if b == 0, in constant time.
func selectScalar(b int, x, y group.Scalar) group.Scalar {
	return grp.NewScalar().CSelect(b, x, y)
}

// selectElement returns x if b == 1 and y if b == 0, in constant time.
func selectElement(b int, x, y group.Element) group.Element {
	return grp.NewElement().CSelect(b, x, y)
}
