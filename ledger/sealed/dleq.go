package sealed

import (
	"fmt"
	"io"
)

// dleqProof is a Chaum–Pedersen proof that the prover knows x with
// P_k = B_k^x for every pair (B_k, P_k): one nonce w, commitments B_k^w, one
// challenge c, one response z = w + c·x. With one pair (g, X) it is a Schnorr
// proof of knowledge of log_g X. Stored as (c, z); the verifier recomputes the
// commitments as B_k^z·P_k^{-c} and checks that the transcript hashes to c.
type dleqProof struct{ c, z *scalar }

// appendStatement hashes the bases and the public values.
func appendStatement(tr *transcript, bases, publics []*element) {
	tr.u64("pairs", uint64(len(bases)))
	for k := range bases {
		tr.element("base", bases[k])
		tr.element("public", publics[k])
	}
}

// proveDLEQ appends the statement and the commitments to tr, whose earlier
// fields must name the proof and its context.
func proveDLEQ(rnd io.Reader, tr *transcript, x *scalar, bases, publics []*element) (dleqProof, error) {
	w, err := randomScalar(rnd)
	if err != nil {
		return dleqProof{}, err
	}
	appendStatement(tr, bases, publics)
	for _, b := range bases {
		tr.element("commit", mul(b, w))
	}
	c := tr.challenge()
	z := newScalar().Multiply(c, x)
	z.Add(z, w)
	return dleqProof{c: c, z: z}, nil
}

func (p dleqProof) verify(tr *transcript, bases, publics []*element) error {
	if p.c == nil || p.z == nil || len(bases) != len(publics) {
		return fmt.Errorf("%w: malformed DLEQ proof", ErrProof)
	}
	appendStatement(tr, bases, publics)
	nc := newScalar().Negate(p.c)
	for k, b := range bases {
		tr.element("commit", mulVarTime([]*scalar{p.z, nc}, []*element{b, publics[k]}))
	}
	if !scalarEq(tr.challenge(), p.c) {
		return ErrProof
	}
	return nil
}

func (p dleqProof) encode(w *writer) { w.scalar(p.c); w.scalar(p.z) }

func decodeDLEQ(r *reader, what string) dleqProof {
	return dleqProof{c: r.scalar(what + " challenge"), z: r.scalar(what + " response")}
}
