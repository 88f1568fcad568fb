package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"

	idb "github.com/cosmos/iavl/db"
)

// BenchmarkTreeInsert measures what a ballot costs the state tree alone:
// inserting a block's ballot keys (random voter keys, in the sorted order
// FinalizeBlock writes them, with a value the size of a ballot record)
// into a tree that already holds many, then saving the version, on the
// database options and tree configuration a node uses. It is the largest
// share of a loaded validator's CPU (docs/performance.md, "Where the time
// goes"), and this isolates it from signatures, CometBFT and the network,
// so a change to the tree or its caches can be measured in minutes rather
// than in testnet runs. Growing the tree takes a while; it is not part of
// `make bench`:
//
//	go test ./ledger -run '^$' -bench TreeInsert -benchtime 30x
func BenchmarkTreeInsert(b *testing.B) {
	const (
		grownTo  = 200_000 // keys in the tree before the timed blocks
		perBlock = 2_000   // about a loaded node's block
	)
	db, err := idb.NewGoLevelDBWithOpts("tabella", b.TempDir(), DBOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	l, err := Open(db, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	value := make([]byte, 400)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range value {
		value[i] = byte(rng.Uint32())
	}
	var n uint64
	block := func() {
		keys := make([][]byte, perBlock)
		for i := range keys {
			n++
			voter := sha256.Sum256(binary.BigEndian.AppendUint64(nil, n))
			keys[i] = BallotKey("bench", voter[:])
		}
		slices.SortFunc(keys, bytes.Compare)
		for _, k := range keys {
			if _, err := l.tree.Set(k, value); err != nil {
				b.Fatal(err)
			}
		}
		if _, _, err := l.tree.SaveVersion(); err != nil {
			b.Fatal(err)
		}
	}
	for range grownTo / perBlock {
		block()
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		block()
	}
	b.StopTimer()
	keys := float64(b.N * perBlock)
	b.ReportMetric(float64(b.Elapsed().Microseconds())/keys, "µs/key")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/keys, "cpu-µs/key")
}

// cpuTime is the CPU the process has used, the collector's and
// goleveldb's goroutines included, which wall time on a shared machine
// does not isolate.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
