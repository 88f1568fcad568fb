package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// TestSubmitAllBackoff checks the load generator's manners: a worker
// whose tx is refused as busy backs off, doubling its pause, while
// answered submissions follow each other at once.
func TestSubmitAllBackoff(t *testing.T) {
	const (
		workers = 4
		window  = 1000 * time.Millisecond
	)
	bo := backoff{min: 100 * time.Millisecond, max: 400 * time.Millisecond}
	txs := make([][]byte, 1_000_000)
	for i := range txs {
		txs[i] = []byte{byte(i)}
	}
	run := func(submit Submitter) (*submissions, int64) {
		t.Helper()
		ctx := context.Background()
		runCtx, cancel := context.WithTimeout(ctx, window)
		defer cancel()
		var next atomic.Int64
		subs := submitAll(ctx, runCtx, &Options{Concurrency: workers}, 2, txs, submit, &next, bo)
		return subs, next.Load()
	}

	var calls atomic.Int64
	subs, _ := run(func(context.Context, int, []byte) (int64, string, error) {
		calls.Add(1)
		return 0, "", fmt.Errorf("%w: mempool is full", ErrBusy)
	})
	// Each worker submits at 0, 100, 300 and 700 ms (then at 1,100):
	// without the doubling it would submit ten times, without a pause
	// thousands.
	if n := calls.Load(); n < workers || n > workers*4 {
		t.Fatalf("busy node: %d submissions by %d workers in %v backing off %v", n, workers, window, bo)
	}
	if subs.sent != calls.Load() || subs.rejected[rejectedBusy] != subs.sent || len(subs.commitLat) != 0 {
		t.Fatalf("busy node: sent %d, rejected %v, %d committed", subs.sent, subs.rejected, len(subs.commitLat))
	}

	// One worker, refused twice then answered, again and again: each
	// answer resets the pause to its minimum, so it makes about twelve
	// submissions (at 0, 100, 300, 300, 400, 600, 600, ... ms); without
	// the reset, pauses of 400 ms would leave it about six.
	calls.Store(0)
	ctx := context.Background()
	runCtx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	var next atomic.Int64
	submitAll(ctx, runCtx, &Options{Concurrency: 1}, 1, txs, func(context.Context, int, []byte) (int64, string, error) {
		if calls.Add(1)%3 != 0 {
			return 0, "", ErrBusy
		}
		return 1, "", nil
	}, &next, bo)
	if n := calls.Load(); n < 9 || n > 14 {
		t.Fatalf("alternating node: %d submissions in %v, want about 12", n, window)
	}

	subs, taken := run(func(context.Context, int, []byte) (int64, string, error) {
		return 7, "", nil
	})
	// Without refusals nothing waits: far more than the paced count.
	if subs.sent < 1000 || int64(len(subs.commitLat)) != subs.sent || len(subs.rejected) != 0 || subs.sent > taken {
		t.Fatalf("answering node: sent %d of %d taken, %d committed, rejected %v", subs.sent, taken, len(subs.commitLat), subs.rejected)
	}
}

// TestSubmitAllRunsOut checks that a pool exhausted inside the window is
// reported, every tx sent exactly once.
func TestSubmitAllRunsOut(t *testing.T) {
	txs := [][]byte{{1}, {2}, {3}, {4}, {5}}
	seen := make([]atomic.Int32, len(txs))
	ctx := context.Background()
	runCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	var next atomic.Int64
	subs := submitAll(ctx, runCtx, &Options{Concurrency: 3}, 1, txs, func(_ context.Context, _ int, tx []byte) (int64, string, error) {
		seen[tx[0]-1].Add(1)
		return 1, "", nil
	}, &next, backoff{min: time.Second, max: time.Second})
	if !subs.ranOut || subs.sent != int64(len(txs)) {
		t.Fatalf("sent %d of %d, ran out %v", subs.sent, len(txs), subs.ranOut)
	}
	for i := range seen {
		if n := seen[i].Load(); n != 1 {
			t.Fatalf("tx %d sent %d times", i+1, n)
		}
	}
}

// TestProvableLatencies: a ballot is provable once the next block's header
// exists and its commit answer has arrived, whichever is later; a ballot
// whose next header was never seen is left out.
func TestProvableLatencies(t *testing.T) {
	t0 := time.Unix(1_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	headers := map[int64]time.Time{11: at(500), 12: at(900)}
	seen := func(h int64) (time.Time, bool) { ts, ok := headers[h]; return ts, ok }
	proofs := []pendingProof{
		{sent: at(0), committed: at(300), height: 10},   // header 11 after the answer
		{sent: at(100), committed: at(700), height: 10}, // the answer after header 11
		{sent: at(200), committed: at(800), height: 11},
		{sent: at(0), committed: at(950), height: 12}, // header 13 never seen
	}
	got := provableLatencies(proofs, seen)
	want := []time.Duration{500 * time.Millisecond, 600 * time.Millisecond, 700 * time.Millisecond}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
