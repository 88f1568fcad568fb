package ledger_test

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// refBallotCode is the budget ballot rule stated independently: the count
// bounds, then the total cost against the rule.
func refBallotCode(mask uint32, costs []uint64, b *tabellav1.Budget, minSel, maxSel uint32) ledger.Code {
	n := uint32(bits.OnesCount32(mask))
	if n < minSel || (maxSel > 0 && n > maxSel) {
		return ledger.CodeSelectionCount
	}
	var sum uint64
	for i := range costs {
		if mask&(1<<i) != 0 {
			sum += costs[i]
		}
	}
	switch b.BallotRule {
	case tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_WITHIN_BUDGET:
		if sum > b.Total {
			return ledger.CodeOverBudget
		}
	case tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_MIN_SHARE:
		if sum > b.Total {
			return ledger.CodeOverBudget
		}
		// At least min_share_bp / 10000 of the total, exactly: compare
		// sum/total with bp/10000 as fractions.
		if float64(sum)*10000 < float64(b.MinShareBp)*float64(b.Total) {
			return ledger.CodeBelowMinShare
		}
	}
	return ledger.CodeOK
}

// refRanks gives each project its rank: the number of projects that beat
// it (more votes; equal votes and cheaper; equal votes and cost and a lower
// index).
func refRanks(counts, costs []uint64) []int {
	rank := make([]int, len(counts))
	for p := range counts {
		for q := range counts {
			if counts[q] > counts[p] || counts[q] == counts[p] && (costs[q] < costs[p] || costs[q] == costs[p] && q < p) {
				rank[p]++
			}
		}
	}
	return rank
}

// refFunded finds, among every subset of projects, the ones that are a
// greedy funding: only projects with votes, and each project with votes is
// in the subset exactly when its cost fits in what the subset's
// better-ranked projects leave of the budget. It returns them all (there
// must be exactly one).
func refFunded(counts, costs []uint64, total uint64) [][]uint32 {
	rank := refRanks(counts, costs)
	n := len(counts)
	var out [][]uint32
	for mask := 0; mask < 1<<n; mask++ {
		ok := true
		for p := 0; p < n && ok; p++ {
			in := mask&(1<<p) != 0
			if counts[p] == 0 {
				ok = !in
				continue
			}
			var before uint64
			for q := 0; q < n; q++ {
				if mask&(1<<q) != 0 && rank[q] < rank[p] {
					before += costs[q]
				}
			}
			fits := before <= total && costs[p] <= total-before
			ok = in == fits
		}
		if ok {
			var s []uint32
			for p := 0; p < n; p++ {
				if mask&(1<<p) != 0 {
					s = append(s, uint32(p))
				}
			}
			out = append(out, s)
		}
	}
	return out
}

// TestBudgetRuleBruteForce checks the budget rules against brute force on
// small random instances: every possible ballot is accepted or refused
// exactly as the independent statement of the ballot rule says, and the
// funded projects are the unique greedy funding found by trying every
// subset.
func TestBudgetRuleBruteForce(t *testing.T) {
	instances := 40
	if testing.Short() {
		instances = 10
	}
	rules := []tabellav1.BudgetBallotRule{
		tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_WITHIN_BUDGET,
		tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_PROJECT_COUNT,
		tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_MIN_SHARE,
	}
	for seed := 1; seed <= instances; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(seed), 0xb0d9e7))
			w := newWorld(t)
			n := 1 + rng.IntN(6)
			b := &tabellav1.Budget{Total: uint64(20 + rng.IntN(200)), BallotRule: rules[rng.IntN(3)]}
			if b.BallotRule == tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_MIN_SHARE {
				b.MinShareBp = uint32(1 + rng.IntN(ledger.BasisPoints))
			}
			costs := make([]uint64, n)
			spec := w.budgetSpec("pb")
			spec.Proposals = nil
			spec.Budget = b
			spec.Schedule = &tabellav1.Schedule{VotingOpensAt: w.now.Unix(), VotingClosesAt: w.now.Unix() + 12}
			minSel := uint32(1 + rng.IntN(min(n, 2)))
			var maxSel uint32
			if rng.IntN(2) == 0 {
				maxSel = minSel + uint32(rng.IntN(n-int(minSel)+1))
			}
			spec.Ballot = &tabellav1.BallotRules{MinSelections: minSel, MaxSelections: maxSel}
			for i := range costs {
				// Small costs so that ties and exact fits happen.
				costs[i] = uint64(1 + rng.IntN(int(b.Total)))
				if rng.IntN(3) == 0 && i > 0 {
					costs[i] = costs[rng.IntN(i)]
				}
				spec.Options = append(spec.Options, &tabellav1.Option{Id: fmt.Sprintf("p%d", i), Title: "P", Cost: costs[i]})
			}
			w.mustOK(w.createTx(spec))

			counts := make([]uint64, n)
			var block [][]byte
			var codes []ledger.Code
			for mask := uint32(0); mask < 1<<n; mask++ {
				var sel []uint32
				for i := 0; i < n; i++ {
					if mask&(1<<i) != 0 {
						sel = append(sel, uint32(i))
					}
				}
				want := refBallotCode(mask, costs, b, minSel, maxSel)
				tx, err := client.BallotTx(testChain, key(fmt.Sprintf("bf-%d", mask)), "pb", w.cred(fmt.Sprintf("bf-%d", mask), resident("")...), sel, 1)
				if err != nil {
					t.Fatal(err)
				}
				if r := w.l.CheckTx(tx); r.Code != want {
					t.Fatalf("costs %v, %s %d bp of %d, selections %d..%d: ballot %v is %s (%s), the rule says %s", costs, b.BallotRule, b.MinShareBp, b.Total, minSel, maxSel, sel, r.Code, r.Log, want)
				}
				// Cast a random sample of the ballots (some several
				// times over, by other voters) to vary the counts.
				for k := rng.IntN(3); k > 0; k-- {
					voter := fmt.Sprintf("bf-%d-%d", mask, k)
					tx, _ := client.BallotTx(testChain, key(voter), "pb", w.cred(voter, resident("")...), sel, 1)
					block = append(block, tx)
					codes = append(codes, want)
					if want == ledger.CodeOK {
						for _, s := range sel {
							counts[s]++
						}
					}
				}
			}
			res := w.block(block...)
			for i, r := range res.TxResults {
				if r.Code != codes[i] {
					t.Fatalf("ballot %d in the block: %s, want %s", i, r.Code, codes[i])
				}
			}
			w.until(spec.Schedule.VotingClosesAt)
			got := w.initiative("pb").Result
			if !slices.Equal(got.Counts, counts) {
				t.Fatalf("counts %v, want %v", got.Counts, counts)
			}
			rank := refRanks(counts, costs)
			for pos, p := range got.Ranking {
				if rank[p] != pos {
					t.Fatalf("counts %v costs %v: ranking %v puts %d at %d, the reference at %d", counts, costs, got.Ranking, p, pos, rank[p])
				}
			}
			want := refFunded(counts, costs, b.Total)
			if len(want) != 1 {
				t.Fatalf("counts %v costs %v total %d: %d greedy fundings", counts, costs, b.Total, len(want))
			}
			var spent uint64
			for _, p := range want[0] {
				spent += costs[p]
			}
			if !slices.Equal(got.Winners, want[0]) || got.FundedTotal != spent {
				t.Fatalf("counts %v costs %v total %d: funded %v for %d, brute force says %v for %d", counts, costs, b.Total, got.Winners, got.FundedTotal, want[0], spent)
			}
		})
	}
}
