package sealed

import (
	"fmt"
	"io"
	"slices"
)

const domainPartial = "tabella/sealed/v1/partial-decryption"

// PartialDecryption is trustee i's share of the decryption of a tally:
// D_k = A_k^{x_i} for the first component A_k of every option's ciphertext,
// with one batched DLEQ proof that log_g Y_i == log_{A_k} D_k for all k.
type PartialDecryption struct {
	index int
	d     []*element
	proof dleqProof
}

// Index is the 1-based index of the trustee that produced it.
func (p *PartialDecryption) Index() int { return p.index }

func partialStatement(context []byte, index int, yi *element, cts []Ciphertext, ds []*element) (*transcript, []*element, []*element) {
	tr := newTranscript(domainPartial)
	tr.bytes("context", context)
	tr.u64("trustee", uint64(index))
	for _, c := range cts {
		tr.ciphertext("tally", c)
	}
	bases := []*element{generator()}
	publics := []*element{yi}
	for k, c := range cts {
		bases = append(bases, orIdentity(c.a))
		publics = append(publics, ds[k])
	}
	return tr, bases, publics
}

// PartialDecrypt computes this trustee's partial decryption of tally. context
// should identify the initiative and the closing tally (e.g. chain id,
// initiative id, height) so the proof cannot be replayed elsewhere.
func (s *KeyShare) PartialDecrypt(rnd io.Reader, context []byte, tally *Tally) (*PartialDecryption, error) {
	if tally == nil || len(tally.options) == 0 {
		return nil, fmt.Errorf("%w: empty tally", ErrShape)
	}
	p := &PartialDecryption{index: s.index}
	for _, c := range tally.options {
		p.d = append(p.d, mul(orIdentity(c.a), s.x))
	}
	tr, bases, publics := partialStatement(context, s.index, gExp(s.x), tally.options, p.d)
	var err error
	if p.proof, err = proveDLEQ(rnd, tr, s.x, bases, publics); err != nil {
		return nil, err
	}
	return p, nil
}

// VerifyPartial checks a partial decryption of tally against the trustee's
// verification key yi (VerificationKey(qualified, p.Index())).
func VerifyPartial(context []byte, yi PublicKey, tally *Tally, p *PartialDecryption) error {
	if !yi.valid() {
		return fmt.Errorf("%w: invalid verification key", ErrRules)
	}
	if tally == nil || p == nil || len(p.d) != len(tally.options) || p.proof.c == nil {
		return fmt.Errorf("%w: partial decryption does not match the tally", ErrShape)
	}
	tr, bases, publics := partialStatement(context, p.index, yi.e, tally.options, p.d)
	if err := p.proof.verify(tr, bases, publics); err != nil {
		return fmt.Errorf("trustee %d's partial decryption: %w", p.index, err)
	}
	return nil
}

// lagrangeAtZero returns λ_i = Π_{j≠i} j/(j−i) for the index set.
func lagrangeAtZero(indices []int, i int) *scalar {
	num, den := scalarU64(1), scalarU64(1)
	for _, j := range indices {
		if j == i {
			continue
		}
		num.Multiply(num, scalarInt(int64(j)))
		den.Multiply(den, scalarInt(int64(j-i)))
	}
	return num.Multiply(num, newScalar().Invert(den))
}

// Combine decrypts tally from the partial decryptions of at least t
// trustees, which the caller must have checked with VerifyPartial. It uses
// the t partials with the lowest indices (deterministic), computes
// g^{m_k} = B_k / Π_i D_{i,k}^{λ_i} (Lagrange interpolation in the exponent)
// and recovers each m_k with table. It fails with ErrNotEnough for fewer than
// t distinct trustees, and with ErrOutOfRange if a count exceeds the table's
// bound (which, for a tally of verified ballots, means the partials were
// not verified).
func Combine(table *DLogTable, t int, tally *Tally, partials []*PartialDecryption) ([]uint64, error) {
	if t < 1 || t > MaxTrustees {
		return nil, fmt.Errorf("%w: threshold %d", ErrRules, t)
	}
	if table == nil || tally == nil || slices.Contains(partials, nil) {
		return nil, fmt.Errorf("%w: missing table, tally or partial decryption", ErrShape)
	}
	sorted := slices.Clone(partials)
	slices.SortFunc(sorted, func(a, b *PartialDecryption) int { return a.index - b.index })
	var use []*PartialDecryption
	for i, p := range sorted {
		if len(p.d) != len(tally.options) {
			return nil, fmt.Errorf("%w: trustee %d's partial has %d values, tally %d options", ErrShape, p.index, len(p.d), len(tally.options))
		}
		if p.index < 1 || (i > 0 && p.index == sorted[i-1].index) {
			return nil, fmt.Errorf("%w: duplicate or invalid trustee index %d", ErrShape, p.index)
		}
		if len(use) < t {
			use = append(use, p)
		}
	}
	if len(use) < t {
		return nil, fmt.Errorf("%w: %d partial decryptions, threshold %d", ErrNotEnough, len(use), t)
	}
	indices := make([]int, len(use))
	for i, p := range use {
		indices[i] = p.index
	}
	lambdas := make([]*scalar, len(use))
	for i, p := range use {
		lambdas[i] = lagrangeAtZero(indices, p.index)
	}
	out := make([]uint64, len(tally.options))
	for k, c := range tally.options {
		shared := identity()
		for i, p := range use {
			shared = add(shared, mul(p.d[k], lambdas[i]))
		}
		m, err := table.log(sub(orIdentity(c.b), shared))
		if err != nil {
			return nil, fmt.Errorf("option %d: %w", k, err)
		}
		out[k] = m
	}
	return out, nil
}

// Bytes returns the canonical encoding:
//
//	0xA1 ‖ u16 trustee ‖ u16 options ‖ options×D ‖ proof.c ‖ proof.z
func (p *PartialDecryption) Bytes() []byte {
	var w writer
	w.u8(tagPartial)
	w.u16(uint16(p.index))
	w.u16(uint16(len(p.d)))
	for _, d := range p.d {
		w.element(d)
	}
	p.proof.encode(&w)
	return w.buf
}

// DecodePartialDecryption parses a canonical partial decryption.
func DecodePartialDecryption(data []byte) (*PartialDecryption, error) {
	r := reader{b: data}
	r.tag(tagPartial, "partial decryption")
	p := &PartialDecryption{index: int(r.u16("trustee"))}
	n := int(r.u16("option count"))
	if r.err == nil && (p.index < 1 || p.index > MaxTrustees || n < 1 || n > MaxOptions) {
		r.fail("partial decryption by trustee %d of %d options", p.index, n)
	}
	if r.need(n, ElementSize, "partial decryption values") {
		for range n {
			p.d = append(p.d, r.element("partial decryption value"))
		}
	}
	p.proof = decodeDLEQ(&r, "partial decryption proof")
	if err := r.done("partial decryption"); err != nil {
		return nil, fmt.Errorf("partial decryption: %w", err)
	}
	return p, nil
}
