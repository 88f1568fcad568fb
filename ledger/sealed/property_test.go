package sealed

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// randomRules draws rules of every kind: approval, single choice, bounded
// selections and budgets.
func randomRules(r *rand.Rand) Rules {
	n := 1 + r.IntN(6)
	lo := r.IntN(n + 1)
	hi := lo + r.IntN(n-lo+1)
	if hi == 0 {
		hi = 1
		lo = min(lo, hi)
	}
	rules := Rules{Options: n, Min: lo, Max: hi}
	if r.IntN(3) == 0 {
		rules.Min = 0
		rules.Costs = make([]uint64, n)
		for i := range rules.Costs {
			rules.Costs[i] = uint64(r.IntN(100))
		}
		rules.Budget = uint64(r.IntN(250))
	}
	return rules
}

// randomChoices draws a valid selection by rejection sampling (nil if none
// was found quickly, e.g. a budget too small for Min).
func randomChoices(r *rand.Rand, rules Rules) []uint8 {
	for range 200 {
		c := make([]uint8, rules.Options)
		count, spent := 0, uint64(0)
		for i := range c {
			if r.IntN(2) == 1 {
				c[i] = 1
				count++
				if rules.IsBudget() {
					spent += rules.Costs[i]
				}
			}
		}
		if count >= rules.Min && count <= rules.Max && (!rules.IsBudget() || spent <= rules.Budget) {
			return c
		}
	}
	return nil
}

// TestHomomorphicTallyMatchesPlaintext casts random valid ballots (with
// revotes that supersede earlier ones) and checks that the decrypted
// encrypted tally equals the plaintext reference tally.
func TestHomomorphicTallyMatchesPlaintext(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	rnd := testRand(7)
	x, y := testKey(t, rnd)
	table, err := NewDLogTable(1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 12 {
		rules := randomRules(r)
		if err := rules.Validate(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		tally, _ := NewTally(rules.Options)
		want := make([]uint64, rules.Options)
		live := map[int]*Ballot{}
		liveChoices := map[int][]uint8{}
		for v := range 15 {
			voter := r.IntN(8)
			choices := randomChoices(r, rules)
			if choices == nil {
				continue
			}
			ctx := fmt.Appendf(nil, "round-%d/voter-%d/seq-%d", round, voter, v)
			b, err := EncryptBallot(rnd, y, ctx, choices, rules)
			if err != nil {
				t.Fatalf("round %d rules %+v choices %v: %v", round, rules, choices, err)
			}
			b, err = DecodeBallot(b.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyBallot(y, ctx, rules, b); err != nil {
				t.Fatalf("round %d rules %+v choices %v: %v", round, rules, choices, err)
			}
			if old, ok := live[voter]; ok { // revote: the old ballot leaves the tally
				if err := tally.Sub(old); err != nil {
					t.Fatal(err)
				}
				for i, c := range liveChoices[voter] {
					want[i] -= uint64(c)
				}
			}
			if err := tally.Add(b); err != nil {
				t.Fatal(err)
			}
			for i, c := range choices {
				want[i] += uint64(c)
			}
			live[voter], liveChoices[voter] = b, choices
		}
		tally, err = DecodeTally(tally.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range tally.Ciphertexts() {
			gm := sub(orIdentity(c.b), mul(orIdentity(c.a), x))
			got, err := table.log(gm)
			if err != nil {
				t.Fatalf("round %d option %d: %v", round, i, err)
			}
			if got != want[i] {
				t.Fatalf("round %d option %d: tally %d, reference %d", round, i, got, want[i])
			}
		}
	}
}

func TestDLogTable(t *testing.T) {
	for _, tc := range []struct{ bound, baby uint64 }{{0, 0}, {1, 0}, {10, 3}, {1000, 0}, {1000, 1}, {1000, 5000}, {1 << 20, 1 << 12}} {
		table, err := NewDLogTable(tc.bound, tc.baby)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []uint64{0, min(1, tc.bound), tc.bound / 2, tc.bound - min(tc.bound, 1), tc.bound} {
			got, err := table.log(gExp(scalarU64(m)))
			if err != nil || got != m {
				t.Fatalf("bound %d baby %d: log(g^%d) = %d, %v", tc.bound, tc.baby, m, got, err)
			}
		}
		if _, err := table.log(gExp(scalarU64(tc.bound + 1))); err == nil {
			t.Fatalf("bound %d: value above the bound recovered", tc.bound)
		}
		if _, err := table.log(gExp(scalarInt(-1))); err == nil {
			t.Fatalf("bound %d: -1 recovered", tc.bound)
		}
	}
	if _, err := NewDLogTable(MaxDLogBound+1, 0); err == nil {
		t.Fatal("bound above MaxDLogBound accepted")
	}
}
