package sealed

import (
	"fmt"
	"io"
	"math/bits"
)

const domainBallot = "tabella/sealed/v2/ballot"

// Ballot is a sealed ballot: one ciphertext per option plus a non-interactive
// proof that the plaintexts satisfy the Rules. The fields are unexported so a
// Ballot can only come from EncryptBallot or DecodeBallot; the ledger must
// still call VerifyBallot before tallying it.
type Ballot struct {
	options []Ciphertext // x_i ∈ {0,1}, one per option
	bits    []Ciphertext // budget ballots: the bits of Budget − Σ cost_i·x_i

	optionProofs []orProof // x_i ∈ {0,1}
	bitProofs    []orProof // each slack bit ∈ {0,1}
	rangeProof   *orProof  // Σ x_i ∈ [Min, Max]; nil when implied
	budgetProof  *orProof  // Σ cost_i·C_i · Σ 2^j·B_j / g^Budget encrypts 0; nil unless budget
}

// Ciphertexts returns the per-option ciphertexts, the part that is tallied.
func (b *Ballot) Ciphertexts() []Ciphertext { return append([]Ciphertext(nil), b.options...) }

// witness is everything the prover knows besides randomness. Honest clients
// derive it from their choices; tests build dishonest ones to check that the
// verifier rejects them.
type witness struct {
	m        []*scalar // option plaintexts
	optIdx   []int     // true branch of each option's {0,1} proof
	slack    []*scalar // slack bit plaintexts
	slackIdx []int
	rangeIdx int // true branch of the range proof: Σ x_i − Min
}

// EncryptBallot encrypts choices (choices[i] == 1 selects option i) to the
// joint key y and proves they satisfy rules. context is hashed into the proof
// and must identify the ballot's place in the election — at least the chain
// id, the initiative id and the voter's key — so the proof cannot be replayed
// by another voter or in another election. rnd must be a cryptographic
// random source (crypto/rand.Reader) outside tests.
func EncryptBallot(rnd io.Reader, y PublicKey, context []byte, choices []uint8, rules Rules) (*Ballot, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	if !y.valid() {
		return nil, fmt.Errorf("%w: invalid joint key", ErrRules)
	}
	if len(choices) != rules.Options {
		return nil, fmt.Errorf("%w: %d choices for %d options", ErrChoices, len(choices), rules.Options)
	}
	w := witness{m: make([]*scalar, len(choices)), optIdx: make([]int, len(choices))}
	// The accounting is branch-free in the choices (multiply by the 0/1
	// choice instead of "if selected"), so its timing does not reveal them;
	// only the final accept/reject decision branches.
	count, spent, carry := 0, uint64(0), uint64(0)
	for i, x := range choices {
		if x > 1 {
			return nil, fmt.Errorf("%w: choice %d is %d, want 0 or 1", ErrChoices, i, x)
		}
		w.m[i] = scalarU64(uint64(x))
		w.optIdx[i] = int(x)
		count += int(x)
		if rules.IsBudget() {
			var c uint64
			spent, c = bits.Add64(spent, rules.Costs[i]*uint64(x), 0)
			carry |= c
		}
	}
	if count < rules.Min || count > rules.Max {
		return nil, fmt.Errorf("%w: %d selections, want %d..%d", ErrChoices, count, rules.Min, rules.Max)
	}
	if carry != 0 || spent > rules.Budget {
		return nil, fmt.Errorf("%w: selections exceed the budget of %d", ErrChoices, rules.Budget)
	}
	w.rangeIdx = count - rules.Min
	slack := rules.Budget - spent
	for j := range rules.budgetBits() {
		bit := (slack >> j) & 1
		w.slack = append(w.slack, scalarU64(bit))
		w.slackIdx = append(w.slackIdx, int(bit))
	}
	return proveBallot(rnd, y.e, context, rules, w)
}

// bitValues are the values of a {0,1} proof.
var bitValues = []uint64{0, 1}

// zeroValue is the single value of the budget equality proof.
var zeroValue = []uint64{0}

