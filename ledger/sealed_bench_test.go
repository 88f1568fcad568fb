package ledger_test

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// Sealed ballots through the ledger. Figures are in docs/sealed-ballots.md
// §11: go test ./ledger -run '^$' -bench Sealed -benchtime 5x

// sealedBench is a world with a READY five-option sealed consultation
// (one to five selections) and a five-project sealed budget, both open
// for a long time.
func sealedBench(b *testing.B) *world {
	w := newSealedWorld(b)
	c := w.registerTrustees(rand.Reader)
	cons := w.sealedConsultation("cons5")
	cons.Options = []*tabellav1.Option{{Id: "a", Title: "A"}, {Id: "b", Title: "B"}, {Id: "c", Title: "C"}, {Id: "d", Title: "D"}, {Id: "e", Title: "E"}}
	cons.Ballot = &tabellav1.BallotRules{MinSelections: 1, MaxSelections: 5, RevotingAllowed: true}
	cons.Schedule.VotingClosesAt = w.now.Add(10000 * time.Hour).Unix()
	bud := w.sealedBudget("budget5")
	bud.Schedule.VotingClosesAt = cons.Schedule.VotingClosesAt
	w.mustOK(w.createTx(cons), w.createTx(bud))
	var deals [][]byte
	for _, p := range trusteeParties {
		deals = append(deals, c.dealTx(w, "cons5", p), c.dealTx(w, "budget5", p))
	}
	w.mustOK(deals...)
	w.until(cons.Schedule.VotingOpensAt)
	return w
}

func sealedBallots(b *testing.B, w *world, id string, blocks, per int) [][][]byte {
	out := make([][][]byte, blocks)
	for i := range out {
		for j := range per {
			sel := []uint32{uint32(j % 5)}
			if id == "cons5" && j%2 == 0 {
				sel = append(sel, uint32((j+2)%5))
			}
			out[i] = append(out[i], w.sealedBallot(rand.Reader, fmt.Sprintf("sb-%d-%d", i, j), id, 1, sel...))
		}
	}
	return out
}

// BenchmarkSealedBallotVerify is a node's work per sealed ballot without a
// cache: decode and verify every proof.
func BenchmarkSealedBallotVerify(b *testing.B) {
	w := sealedBench(b)
	for _, id := range []string{"cons5", "budget5"} {
		b.Run(id, func(b *testing.B) {
			st := w.sealedRecord(id).State
			ballot, err := client.SealBallot(rand.Reader, testChain, st, pub("v"), []uint32{0, 2})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := ledger.VerifySealedBallot(nil, testChain, st, pub("v"), ballot); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(ballot)), "bytes")
		})
	}
}

// BenchmarkSealedFinalizeBlock executes and commits blocks of 100 sealed
// ballots nobody verified before (cold: a node catching up, an audit), and
// after PreVerify/CheckTx verified them (warm: the usual case).
func BenchmarkSealedFinalizeBlock(b *testing.B) {
	for _, id := range []string{"cons5", "budget5"} {
		for _, warm := range []bool{false, true} {
			name := id + "/cold"
			if warm {
				name = id + "/warm"
			}
			b.Run(name, func(b *testing.B) {
				w := sealedBench(b)
				runBlocks(b, w, sealedBallots(b, w, id, b.N, 100), warm)
			})
		}
	}
}

// BenchmarkSealedDecrypt is the block that decrypts a closed sealed
// consultation of 1,000 ballots and five options: three decryption
// shares verified, combined, and the counts recovered up to the turnout.
func BenchmarkSealedDecrypt(b *testing.B) {
	w := newSealedWorld(b)
	c := w.registerTrustees(rand.Reader)
	spec := w.sealedConsultation("dec")
	spec.Options = []*tabellav1.Option{{Id: "a", Title: "A"}, {Id: "b", Title: "B"}, {Id: "c", Title: "C"}, {Id: "d", Title: "D"}, {Id: "e", Title: "E"}}
	spec.Ballot = &tabellav1.BallotRules{MinSelections: 1, MaxSelections: 5}
	spec.Schedule.VotingClosesAt = spec.Schedule.VotingOpensAt + 3600
	w.readySealed(c, spec)
	for i := range 10 {
		var txs [][]byte
		for j := range 100 {
			txs = append(txs, w.sealedBallot(rand.Reader, fmt.Sprintf("d-%d-%d", i, j), "dec", 1, uint32(j%5)))
		}
		w.mustOK(txs...)
	}
	w.until(spec.Schedule.VotingClosesAt)
	shares := [][]byte{c.shareTx(w, "dec", "gov-a"), c.shareTx(w, "dec", "gov-b"), c.shareTx(w, "dec", "civ-a")}
	at := w.now.Add(5 * time.Second)
	b.ResetTimer()
	for range b.N {
		res, err := w.l.FinalizeBlock(ledger.Block{Height: w.height + 1, Time: at, Txs: shares})
		if err != nil || res.TxResults[2].Code != ledger.CodeOK {
			b.Fatal(err, res.TxResults)
		}
	}
}
