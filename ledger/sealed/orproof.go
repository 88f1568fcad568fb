package sealed

import (
	"fmt"
	"io"
)

// orProof is a disjunctive Chaum–Pedersen proof (Cramer–Damgård–Schoenmakers
// OR-composition) that a ciphertext C = (A, B) under key Y encrypts one of
// the public values v_0 … v_{k-1}, i.e. that for some j
//
//	log_g A == log_Y (B · g^{-v_j}).
//
// Branch j has a commitment pair (a_j, b_j), a challenge c_j and a response
// z_j, verified by a_j = g^{z_j}·A^{-c_j} and b_j = Y^{z_j}·(B·g^{-v_j})^{-c_j}.
// The branch challenges must sum to the transcript challenge c, so the prover
// can simulate all branches but one. The encoding keeps c_0 … c_{k-2} and
// z_0 … z_{k-1}; c_{k-1} = c − Σ c_j is implied, so the proof is (2k−1)
// scalars. With k = 1 and v_0 = 0 it degenerates to a plain Chaum–Pedersen
// proof that C encrypts 0 (one response, no stored challenge).
//
// The challenge c is shared by every sub-proof of a ballot (standard
// AND-composition of sigma protocols); see ballot.go.
type orProof struct {
	c []*scalar // k-1 stored branch challenges
	z []*scalar // k responses
}

// orProver holds the prover's state between the commitment and the response.
type orProver struct {
	c, z []*scalar // simulated challenges and responses (dummies at the real branch)
	w    *scalar   // nonce of the real branch
	r    *scalar   // the ciphertext's randomness (the witness)
	real int       // index of the true branch (secret)
}

// branchTarget returns B·g^{-v} (given gv = g^v), which equals Y^r when C
// encrypts v. The values are passed as precomputed g^v because the same few
// values recur in every proof of a ballot and a base-point multiplication is
// a noticeable part of verification.
func branchTarget(ct Ciphertext, gv *element) *element {
	return sub(orIdentity(ct.b), gv)
}

// commitments returns (g^z·A^{-c}, Y^z·t^{-c}): for a simulated branch the
// commitments that make (c, z) verify against target t, and for c = 0 and
// z = w the real branch's commitments (g^w, Y^w). Constant time: the prover
// calls it with secret-dependent scalars.
func commitments(y, A, t *element, c, z *scalar) (*element, *element) {
	nc := newScalar().Negate(c)
	a := add(gExp(z), mul(A, nc))
	b := add(mul(y, z), mul(t, nc))
	return a, b
}

// newORProver draws the nonces, commits, and appends the commitments of
// every branch to tr. Every branch does the same work: the real one is the
// simulated formula with challenge 0 and response w, chosen by constant-time
// scalar moves, so neither timing nor memory access reveals which is true.
func newORProver(rnd io.Reader, tr *transcript, y *element, ct Ciphertext, gvalues []*element, real int, r *scalar) (*orProver, error) {
	k := len(gvalues)
	cs, err := randomScalars(rnd, k)
	if err != nil {
		return nil, err
	}
	zs, err := randomScalars(rnd, k)
	if err != nil {
		return nil, err
	}
	w, err := randomScalar(rnd)
	if err != nil {
		return nil, err
	}
	zero := newScalar()
	A := orIdentity(ct.a)
	for j, gv := range gvalues {
		isReal := ctEq(j, real)
		a, b := commitments(y, A, branchTarget(ct, gv), selectScalar(isReal, zero, cs[j]), selectScalar(isReal, w, zs[j]))
		tr.element("a", a)
		tr.element("b", b)
	}
	return &orProver{c: cs, z: zs, w: w, r: r, real: real}, nil
}

// respond completes the proof for the transcript challenge c.
func (p *orProver) respond(c *scalar) orProof {
	k := len(p.c)
	zero := newScalar()
	// The real branch gets c minus the simulated challenges.
	cr := copyScalar(c)
	for j := range k {
		cr.Subtract(cr, selectScalar(ctEq(j, p.real), zero, p.c[j]))
	}
	zr := newScalar().Multiply(cr, p.r)
	zr.Add(zr, p.w)
	out := orProof{c: make([]*scalar, k-1), z: make([]*scalar, k)}
	for j := range k {
		isReal := ctEq(j, p.real)
		if j < k-1 {
			out.c[j] = selectScalar(isReal, cr, p.c[j])
		}
		out.z[j] = selectScalar(isReal, zr, p.z[j])
	}
	return out
}

// commit recomputes the commitments from the proof and appends them to tr,
// exactly in the order newORProver did. It fails only on a shape mismatch;
// whether the proof is valid is decided when the caller compares the
// transcript challenge with c.
func (p orProof) commit(tr *transcript, y *element, ct Ciphertext, gvalues []*element, c *scalar) error {
	k := len(gvalues)
	if len(p.z) != k || len(p.c) != k-1 {
		return fmt.Errorf("%w: OR-proof has %d challenges and %d responses, want %d and %d", ErrShape, len(p.c), len(p.z), k-1, k)
	}
	last := copyScalar(c)
	for _, cj := range p.c {
		last.Subtract(last, cj)
	}
	// Public values only: variable-time double multiplications, about
	// twice as fast as two constant-time ones.
	A := orIdentity(ct.a)
	for j, gv := range gvalues {
		cj := last
		if j < k-1 {
			cj = p.c[j]
		}
		nc := newScalar().Negate(cj)
		tr.element("a", gExpMulVarTime(p.z[j], A, nc))
		tr.element("b", mulVarTime([]*scalar{p.z[j], nc}, []*element{y, branchTarget(ct, gv)}))
	}
	return nil
}

func (p orProof) encode(w *writer) {
	for _, c := range p.c {
		w.scalar(c)
	}
	for _, z := range p.z {
		w.scalar(z)
	}
}

func decodeORProof(r *reader, k int, what string) orProof {
	if !r.need(2*k-1, ScalarSize, what) {
		return orProof{}
	}
	p := orProof{c: make([]*scalar, k-1), z: make([]*scalar, k)}
	for j := range p.c {
		p.c[j] = r.scalar(what + " challenge")
	}
	for j := range p.z {
		p.z[j] = r.scalar(what + " response")
	}
	return p
}