// rangeValues are the allowed selection counts Min … Max.
func rangeValues(r Rules) []uint64 {
	vs := make([]uint64, 0, r.Max-r.Min+1)
	for k := r.Min; k <= r.Max; k++ {
		vs = append(vs, uint64(k))
	}
	return vs
}

// lincomb is a ciphertext derived from the ballot's own (options, then
// slack bits): Σ coef_k·C_{idx_k} / (1, g^offset). The prover evaluates it
// (eval, and evalScalar for its randomness); the verifier never does, it
// spreads each equation's coefficients over the ciphertexts instead
// (batch.go).
type lincomb struct {
	idx    []int
	coef   []uint64 // nil: every coefficient is 1
	offset uint64
}

// eval returns the ciphertext lc over cts.
func (lc lincomb) eval(cts []Ciphertext) Ciphertext {
	var e Ciphertext
	for k, i := range lc.idx {
		c := cts[i]
		if lc.coef != nil {
			c = c.scaleU64(lc.coef[k])
		}
		e = e.Add(c)
	}
	if lc.offset != 0 {
		e = e.subPlain(scalarU64(lc.offset))
	}
	return e
}

// evalScalar returns the randomness of lc's ciphertext given the
// randomness rs of cts (the offset is a plaintext and adds none).
func (lc lincomb) evalScalar(rs []*scalar) *scalar {
	s := newScalar()
	for k, i := range lc.idx {
		r := rs[i]
		if lc.coef != nil {
			r = newScalar().Multiply(r, scalarU64(lc.coef[k]))
		}
		s.Add(s, r)
	}
	return s
}

// part is one OR-proof of a ballot's statement: the ciphertext ct
// encrypts one of values.
type part struct {
	kind   string // "option", "slack bit", "range proof" or "budget proof"
	index  int    // of the option or slack bit
	ct     lincomb
	values []uint64
}

func (p part) String() string {
	if p.ct.coef == nil && len(p.ct.idx) == 1 {
		return fmt.Sprintf("%s %d", p.kind, p.index)
	}
	return p.kind
}

// statement lists the proofs a ballot under rules carries, in transcript
// order: each option is 0 or 1; each slack bit is 0 or 1; unless implied,
// the sum of the options is a count in [Min, Max]; for a budget,
// Σ cost_i·C_i · Σ 2^j·B_j / (1, g^Budget) encrypts 0, so that
// Σ cost_i·x_i + slack = Budget. Prover and verifier both follow it.
func statement(rules Rules) []part {
	n, nb := rules.Options, rules.budgetBits()
	parts := make([]part, 0, n+nb+2)
	for i := range n {
		parts = append(parts, part{"option", i, lincomb{idx: []int{i}}, bitValues})
	}
	for j := range nb {
		parts = append(parts, part{"slack bit", j, lincomb{idx: []int{n + j}}, bitValues})
	}
	if rules.needsRange() {
		lc := lincomb{idx: make([]int, n)}
		for i := range lc.idx {
			lc.idx[i] = i
		}
		parts = append(parts, part{kind: "range proof", ct: lc, values: rangeValues(rules)})
	}
	if rules.IsBudget() {
		lc := lincomb{idx: make([]int, n+nb), coef: make([]uint64, n+nb), offset: rules.Budget}
		for i := range lc.idx {
			lc.idx[i] = i
			if i < n {
				lc.coef[i] = rules.Costs[i]
			} else {
				lc.coef[i] = uint64(1) << (i - n)
			}
		}
		parts = append(parts, part{kind: "budget proof", ct: lc, values: zeroValue})
	}
	return parts
}

// proofs returns the ballot's proofs in statement order.
func (b *Ballot) proofs() []*orProof {
	out := make([]*orProof, 0, len(b.optionProofs)+len(b.bitProofs)+2)
	for i := range b.optionProofs {
		out = append(out, &b.optionProofs[i])
	}
	for j := range b.bitProofs {
		out = append(out, &b.bitProofs[j])
	}
	if b.rangeProof != nil {
		out = append(out, b.rangeProof)
	}
	if b.budgetProof != nil {
		out = append(out, b.budgetProof)
	}
	return out
}

