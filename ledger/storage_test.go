package ledger_test

import (
	"fmt"
	"testing"

	corestore "cosmossdk.io/core/store"
	idb "github.com/cosmos/iavl/db"

	"github.com/tabella/tabella/ledger"
)

// countingDB counts the batches written to a MemDB and the largest room a
// batch was made with.
type countingDB struct {
	*idb.MemDB
	writes, syncs int
	maxRoom       int
}

func (d *countingDB) NewBatch() corestore.Batch { return &countingBatch{d.MemDB.NewBatch(), d} }

func (d *countingDB) NewBatchWithSize(n int) corestore.Batch {
	d.maxRoom = max(d.maxRoom, n)
	return &countingBatch{d.MemDB.NewBatchWithSize(n), d}
}

type countingBatch struct {
	corestore.Batch
	db *countingDB
}

func (b *countingBatch) Write() error {
	b.db.writes++
	return b.Batch.Write()
}

func (b *countingBatch) WriteSync() error {
	b.db.writes++
	b.db.syncs++
	return b.Batch.WriteSync()
}

// fileLikeMarker stands for app.FileMarker.
type fileLikeMarker struct{ height, blockTime int64 }

func (m *fileLikeMarker) Load() (int64, int64, error) { return m.height, m.blockTime, nil }
func (m *fileLikeMarker) Store(h, t int64) error {
	m.height, m.blockTime = h, t
	return nil
}

// TestVersionWrittenWhole: a block's version reaches the database in one
// synced batch, made with modest room. Written in IAVL's default 100 kB
// parts, a version could straddle two LevelDB memtables, whose tables then
// overlapped and had to be merged instead of moved (docs/performance.md).
func TestVersionWrittenWhole(t *testing.T) {
	mem := idb.NewMemDB()
	db := &countingDB{MemDB: mem}
	w := newWorldOn(t, mem, db, ledger.Options{Marker: &fileLikeMarker{}})
	spec := w.consultation("parks")
	w.mustOK(w.createTx(spec))
	ballots := make([][]byte, 1000)
	for i := range ballots {
		ballots[i] = w.ballot(fmt.Sprintf("voter-%d", i), "parks", 1, uint32(i%3))
	}
	db.writes, db.syncs, db.maxRoom = 0, 0, 0
	w.mustOK(ballots...)
	if db.writes != 1 || db.syncs != 1 {
		t.Fatalf("a 1,000-ballot block was written in %d batches (%d synced), want 1 synced", db.writes, db.syncs)
	}
	if db.maxRoom > 4<<20 {
		t.Fatalf("a batch was made with %d bytes of room", db.maxRoom)
	}
}
