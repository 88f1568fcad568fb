package sealed

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Bounds of DLogTable: at most 2^24 baby steps (≈ 24 bytes per entry in
// memory) and plaintexts up to 2^40 (a lookup then takes up to 2^16 giant
// steps with the largest table).
const (
	MaxBabySteps = 1 << 24
	MaxDLogBound = 1 << 40
)

// DLogTable recovers m from g^m for 0 ≤ m ≤ Bound by baby-step giant-step.
// Building it costs BabySteps group additions and encodings; each lookup
// costs at most ⌈(Bound+1)/BabySteps⌉ giant steps. Build it once and reuse it
// for every option of a tally (it is read-only after construction, so
// concurrent lookups are safe). This works on public values only and is not
// constant-time.
type DLogTable struct {
	bound, m uint64
	baby     map[uint64]uint32   // first 8 bytes of enc(g^j) → j
	extra    map[uint64][]uint32 // the rare 64-bit prefix collisions
	giant    *element            // g^{-m}
}

// NewDLogTable builds a table for plaintexts up to bound. babySteps = 0
// picks ⌈√(bound+1)⌉, which minimises build + one lookup; a larger table
// makes each lookup cheaper when many values are decrypted.
func NewDLogTable(bound, babySteps uint64) (*DLogTable, error) {
	if bound > MaxDLogBound {
		return nil, fmt.Errorf("%w: bound %d above %d", ErrRules, bound, uint64(MaxDLogBound))
	}
	if babySteps == 0 {
		babySteps = uint64(math.Ceil(math.Sqrt(float64(bound) + 1)))
	}
	babySteps = min(babySteps, MaxBabySteps, bound+1)
	t := &DLogTable{bound: bound, m: babySteps, baby: make(map[uint64]uint32, babySteps), extra: map[uint64][]uint32{}}
	acc := identity()
	g := generator()
	for j := uint64(0); j < babySteps; j++ {
		key := prefix(acc)
		if _, dup := t.baby[key]; dup {
			t.extra[key] = append(t.extra[key], uint32(j))
		} else {
			t.baby[key] = uint32(j)
		}
		acc = add(acc, g)
	}
	t.giant = neg(acc) // acc = g^m
	return t, nil
}

// Bound is the largest plaintext the table recovers.
func (t *DLogTable) Bound() uint64 { return t.bound }

func prefix(e *element) uint64 { return binary.LittleEndian.Uint64(encodeElement(e)) }

// log returns m with g^m == e and m ≤ Bound, or ErrOutOfRange.
func (t *DLogTable) log(e *element) (uint64, error) {
	cur := newElement().Set(e)
	for i := uint64(0); i*t.m <= t.bound; i++ {
		key := prefix(cur)
		cands := t.extra[key]
		if j, ok := t.baby[key]; ok {
			cands = append([]uint32{j}, cands...)
		}
		for _, j := range cands {
			m := i*t.m + uint64(j)
			if m <= t.bound && elementEq(gExp(scalarU64(m)), e) {
				return m, nil
			}
		}
		cur = add(cur, t.giant)
	}
	return 0, fmt.Errorf("%w: above %d", ErrOutOfRange, t.bound)
}