// startBallotTranscript hashes the statement: domain, context, key, rules and
// every ciphertext. The commitments follow, in proof order.
func startBallotTranscript(y *element, context []byte, rules Rules, options, slackBits []Ciphertext) *transcript {
	tr := newTranscript(domainBallot)
	tr.bytes("context", context)
	tr.element("key", y)
	rules.appendTo(tr)
	for _, c := range options {
		tr.ciphertext("option", c)
	}
	for _, c := range slackBits {
		tr.ciphertext("slack-bit", c)
	}
	return tr
}

// proveBallot encrypts the witness and proves it, without checking that the
// witness is honest (EncryptBallot does that).
func proveBallot(rnd io.Reader, y *element, context []byte, rules Rules, w witness) (*Ballot, error) {
	rs, err := randomScalars(rnd, len(w.m))
	if err != nil {
		return nil, err
	}
	ss, err := randomScalars(rnd, len(w.slack))
	if err != nil {
		return nil, err
	}
	b := &Ballot{options: make([]Ciphertext, len(w.m)), bits: make([]Ciphertext, len(w.slack))}
	for i := range w.m {
		b.options[i] = encrypt(y, w.m[i], rs[i])
	}
	for j := range w.slack {
		b.bits[j] = encrypt(y, w.slack[j], ss[j])
	}
	tr := startBallotTranscript(y, context, rules, b.options, b.bits)

	// The ciphertext and randomness of each proof, and its true branch.
	cts := append(append([]Ciphertext(nil), b.options...), b.bits...)
	rnds := append(append([]*scalar(nil), rs...), ss...)
	real := append(append([]int(nil), w.optIdx...), w.slackIdx...)
	if rules.needsRange() {
		real = append(real, w.rangeIdx)
	}
	if rules.IsBudget() {
		real = append(real, 0)
	}
	parts := statement(rules)
	provers := make([]*orProver, len(parts))
	for k, pt := range parts {
		if provers[k], err = newORProver(rnd, tr, y, pt.ct.eval(cts), pt.values, real[k], pt.ct.evalScalar(rnds)); err != nil {
			return nil, err
		}
	}
	c := tr.challenge()
	b.optionProofs = make([]orProof, len(b.options))
	b.bitProofs = make([]orProof, len(b.bits))
	if rules.needsRange() {
		b.rangeProof = &orProof{}
	}
	if rules.IsBudget() {
		b.budgetProof = &orProof{}
	}
	for k, p := range b.proofs() {
		*p = provers[k].respond(c)
	}
	return b, nil
}

// VerifyBallot checks that ballot is well-formed for rules and that its proof
// verifies for the joint key y and the given context. It is deterministic and
// uses no randomness. A nil error means the ballot may be added to the tally.
func VerifyBallot(y PublicKey, context []byte, rules Rules, ballot *Ballot) error {
	if err := rules.Validate(); err != nil {
		return err
	}
	if !y.valid() {
		return fmt.Errorf("%w: invalid joint key", ErrRules)
	}
	if ballot == nil {
		return fmt.Errorf("%w: empty ballot", ErrShape)
	}
	switch {
	case len(ballot.options) != rules.Options || len(ballot.optionProofs) != rules.Options:
		return fmt.Errorf("%w: ballot has %d options, rules have %d", ErrShape, len(ballot.options), rules.Options)
	case len(ballot.bits) != rules.budgetBits() || len(ballot.bitProofs) != rules.budgetBits():
		return fmt.Errorf("%w: ballot has %d slack bits, rules need %d", ErrShape, len(ballot.bits), rules.budgetBits())
	case (ballot.rangeProof != nil) != rules.needsRange():
		return fmt.Errorf("%w: range proof presence does not match the rules", ErrShape)
	case (ballot.budgetProof != nil) != rules.IsBudget():
		return fmt.Errorf("%w: budget proof presence does not match the rules", ErrShape)
	}
	// The checks above make the proofs line up with the statement.
	parts, proofs := statement(rules), ballot.proofs()
	tr := startBallotTranscript(y.e, context, rules, ballot.options, ballot.bits)
	branches := 0
	for k, pt := range parts {
		if err := proofs[k].checkShape(len(pt.values)); err != nil {
			return fmt.Errorf("%s: %w", pt, err)
		}
		appendCommitments(tr, proofs[k].commits)
		branches += len(pt.values)
	}
	c := tr.challenge()
	cts := make([]Ciphertext, 0, len(ballot.options)+len(ballot.bits))
	cts = append(append(cts, ballot.options...), ballot.bits...)
	bt := newBatch(y.e, cts, c.Bytes(), 2*branches)
	for _, p := range proofs {
		p.absorbResponses(bt)
	}
	for k, pt := range parts {
		proofs[k].addEquations(bt, pt.ct, pt.values, c)
	}
	if !bt.holds() {
		return fmt.Errorf("%w: ballot proof (wrong key, context or rules, or a plaintext outside the rules)", ErrProof)
	}
	return nil
}

