package sealed

import "fmt"

// Tally is the running encrypted count: one ciphertext per option, the
// homomorphic sum of every counted ballot. The zero value is not usable; use
// NewTally. Tally methods mutate the receiver (the ledger keeps one per
// sealed initiative and updates it in O(options) per ballot).
type Tally struct{ options []Ciphertext }

// NewTally returns an empty tally (every option an encryption of 0).
func NewTally(options int) (*Tally, error) {
	if options < 1 || options > MaxOptions {
		return nil, fmt.Errorf("%w: %d options, want 1..%d", ErrRules, options, MaxOptions)
	}
	return &Tally{options: make([]Ciphertext, options)}, nil
}

// Add counts a verified ballot.
func (t *Tally) Add(b *Ballot) error {
	if b == nil || len(b.options) != len(t.options) {
		return fmt.Errorf("%w: ballot does not match the tally's %d options", ErrShape, len(t.options))
	}
	for i, c := range b.options {
		t.options[i] = t.options[i].Add(c)
	}
	return nil
}

// Sub removes a ballot previously added (a superseded revote).
func (t *Tally) Sub(b *Ballot) error {
	if b == nil || len(b.options) != len(t.options) {
		return fmt.Errorf("%w: ballot does not match the tally's %d options", ErrShape, len(t.options))
	}
	for i, c := range b.options {
		t.options[i] = t.options[i].Sub(c)
	}
	return nil
}

// Ciphertexts returns a copy of the per-option ciphertexts.
func (t *Tally) Ciphertexts() []Ciphertext { return append([]Ciphertext(nil), t.options...) }

// Bytes returns the canonical encoding: 0x71 ‖ u16 options ‖ options×ciphertext.
func (t *Tally) Bytes() []byte {
	var w writer
	w.u8(tagTally)
	w.u16(uint16(len(t.options)))
	w.ciphertexts(t.options)
	return w.buf
}

// DecodeTally parses a canonical tally.
func DecodeTally(data []byte) (*Tally, error) {
	r := reader{b: data}
	r.tag(tagTally, "tally")
	n := int(r.u16("option count"))
	if r.err == nil && (n < 1 || n > MaxOptions) {
		r.fail("tally has %d options, want 1..%d", n, MaxOptions)
	}
	t := &Tally{}
	if r.need(n, CiphertextSize, "tally ciphertexts") {
		t.options = make([]Ciphertext, n)
		for i := range t.options {
			t.options[i] = r.ciphertext("tally ciphertext")
		}
	}
	if err := r.done("tally"); err != nil {
		return nil, fmt.Errorf("tally: %w", err)
	}
	return t, nil
}
