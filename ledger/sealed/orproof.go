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
// z_j, and verifies when
//
//	g^{z_j} = a_j·A^{c_j}   and   Y^{z_j} = b_j·(B·g^{-v_j})^{c_j}.
//
// The branch challenges must sum to the transcript challenge c, so the prover
// can simulate all branches but one. The encoding keeps the commitments,
// c_0 … c_{k-2} and z_0 … z_{k-1}; c_{k-1} = c − Σ c_j is implied. Carrying
// the commitments (rather than recomputing them from (c, z), which would
// make the proof about half as long) is what lets a verifier check every
// equation of a ballot in one batched multi-scalar multiplication; see batch.
// With k = 1 and v_0 = 0 it degenerates to a plain Chaum–Pedersen proof that
// C encrypts 0.
//
// The challenge c is shared by every sub-proof of a ballot (standard
// AND-composition of sigma protocols); see ballot.go.
type orProof struct {
	a, b    []*element // k commitment pairs
	commits []byte     // their encodings, a_0 ‖ b_0 ‖ a_1 ‖ …, as hashed and sent
	c       []*scalar  // k-1 stored branch challenges
	z       []*scalar  // k responses
}

// orProver holds the prover's state between the commitment and the response.
type orProver struct {
	a, b    []*element
	commits []byte
	c, z    []*scalar // simulated challenges and responses (dummies at the real branch)
	w       *scalar   // nonce of the real branch
	r       *scalar   // the ciphertext's randomness (the witness)
	real    int       // index of the true branch (secret)
}

// branchTarget returns B·g^{-v} (given gv = g^v), which equals Y^r when C
// encrypts v.
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
func newORProver(rnd io.Reader, tr *transcript, y *element, ct Ciphertext, values []uint64, real int, r *scalar) (*orProver, error) {
	k := len(values)
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
	p := &orProver{c: cs, z: zs, w: w, r: r, real: real, commits: make([]byte, 0, 2*k*ElementSize)}
	zero := newScalar()
	A := orIdentity(ct.a)
	for j, v := range values {
		isReal := ctEq(j, real)
		a, b := commitments(y, A, branchTarget(ct, gExp(scalarU64(v))), selectScalar(isReal, zero, cs[j]), selectScalar(isReal, w, zs[j]))
		p.a, p.b = append(p.a, a), append(p.b, b)
		p.commits = append(p.commits, encodeElement(a)...)
		p.commits = append(p.commits, encodeElement(b)...)
	}
	appendCommitments(tr, p.commits)
	return p, nil
}

// appendCommitments hashes a proof's commitments in branch order.
func appendCommitments(tr *transcript, commits []byte) {
	for off := 0; off < len(commits); off += 2 * ElementSize {
		tr.bytes("a", commits[off:off+ElementSize])
		tr.bytes("b", commits[off+ElementSize:off+2*ElementSize])
	}
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
	out := orProof{a: p.a, b: p.b, commits: p.commits, c: make([]*scalar, k-1), z: make([]*scalar, k)}
	for j := range k {
		isReal := ctEq(j, p.real)
		if j < k-1 {
			out.c[j] = selectScalar(isReal, cr, p.c[j])
		}
		out.z[j] = selectScalar(isReal, zr, p.z[j])
	}
	return out
}

// checkShape reports whether the proof has k branches.
func (p orProof) checkShape(k int) error {
	if len(p.z) != k || len(p.c) != k-1 || len(p.a) != k || len(p.b) != k || len(p.commits) != 2*k*ElementSize {
		return fmt.Errorf("%w: OR-proof has %d challenges and %d responses, want %d and %d", ErrShape, len(p.c), len(p.z), k-1, k)
	}
	return nil
}

// absorbResponses feeds the proof's challenges and responses into the batch
// weights.
func (p orProof) absorbResponses(bt *batch) {
	for _, c := range p.c {
		bt.absorb(c.Bytes())
	}
	for _, z := range p.z {
		bt.absorb(z.Bytes())
	}
}

// addEquations adds both equations of every branch, each with its own
// weight, for the ciphertext lc (which the batch knows as a combination of
// the ballot's ciphertexts) and the transcript challenge c. The proof's
// shape must have been checked.
//
// With weights ρ_j, σ_j the two equations of branch j contribute
//
//	ρ_j·(z_j·g − c_j·A − a_j) + σ_j·(z_j·Y − c_j·B + c_j·v_j·g − b_j),
//
// and the A and B terms of all branches are collected into one coefficient
// each before they are spread over the ciphertexts that make up lc.
func (p orProof) addEquations(bt *batch, lc lincomb, values []uint64, c *scalar) {
	last := copyScalar(c)
	for _, cj := range p.c {
		last.Subtract(last, cj)
	}
	alpha, beta := newScalar(), newScalar() // −Σ ρ_j·c_j, −Σ σ_j·c_j
	t := newScalar()
	for j, v := range values {
		cj := last
		if j < len(p.c) {
			cj = p.c[j]
		}
		rho, sigma := bt.weight(), bt.weight()
		sc := newScalar().Multiply(sigma, cj)
		alpha.Subtract(alpha, t.Multiply(rho, cj))
		beta.Subtract(beta, sc)
		bt.g.Add(bt.g, t.Multiply(rho, p.z[j]))
		if v != 0 {
			bt.g.Add(bt.g, t.Multiply(sc, scalarU64(v)))
		}
		bt.y.Add(bt.y, t.Multiply(sigma, p.z[j]))
		bt.term(rho.Negate(rho), p.a[j])
		bt.term(sigma.Negate(sigma), p.b[j])
	}
	lc.spread(bt, alpha, beta)
}

func (p orProof) encode(w *writer) {
	w.buf = append(w.buf, p.commits...)
	for _, c := range p.c {
		w.scalar(c)
	}
	for _, z := range p.z {
		w.scalar(z)
	}
}

func decodeORProof(r *reader, k int, what string) orProof {
	if !r.need(k, 2*ElementSize+ScalarSize, what) {
		return orProof{}
	}
	raw := r.take(2*k*ElementSize, what+" commitments")
	if raw == nil {
		return orProof{}
	}
	p := orProof{a: make([]*element, k), b: make([]*element, k), c: make([]*scalar, k-1), z: make([]*scalar, k),
		commits: append([]byte(nil), raw...)}
	cr := reader{b: raw}
	for j := range k {
		p.a[j] = cr.element(what + " commitment")
		p.b[j] = cr.element(what + " commitment")
	}
	if cr.err != nil && r.err == nil {
		r.err = cr.err
	}
	for j := range p.c {
		p.c[j] = r.scalar(what + " challenge")
	}
	for j := range p.z {
		p.z[j] = r.scalar(what + " response")
	}
	return p
}
