package ledger_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tabella/tabella/ledger"
)

// TestCheckTxDuringFinalizeBlock runs CheckTx and PreVerify (as the
// mempool connection and the API do) while FinalizeBlock executes, and
// reads views throughout; CometBFT only keeps them away from Commit (the
// mempool is locked then). Run with -race.
func TestCheckTxDuringFinalizeBlock(t *testing.T) {
	w := newWorld(t)
	spec := w.consultation("parks")
	spec.Schedule.VotingClosesAt = w.now.Add(100 * time.Hour).Unix()
	w.mustOK(w.createTx(spec))
	var mempool sync.Mutex // CometBFT's mempool lock around Commit
	const blocks, per = 4, 40
	txs := make([][][]byte, blocks)
	for b := range txs {
		for i := 0; i < per; i++ {
			txs[b] = append(txs[b], w.ballot(fmt.Sprintf("c%d-%d", b, i), "parks", 1, uint32(i%3)))
		}
	}
	for b := 0; b < blocks; b++ {
		var wg sync.WaitGroup
		next := txs[(b+1)%blocks]
		wg.Add(3)
		go func() {
			defer wg.Done()
			for _, tx := range next {
				mempool.Lock()
				w.l.CheckTx(tx)
				mempool.Unlock()
			}
		}()
		go func() {
			defer wg.Done()
			for _, tx := range next {
				if err := w.l.PreVerify(tx); err != nil {
					t.Error(err)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if v, err := w.l.View(0); err == nil {
					_, _ = v.Tally("parks")
				}
				_ = w.l.LastHeight()
				_ = w.l.LastBlockTime()
			}
		}()
		res := w.finalize(txs[b]...)
		wg.Wait()
		for i, r := range res.TxResults {
			if r.Code != ledger.CodeOK {
				t.Fatalf("block %d tx %d: %s", b, i, r.Log)
			}
		}
		mempool.Lock()
		if _, err := w.l.Commit(); err != nil {
			t.Fatal(err)
		}
		mempool.Unlock()
		w.height++
		w.now = w.now.Add(5 * time.Second)
	}
}