// Bytes returns the canonical encoding:
//
//	0xB2 ‖ u16 options ‖ u8 slackBits ‖ u8 rangeValues (0: none) ‖ u8 budget (0|1)
//	‖ options×ct ‖ slackBits×ct
//	‖ options×proof(2) ‖ slackBits×proof(2) ‖ [range: proof(k)] ‖ [budget: proof(1)]
//
// where proof(k) = k×(a ‖ b) ‖ (k−1)×c ‖ k×z. The ballot challenge is not
// sent: the verifier recomputes it from the transcript.
func (b *Ballot) Bytes() []byte {
	var w writer
	w.u8(tagBallot)
	w.u16(uint16(len(b.options)))
	w.u8(uint8(len(b.bits)))
	if b.rangeProof != nil {
		w.u8(uint8(len(b.rangeProof.z)))
	} else {
		w.u8(0)
	}
	if b.budgetProof != nil {
		w.u8(1)
	} else {
		w.u8(0)
	}
	w.ciphertexts(b.options)
	w.ciphertexts(b.bits)
	for _, p := range b.proofs() {
		p.encode(&w)
	}
	return w.buf
}

// DecodeBallot parses a canonical ballot encoding. It checks structure and
// canonicity only; call VerifyBallot for the proof.
func DecodeBallot(data []byte) (*Ballot, error) {
	r := reader{b: data}
	r.tag(tagBallot, "ballot")
	n := int(r.u16("option count"))
	nb := int(r.u8("slack bit count"))
	nr := int(r.u8("range size"))
	budget := r.u8("budget flag")
	if r.err == nil {
		switch {
		case n < 1 || n > MaxOptions:
			r.fail("ballot has %d options, want 1..%d", n, MaxOptions)
		case nb > 64:
			r.fail("ballot has %d slack bits, at most 64", nb)
		case nr > MaxRangeValues:
			r.fail("range proof over %d values, at most %d", nr, MaxRangeValues)
		case budget > 1:
			r.fail("budget flag %d", budget)
		case nb > 0 && budget == 0:
			r.fail("slack bits without a budget proof")
		}
	}
	b := &Ballot{}
	if r.need(n+nb, CiphertextSize, "ballot ciphertexts") {
		b.options = make([]Ciphertext, n)
		for i := range b.options {
			b.options[i] = r.ciphertext("option ciphertext")
		}
		b.bits = make([]Ciphertext, nb)
		for j := range b.bits {
			b.bits[j] = r.ciphertext("slack bit ciphertext")
		}
	}
	if r.need(n+nb, 4*ElementSize+3*ScalarSize, "ballot proofs") {
		for range n {
			b.optionProofs = append(b.optionProofs, decodeORProof(&r, 2, "option proof"))
		}
		for range nb {
			b.bitProofs = append(b.bitProofs, decodeORProof(&r, 2, "slack bit proof"))
		}
	}
	if nr > 0 {
		p := decodeORProof(&r, nr, "range proof")
		b.rangeProof = &p
	}
	if budget == 1 {
		p := decodeORProof(&r, 1, "budget proof")
		b.budgetProof = &p
	}
	if err := r.done("ballot"); err != nil {
		return nil, fmt.Errorf("ballot: %w", err)
	}
	return b, nil
}
