package ledger_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// bigSpec is an initiative of the kind with n listed options (projects,
// candidates) open for voting now.
func (w *world) bigSpec(id string, kind tabellav1.InitiativeKind, n int, closesIn int64) *tabellav1.InitiativeSpec {
	var s *tabellav1.InitiativeSpec
	switch kind {
	case kBudget:
		s = w.budgetSpec(id)
		s.Proposals = nil
		s.Budget.Total = 1_000_000_000
	case kElection:
		s = w.electionSpec(id)
		s.Proposals = nil
		s.ResultRule.Seats = 5
		s.Ballot.MaxSelections = 5
	default:
		s = w.consultation(id)
		s.Options = nil
		s.Ballot.MaxSelections = 20
	}
	s.Schedule = &tabellav1.Schedule{VotingOpensAt: w.now.Unix(), VotingClosesAt: w.now.Unix() + closesIn}
	for i := 0; i < n; i++ {
		o := &tabellav1.Option{Id: fmt.Sprintf("option-%05d", i), Title: fmt.Sprintf("Option number %d", i)}
		if kind == kBudget {
			o.Cost = uint64(1000 + i%5000)
		}
		s.Options = append(s.Options, o)
	}
	return s
}

// BenchmarkBallot measures executing one ballot (FinalizeBlock of blocks
// of 500 ballots, signatures made beforehand): the cost follows the
// selections, not the number of options.
func BenchmarkBallot(b *testing.B) {
	for _, tc := range []struct {
		kind    tabellav1.InitiativeKind
		options int
		sel     int
	}{
		{tabellav1.InitiativeKind_INITIATIVE_KIND_CONSULTATION, 3, 1},
		{tabellav1.InitiativeKind_INITIATIVE_KIND_CONSULTATION, 10_000, 1},
		{tabellav1.InitiativeKind_INITIATIVE_KIND_CONSULTATION, 10_000, 20},
		{kBudget, 10, 5},
		{kBudget, 10_000, 5},
		{kBudget, 10_000, 50},
		{kElection, 10_000, 5},
	} {
		name := fmt.Sprintf("%s/options=%d/selections=%d", tc.kind.String()[len("INITIATIVE_KIND_"):], tc.options, tc.sel)
		b.Run(name, func(b *testing.B) {
			w := newWorld(b)
			spec := w.bigSpec("big", tc.kind, tc.options, 1<<30)
			if tc.kind == tabellav1.InitiativeKind_INITIATIVE_KIND_CONSULTATION {
				spec.Ballot.MaxSelections = uint32(tc.sel)
			}
			if tc.kind == kBudget {
				spec.Ballot.MaxSelections = 0
			}
			w.mustOK(w.createTx(spec))
			rng := rand.New(rand.NewPCG(1, 2))
			txs := make([][]byte, b.N)
			for i := range txs {
				sel := make([]uint32, 0, tc.sel)
				for _, p := range rng.Perm(tc.options)[:tc.sel] {
					sel = append(sel, uint32(p))
				}
				voter := fmt.Sprintf("bench-%d", i)
				tx, err := client.BallotTx(testChain, key(voter), "big", w.cred(voter, senior(70)...), sel, 1)
				if err != nil {
					b.Fatal(err)
				}
				txs[i] = tx
			}
			b.ResetTimer()
			for len(txs) > 0 {
				n := min(500, len(txs))
				res := w.block(txs[:n]...)
				for _, r := range res.TxResults {
					if r.Code != ledger.CodeOK {
						b.Fatalf("%s: %s", r.Code, r.Log)
					}
				}
				txs = txs[n:]
			}
		})
	}
}

// BenchmarkCloseBlock measures the blocks that count a closed initiative of
// 10,000 options: "first" is the block that ends voting (it reads as many
// options as TallyReadsPerBlock allows), "last" the block that completes
// the count and freezes the result (ranking, funding, the result record).
// Each iteration re-executes the same uncommitted block.
func BenchmarkCloseBlock(b *testing.B) {
	for _, kind := range []tabellav1.InitiativeKind{tabellav1.InitiativeKind_INITIATIVE_KIND_CONSULTATION, kBudget, kElection} {
		for _, which := range []string{"first", "last"} {
			b.Run(fmt.Sprintf("%s/options=10000/%s", kind.String()[len("INITIATIVE_KIND_"):], which), func(b *testing.B) {
				w := newWorld(b)
				spec := w.bigSpec("big", kind, ledger.MaxOptions, 12)
				w.mustOK(w.createTx(spec))
				var txs [][]byte
				for i := 0; i < 200; i++ {
					voter := fmt.Sprintf("v%d", i)
					tx, _ := client.BallotTx(testChain, key(voter), "big", w.cred(voter, senior(70)...), []uint32{uint32(i * 37 % ledger.MaxOptions)}, 1)
					txs = append(txs, tx)
				}
				w.mustOK(txs...)
				if which == "last" {
					// The count takes ceil(reads / TallyReadsPerBlock)
					// blocks, the first of which ends voting: commit all
					// but the last.
					reads := ledger.MaxOptions
					if kind == kBudget {
						reads *= 2
					}
					blocks := (reads + ledger.TallyReadsPerBlock - 1) / ledger.TallyReadsPerBlock
					for i := 0; i < blocks-1; i++ {
						w.block()
					}
					if st := w.status("big"); st != sClosing {
						b.Fatalf("before the last block: %s", st)
					}
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := w.l.FinalizeBlock(ledger.Block{Height: w.height + 1, Time: w.now.Add(5 * time.Second), Hash: blockHash(w.height + 1)}); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				w.block()
				st := w.status("big")
				if which == "first" && st != sClosing || which == "last" && st != sClosed {
					b.Fatalf("%s block left the initiative %s", which, st)
				}
			})
		}
	}
}

// BenchmarkRank measures ranking 10,000 options, the part of the final
// block that is not bounded by TallyReadsPerBlock.
func BenchmarkRank(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	counts := make([]uint64, ledger.MaxOptions)
	costs := make([]uint64, ledger.MaxOptions)
	for i := range counts {
		counts[i] = uint64(rng.IntN(1000))
		costs[i] = uint64(1 + rng.IntN(100_000))
	}
	seed := blockHash(42)
	b.Run("budget", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			r := ledger.RankBudget(counts, costs)
			ledger.FundGreedy(r, counts, costs, 10_000_000)
		}
	})
	b.Run("election", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			r := ledger.RankElection(counts, seed)
			ledger.Elected(r, counts, 50)
		}
	})
}
