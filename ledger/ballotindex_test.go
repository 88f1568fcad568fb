package ledger

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
)

// TestBallotIndexHasNoFalseNegatives: every added ballot key is held, across
// layers; keys that are not ballot keys are always "may hold"; and the
// false-positive rate stays near the 1% the layers are sized for.
func TestBallotIndexHasNoFalseNegatives(t *testing.T) {
	x := newBallotIndex(slog.New(slog.DiscardHandler))
	x.ready = true
	rng := rand.New(rand.NewPCG(1, 2))
	voter := func() []byte {
		v := make([]byte, 32)
		for i := range v {
			v[i] = byte(rng.Uint32())
		}
		return v
	}
	const n = 3*firstLayerKeys + 1000 // three layers
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = BallotKey(fmt.Sprintf("init-%d", i%7), voter())
	}
	x.add(keys...)
	if len(x.layers) != 3 {
		t.Fatalf("%d layers for %d keys, want 3", len(x.layers), n)
	}
	for i, k := range keys {
		if !x.mayHold(k) {
			t.Fatalf("key %d was added but is reported absent", i)
		}
	}
	if !x.mayHold(TallyKey("init-1")) || !x.mayHold(HistoryKey("init-1", voter(), 1)) {
		t.Fatal("a key outside the index's prefix must always be read")
	}
	const probes = 100_000
	fp := 0
	for range probes {
		if x.mayHold(BallotKey("init-1", voter())) {
			fp++
		}
	}
	// Three layers at about 1% each.
	if rate := float64(fp) / probes; rate > 0.05 {
		t.Fatalf("false-positive rate %.3f", rate)
	}
}

// TestBallotIndexNotReadyReadsEverything: before its scan ends the index
// reports every key as possibly present.
func TestBallotIndexNotReadyReadsEverything(t *testing.T) {
	x := newBallotIndex(slog.New(slog.DiscardHandler))
	if !x.mayHold(BallotKey("a", make([]byte, 32))) {
		t.Fatal("an index that is not ready reported a key absent")
	}
}
