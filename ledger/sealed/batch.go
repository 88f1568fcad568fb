package sealed

import (
	"crypto/sha3"
	"encoding/binary"
)

const domainWeights = "tabella/sealed/v2/batch-weights"

// batch checks many verification equations of the form Σ s_i·P_i = 0 (in
// additive notation) with one variable-time multi-scalar multiplication:
// each equation is scaled by its own 128-bit weight and the sum must be the
// identity. If any single equation fails, the sum is the identity with
// probability at most 2^-128 over the weights, because the group has prime
// order.
//
// The weights must be unpredictable to whoever wrote the equations, yet
// every node must draw the same ones (verification is part of consensus).
// They are therefore derived from a hash of everything the prover chose —
// the Fiat–Shamir challenge, which binds the statement and every commitment,
// followed by every response — so a prover who changes anything to aim at
// particular weights gets fresh ones (a random-oracle argument, the same as
// for Fiat–Shamir itself).
//
// The generator and the joint key appear in almost every equation, so their
// coefficients are accumulated apart and each enters the multiplication
// once.
type batch struct {
	key     *element // the joint key Y
	g, y    *scalar  // coefficients of the generator and of Y
	scalars []*scalar
	points  []*element
	weights sha3.SHAKE

	// The ballot's ciphertexts (options, then slack bits) and the
	// coefficients of their halves, also collected over every equation.
	cts      []Ciphertext
	ctA, ctB []*scalar
}

// spread adds alpha·A + beta·B of the ciphertext lc to the batch, as terms
// of the ciphertexts lc is made of.
func (lc lincomb) spread(bt *batch, alpha, beta *scalar) {
	for k, i := range lc.idx {
		a, b := alpha, beta
		if lc.coef != nil {
			f := scalarU64(lc.coef[k])
			a, b = newScalar().Multiply(alpha, f), newScalar().Multiply(beta, f)
		}
		bt.ctA[i].Add(bt.ctA[i], a)
		bt.ctB[i].Add(bt.ctB[i], b)
	}
	if lc.offset != 0 {
		bt.g.Subtract(bt.g, newScalar().Multiply(beta, scalarU64(lc.offset)))
	}
}

// newBatch starts a batch over the ciphertexts cts whose weights are
// derived from seed (the caller feeds the rest of the prover's choices with
// absorb before the first weight is drawn). terms sizes the buffers.
func newBatch(key *element, cts []Ciphertext, seed []byte, terms int) *batch {
	terms += 2*len(cts) + 2
	b := &batch{key: key, g: newScalar(), y: newScalar(), cts: cts,
		scalars: make([]*scalar, 0, terms), points: make([]*element, 0, terms),
		ctA: make([]*scalar, len(cts)), ctB: make([]*scalar, len(cts))}
	for i := range cts {
		b.ctA[i], b.ctB[i] = newScalar(), newScalar()
	}
	b.weights = *sha3.NewSHAKE128()
	b.absorb([]byte(domainWeights))
	b.absorb(seed)
	return b
}

// absorb feeds length-framed data into the weight derivation.
func (b *batch) absorb(data []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(data)))
	b.weights.Write(n[:])
	b.weights.Write(data)
}

// weight draws the next 128-bit weight.
func (b *batch) weight() *scalar {
	var buf [ScalarSize]byte
	b.weights.Read(buf[:16])
	s, err := newScalar().SetCanonicalBytes(buf[:])
	if err != nil {
		panic("sealed: 128-bit weight not canonical") // < 2^128 < ℓ
	}
	return s
}

// term adds s·P.
func (b *batch) term(s *scalar, p *element) {
	b.scalars = append(b.scalars, s)
	b.points = append(b.points, p)
}

// holds reports whether the weighted sum of every equation is the identity.
func (b *batch) holds() bool {
	for i, c := range b.cts {
		b.term(b.ctA[i], orIdentity(c.a))
		b.term(b.ctB[i], orIdentity(c.b))
	}
	scalars := append(b.scalars, b.g, b.y)
	points := append(b.points, generator(), b.key)
	return isIdentity(mulVarTime(scalars, points))
}
