package ledger_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	corestore "cosmossdk.io/core/store"
	idb "github.com/cosmos/iavl/db"

	"github.com/tabella/tabella/ledger"
)

// heldDB is a MemDB whose batch writes wait while hold is open and then
// fail with fail when it is set: a disk that is slow, or full.
type heldDB struct {
	*idb.MemDB
	hold chan struct{}
	fail error
}

func (d *heldDB) NewBatch() corestore.Batch { return &heldBatch{d.MemDB.NewBatch(), d} }

func (d *heldDB) NewBatchWithSize(n int) corestore.Batch {
	return &heldBatch{d.MemDB.NewBatchWithSize(n), d}
}

type heldBatch struct {
	corestore.Batch
	db *heldDB
}

func (b *heldBatch) wait() error {
	if b.db.hold != nil {
		<-b.db.hold
	}
	return b.db.fail
}

func (b *heldBatch) Write() error {
	if err := b.wait(); err != nil {
		return err
	}
	return b.Batch.Write()
}

func (b *heldBatch) WriteSync() error {
	if err := b.wait(); err != nil {
		return err
	}
	return b.Batch.WriteSync()
}

// newHeldWorld is a world on a heldDB, with the consultation "parks"
// open for voting.
func newHeldWorld(t *testing.T) (*world, *heldDB) {
	t.Helper()
	mem := idb.NewMemDB()
	db := &heldDB{MemDB: mem}
	w := newWorldOn(t, mem, db, ledger.Options{Marker: &fileLikeMarker{}})
	w.mustOK(w.createTx(w.consultation("parks")))
	return w, db
}

type saveResult struct {
	height int64
	err    error
}

// commitAsync commits the finalized block with CommitAsync and returns
// where its saved callback will report.
func (w *world) commitAsync() <-chan saveResult {
	w.t.Helper()
	saved := make(chan saveResult, 1)
	h, err := w.l.CommitAsync(func(h int64, err error) { saved <- saveResult{h, err} })
	if err != nil {
		w.t.Fatal(err)
	}
	w.height = h
	w.now = w.now.Add(5 * time.Second)
	return saved
}

// TestCommitAsync: while a committed block's version is still being
// written, CheckTx already checks against the block, readers of the
// latest state still see the version before it, a reader of the block's
// height and the next block wait for the write.
func TestCommitAsync(t *testing.T) {
	w, db := newHeldWorld(t)
	before := w.height

	db.hold = make(chan struct{})
	w.finalize(w.ballot("alice", "parks", 1, 0))
	saved := w.commitAsync()

	if r := w.l.CheckTx(w.ballot("alice", "parks", 1, 2)); r.Code != ledger.CodeReplay {
		t.Fatalf("alice's second ballot with sequence 1, checked while her first is being saved: %s (%s), want %s", r.Code, r.Log, ledger.CodeReplay)
	}
	if r := w.l.CheckTx(w.ballot("bob", "parks", 1, 1)); r.Code != ledger.CodeOK {
		t.Fatalf("bob's ballot: %s (%s)", r.Code, r.Log)
	}
	if got := w.l.LastHeight(); got != before {
		t.Fatalf("LastHeight %d while the version is being written, want %d", got, before)
	}
	if n := w.tally("parks").Turnout; n != 0 {
		t.Fatalf("the last saved version already counts %d ballots", n)
	}
	select {
	case r := <-saved:
		t.Fatalf("saved reported %+v before the write finished", r)
	default:
	}

	viewed := make(chan int64, 1)
	go func() {
		v, err := w.l.View(before + 1)
		if err != nil {
			t.Error(err)
			viewed <- -1
			return
		}
		viewed <- v.Height
	}()
	next := make(chan error, 1)
	go func() {
		_, err := w.l.FinalizeBlock(ledger.Block{Height: w.height + 1, Time: w.now.Add(5 * time.Second), Hash: blockHash(w.height + 1)})
		next <- err
	}()
	select {
	case err := <-next:
		t.Fatalf("the next block ran before the last one was written (err %v)", err)
	case h := <-viewed:
		t.Fatalf("View of the height being written answered %d before the write finished", h)
	case <-time.After(100 * time.Millisecond):
	}

	close(db.hold)
	if r := <-saved; r.err != nil || r.height != before+1 {
		t.Fatalf("saved reported %+v, want height %d", r, before+1)
	}
	if got := w.l.LastHeight(); got != before+1 {
		t.Fatalf("LastHeight %d after the write, want %d", got, before+1)
	}
	if n := w.tally("parks").Turnout; n != 1 {
		t.Fatalf("turnout %d after the write, want 1", n)
	}
	if h := <-viewed; h != before+1 {
		t.Fatalf("View of the height being written answered %d, want %d", h, before+1)
	}
	if h, hash, _ := w.l.LastCommit(); h != before+1 || len(hash) == 0 {
		t.Fatalf("LastCommit %d %x, want height %d", h, hash, before+1)
	}
	if err := <-next; err != nil {
		t.Fatal(err)
	}
	if _, err := w.l.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestCommitAsyncFailure: a version that cannot be written is reported to
// the saved callback, the state readers see stays the last one written,
// and the ledger executes no further block.
func TestCommitAsyncFailure(t *testing.T) {
	w, db := newHeldWorld(t)
	before := w.height

	db.fail = errors.New("disk full")
	w.finalize(w.ballot("alice", "parks", 1, 0))
	if r := <-w.commitAsync(); r.err == nil || !strings.Contains(r.err.Error(), "disk full") {
		t.Fatalf("saved reported %+v, want the write's error", r)
	}
	if got := w.l.LastHeight(); got != before {
		t.Fatalf("LastHeight %d after a failed write, want %d", got, before)
	}
	_, err := w.l.FinalizeBlock(ledger.Block{Height: w.height + 1, Time: w.now.Add(5 * time.Second), Hash: blockHash(w.height + 1)})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("FinalizeBlock after a failed write: %v, want the write's error", err)
	}
	if _, err := w.l.Commit(); err == nil {
		t.Fatal("Commit after a failed write succeeded")
	}
}
