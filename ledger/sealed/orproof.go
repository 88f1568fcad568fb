package sealed

import (
	"fmt"
	"io"

	"github.com/cloudflare/circl/group"
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
	c []group.Scalar // k-1 stored branch challenges
	z []group.Scalar // k responses
}

// orProver holds the prover's state between the commitment and the response.
type orProver struct {
	c, z []group.Scalar // simulated challenges and responses (dummies at the real branch)
	w    group.Scalar   // nonce of the real branch
	r    group.Scalar   // the ciphertext's randomness (the witness)
	real int            // index of the true branch (secret)
}

// branchTarget returns B·g^{-v} (given gv = g^v), which equals Y^r when C
// encrypts v. The values are passed as precomputed g^v because the same few
// values recur in every proof of a ballot and a base-point multiplication is
// a noticeable part of verification.
func branchTarget(ct Ciphertext, gv group.Element) group.Element {
	return sub(orIdentity(ct.b), gv)
}

// simulated returns the commitments (a, b) that make (c, z) verify for the
// branch whose target is t.
func simulated(y, A, t group.Element, c, z group.Scalar) (group.Element, group.Element) {
	nc := grp.NewScalar().Neg(c)
	a := add(gExp(z), mul(A, nc))
	b := add(mul(y, z), mul(t, nc))
	return a, b
}

// newORProver draws the nonces, commits, and appends the commitments of
// every branch to tr. The true branch is selected with constant-time moves:
// every branch computes both a simulated and a real commitment so that the
// work and the memory access pattern do not depend on which one is true.
func newORProver(rnd io.Reader, tr *transcript, y group.Element, ct Ciphertext, gvalues []group.Element, real int, r group.Scalar) (*orProver, error) {
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
	ga, yw := gExp(w), mul(y, w)
	for j, gv := range gvalues {
		fa, fb := simulated(y, ct.a, branchTarget(ct, gv), cs[j], zs[j])
		isReal := ctEq(j, real)
		tr.element("a", selectElement(isReal, ga, fa))
		tr.element("b", selectElement(isReal, yw, fb))
	}
	return &orProver{c: cs, z: zs, w: w, r: r, real: real}, nil
}

// respond completes the proof for the transcript challenge c.
func (p *orProver) respond(c group.Scalar) orProof {
	k := len(p.c)
	zero := grp.NewScalar()
	// The real branch gets c minus the simulated challenges.
	cr := c.Copy()
	for j := range k {
		cr.Sub(cr, selectScalar(ctEq(j, p.real), zero, p.c[j]))
	}
	zr := grp.NewScalar().Mul(cr, p.r)
	zr.Add(zr, p.w)
	out := orProof{c: make([]group.Scalar, k-1), z: make([]group.Scalar, k)}
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
func (p orProof) commit(tr *transcript, y group.Element, ct Ciphertext, gvalues []group.Element, c group.Scalar) error {
	k := len(gvalues)
	if len(p.z) != k || len(p.c) != k-1 {
		return fmt.Errorf("%w: OR-proof has %d challenges and %d responses, want %d and %d", ErrShape, len(p.c), len(p.z), k-1, k)
	}
	last := c.Copy()
	for _, cj := range p.c {
		last.Sub(last, cj)
	}
	A := orIdentity(ct.a)
	for j, gv := range gvalues {
		cj := last
		if j < k-1 {
			cj = p.c[j]
		}
		a, b := simulated(y, A, branchTarget(ct, gv), cj, p.z[j])
		tr.element("a", a)
		tr.element("b", b)
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
	p := orProof{c: make([]group.Scalar, k-1), z: make([]group.Scalar, k)}
	for j := range p.c {
		p.c[j] = r.scalar(what + " challenge")
	}
	for j := range p.z {
		p.z[j] = r.scalar(what + " response")
	}
	return p
}
