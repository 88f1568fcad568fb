package sealed

import (
	"fmt"
	"testing"
)

// Run: go test -run '^$' -bench . -benchtime 20x ./ledger/sealed/

type ballotCase struct {
	name    string
	rules   Rules
	choices []uint8
}

func benchBallots() []ballotCase {
	var out []ballotCase
	for _, n := range []int{2, 10, 50} {
		choices := make([]uint8, n)
		for i := 0; i < n; i += 2 {
			choices[i] = 1
		}
		out = append(out, ballotCase{fmt.Sprintf("approval-%d", n), approval(n, 1, n), choices})
	}
	out = append(out, ballotCase{"one-of-5", approval(5, 1, 1), []uint8{0, 0, 1, 0, 0}})
	out = append(out, ballotCase{"budget-5",
		Rules{Options: 5, Min: 0, Max: 5, Costs: []uint64{100000, 50000, 75000, 120000, 30000}, Budget: 250000},
		[]uint8{1, 1, 0, 0, 1}})
	return out
}

func BenchmarkEncryptBallot(b *testing.B) {
	rnd := testRand(1)
	_, y := testKey(b, rnd)
	for _, bc := range benchBallots() {
		b.Run(bc.name, func(b *testing.B) {
			var size int
			for b.Loop() {
				bal, err := EncryptBallot(rnd, y, []byte("ctx"), bc.choices, bc.rules)
				if err != nil {
					b.Fatal(err)
				}
				size = len(bal.Bytes())
			}
			b.ReportMetric(float64(size), "bytes/ballot")
		})
	}
}

func BenchmarkVerifyBallot(b *testing.B) {
	rnd := testRand(2)
	_, y := testKey(b, rnd)
	for _, bc := range benchBallots() {
		b.Run(bc.name, func(b *testing.B) {
			bal, err := EncryptBallot(rnd, y, []byte("ctx"), bc.choices, bc.rules)
			if err != nil {
				b.Fatal(err)
			}
			enc := bal.Bytes()
			for b.Loop() {
				d, err := DecodeBallot(enc)
				if err != nil {
					b.Fatal(err)
				}
				if err := VerifyBallot(y, []byte("ctx"), bc.rules, d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkTallyAdd(b *testing.B) {
	rnd := testRand(3)
	_, y := testKey(b, rnd)
	for _, bc := range benchBallots() {
		b.Run(bc.name, func(b *testing.B) {
			bal, err := EncryptBallot(rnd, y, nil, bc.choices, bc.rules)
			if err != nil {
				b.Fatal(err)
			}
			tally, _ := NewTally(bc.rules.Options)
			for b.Loop() {
				if err := tally.Add(bal); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDLog measures baby-step giant-step for totals up to 1,000,000:
// building the table, and the worst-case lookup (m = bound), for the default
// √bound table and a larger one.
func BenchmarkDLog(b *testing.B) {
	const bound = 1_000_000
	target := gExp(scalarU64(bound))
	for _, baby := range []uint64{0, 1 << 14, 1 << 17} {
		name := fmt.Sprintf("baby=%d", baby)
		if baby == 0 {
			name = "baby=sqrt"
		}
		b.Run(name+"/build", func(b *testing.B) {
			for b.Loop() {
				if _, err := NewDLogTable(bound, baby); err != nil {
					b.Fatal(err)
				}
			}
		})
		table, err := NewDLogTable(bound, baby)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/lookup-worst", func(b *testing.B) {
			for b.Loop() {
				if m, err := table.log(target); err != nil || m != bound {
					b.Fatal(m, err)
				}
			}
		})
	}
	// A whole 50-option closing with one shared table: build + 50 lookups of
	// counts spread over [0, 1,000,000].
	var counts []*element
	for k := range 50 {
		counts = append(counts, gExp(scalarU64(uint64(k)*bound/49)))
	}
	for _, baby := range []uint64{0, 1 << 14} {
		b.Run(fmt.Sprintf("decrypt-50-options/baby=%d", baby), func(b *testing.B) {
			for b.Loop() {
				table, err := NewDLogTable(bound, baby)
				if err != nil {
					b.Fatal(err)
				}
				for _, c := range counts {
					if _, err := table.log(c); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

func BenchmarkThresholdDecryption(b *testing.B) {
	rnd := testRand(4)
	c := newCeremony(b, rnd, 4, 3)
	q, shares, _ := c.finish(b, rnd)
	y, _ := JointKey(q)
	tally, _ := castBallots(b, rnd, y, approval(10, 1, 10), 3)
	vk, _ := VerificationKey(q, 1)
	var partials []*PartialDecryption
	for _, s := range shares[:3] {
		p, _ := s.PartialDecrypt(rnd, nil, tally)
		partials = append(partials, p)
	}
	table, _ := NewDLogTable(1_000_000, 0)
	b.Run("partial-decrypt-10", func(b *testing.B) {
		for b.Loop() {
			if _, err := shares[0].PartialDecrypt(rnd, nil, tally); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify-partial-10", func(b *testing.B) {
		for b.Loop() {
			if err := VerifyPartial(nil, vk, tally, partials[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("combine-10-t3", func(b *testing.B) {
		for b.Loop() {
			if _, err := Combine(table, 3, tally, partials); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDKG(b *testing.B) {
	rnd := testRand(5)
	c := newCeremony(b, rnd, 5, 3)
	b.Run("new-deal-n5", func(b *testing.B) {
		for b.Loop() {
			if _, err := NewDeal(rnd, c.params, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify-deal-n5", func(b *testing.B) {
		for b.Loop() {
			if err := VerifyDeal(c.params, c.deals[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGroup measures the primitives every figure above is made of, to
// calibrate the cost model in docs/sealed-ballots.md.
func BenchmarkGroup(b *testing.B) {
	rnd := testRand(6)
	s, _ := randomScalar(rnd)
	e := gExp(s)
	b.Run("mul", func(b *testing.B) {
		for b.Loop() {
			mul(e, s)
		}
	})
	b.Run("mulgen", func(b *testing.B) {
		for b.Loop() {
			gExp(s)
		}
	})
	b.Run("add", func(b *testing.B) {
		for b.Loop() {
			add(e, e)
		}
	})
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			encodeElement(e)
		}
	})
	enc := encodeElement(e)
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeElement(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
