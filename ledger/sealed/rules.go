package sealed

import (
	"fmt"
	"math/bits"
)

// Bounds on what a ballot may express. They keep proof sizes and
// verification time bounded for the ledger (see docs/sealed-ballots.md).
const (
	// MaxOptions is the largest number of options of a sealed ballot.
	MaxOptions = 256
	// MaxRangeValues bounds the number of allowed selection counts
	// (Max − Min + 1) when the count needs a range proof: the proof is an
	// OR over every allowed count, so its size is linear in this number.
	MaxRangeValues = 64
)

// Rules is the public statement a ballot is proven against.
//
//   - Options: number of options; each option's ciphertext encrypts 0 or 1.
//   - Min, Max: the number of selected options lies in [Min, Max]. When
//     Min == 0 and Max == Options the constraint is implied by the per-option
//     proofs and no range proof is produced; otherwise Max − Min + 1 must be
//     at most MaxRangeValues.
//   - Costs, Budget: for budget ballots (Costs != nil, len(Costs) ==
//     Options), Σ Costs[i]·x_i ≤ Budget. All values are uint64; the sums
//     stay far below the group order (≤ 2^72), so there is no wrap-around.
type Rules struct {
	Options  int
	Min, Max int
	Costs    []uint64
	Budget   uint64
}

// Validate checks the rules are within the supported bounds.
func (r Rules) Validate() error {
	switch {
	case r.Options < 1 || r.Options > MaxOptions:
		return fmt.Errorf("%w: %d options, want 1..%d", ErrRules, r.Options, MaxOptions)
	case r.Min < 0 || r.Max < 1 || r.Min > r.Max || r.Max > r.Options:
		return fmt.Errorf("%w: selections [%d, %d] not within [0, %d] or empty", ErrRules, r.Min, r.Max, r.Options)
	case r.needsRange() && r.Max-r.Min+1 > MaxRangeValues:
		return fmt.Errorf("%w: %d allowed selection counts, at most %d supported", ErrRules, r.Max-r.Min+1, MaxRangeValues)
	case r.Costs != nil && len(r.Costs) != r.Options:
		return fmt.Errorf("%w: %d costs for %d options", ErrRules, len(r.Costs), r.Options)
	}
	return nil
}

// IsBudget reports whether the rules carry a budget constraint.
func (r Rules) IsBudget() bool { return r.Costs != nil }

func (r Rules) needsRange() bool { return !(r.Min == 0 && r.Max == r.Options) }

// budgetBits is the number of slack bits, ⌈log2(Budget+1)⌉: enough to
// represent any slack Budget − spent in [0, Budget].
func (r Rules) budgetBits() int {
	if !r.IsBudget() {
		return 0
	}
	return bits.Len64(r.Budget)
}

// appendTo adds the canonical encoding of the rules to a transcript, so a
// proof made under one set of rules never verifies under another.
func (r Rules) appendTo(t *transcript) {
	var w writer
	w.u32(uint32(r.Options))
	w.u32(uint32(r.Min))
	w.u32(uint32(r.Max))
	if r.IsBudget() {
		w.u8(1)
		w.u64(r.Budget)
		for _, c := range r.Costs {
			w.u64(c)
		}
	} else {
		w.u8(0)
	}
	t.bytes("rules", w.buf)
}
