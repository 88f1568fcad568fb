package ledger_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"

	"github.com/tabella/tabella/ledger"
)

// The figures these report are in docs/performance.md; `make bench` runs
// them: go test ./ledger -run '^$' -bench . -benchtime 5x

func ballotBlocks(b *testing.B, w *world, blocks, per int) [][][]byte {
	spec := w.consultation("parks")
	spec.Schedule.VotingClosesAt = w.now.Add(10000 * time.Hour).Unix()
	w.mustOK(w.createTx(spec))
	out := make([][][]byte, blocks)
	for i := range out {
		for j := 0; j < per; j++ {
			out[i] = append(out[i], w.ballot(fmt.Sprintf("bench-%d-%d", i, j), "parks", 1, uint32(j%3)))
		}
	}
	return out
}

func runBlocks(b *testing.B, w *world, blocks [][][]byte, warm bool) {
	b.Helper()
	if warm {
		for _, blk := range blocks {
			for _, tx := range blk {
				if err := w.l.PreVerify(tx); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := w.block(blocks[i]...)
		if res.TxResults[len(res.TxResults)-1].Code != ledger.CodeOK {
			b.Fatal(res.TxResults[0].Log)
		}
	}
	b.ReportMetric(float64(len(blocks[0])*b.N)/b.Elapsed().Seconds(), "ballots/s")
}

// BenchmarkFinalizeBlock executes and commits 1,000-ballot blocks whose
// signatures (voter and credential: two per ballot) nobody verified before:
// batch verification across cores, then execution and the IAVL commit.
func BenchmarkFinalizeBlock(b *testing.B) {
	w := newWorld(b)
	runBlocks(b, w, ballotBlocks(b, w, b.N, 1000), false)
}

// BenchmarkFinalizeBlockAfterCheckTx is the same with the signatures
// already verified when the ballots reached the node (the usual case).
func BenchmarkFinalizeBlockAfterCheckTx(b *testing.B) {
	w := newWorld(b)
	runBlocks(b, w, ballotBlocks(b, w, b.N, 1000), true)
}

func signed(n int) (pubs, msgs, sigs [][]byte) {
	for i := 0; i < n; i++ {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		m := make([]byte, 200)
		rand.Read(m)
		pubs, msgs, sigs = append(pubs, pub), append(msgs, m), append(sigs, ed25519.Sign(priv, m))
	}
	return
}

// BenchmarkEd25519Verify is one signature at a time, as the ledger checks
// one it has not seen (cofactored, curve25519-voi) and as Go's crypto/ed25519
// would.
func BenchmarkEd25519Verify(b *testing.B) {
	p, m, s := signed(256)
	b.Run("ledger", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if !ledger.VerifySignature(p[i%256], m[i%256], s[i%256]) {
				b.Fatal("bad signature")
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sigs/s")
	})
	b.Run("stdlib", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if !ed25519.Verify(p[i%256], m[i%256], s[i%256]) {
				b.Fatal("bad signature")
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sigs/s")
	})
}

// BenchmarkEd25519Batch is raw batch verification on one core, the bound
// block execution is measured against.
func BenchmarkEd25519Batch(b *testing.B) {
	for _, n := range []int{64, 1024} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			p, m, s := signed(n)
			opts := &voi.Options{Verify: voi.VerifyOptionsDefault}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				v := voi.NewBatchVerifierWithCapacity(n)
				for j := 0; j < n; j++ {
					v.AddWithOptions(p[j], m[j], s[j], opts)
				}
				if ok, _ := v.Verify(rand.Reader); !ok {
					b.Fatal("bad batch")
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "sigs/s")
		})
	}
}

// BenchmarkCheckTx is the mempool's check of one ballot. "gossiped" is a
// ballot that reached the node from a peer, so nothing was verified before
// CheckTx; "gossiped-batched" is the same checked in groups of 64 after
// PreVerifyBatch, as the mempool's connection does; "preverified" is one
// that came through this node's API, whose signatures and decoding
// PreVerify cached before the timer started.
func BenchmarkCheckTx(b *testing.B) {
	for _, mode := range []string{"gossiped", "gossiped-batched", "preverified"} {
		b.Run(mode, func(b *testing.B) {
			w := newWorld(b)
			txs := ballotBlocks(b, w, 1, b.N)[0]
			w.mustOK() // commit, so CheckTx and PreVerify see the initiative
			if mode == "preverified" {
				for _, tx := range txs {
					if err := w.l.PreVerify(tx); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ResetTimer()
			for start := 0; start < len(txs); start += 64 {
				group := txs[start:min(len(txs), start+64)]
				if mode == "gossiped-batched" {
					w.l.PreVerifyBatch(group)
				}
				for _, tx := range group {
					if r := w.l.CheckTx(tx); r.Code != ledger.CodeOK {
						b.Fatal(r.Log)
					}
				}
			}
		})
	}
}
