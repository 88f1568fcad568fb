package ledger_test

import (
	"bytes"
	"testing"

	idb "github.com/cosmos/iavl/db"

	"github.com/tabella/tabella/ledger"
)

// TestSnapshotRoundTrip exports a version and imports it into an empty
// ledger: same app hash, same reads; a wrong trusted hash is refused and
// leaves the ledger empty.
func TestSnapshotRoundTrip(t *testing.T) {
	w := newWorld(t)
	w.mustOK(w.createTx(w.consultation("parks")))
	w.mustOK(w.ballot("alice", "parks", 1, 0), w.ballot("bob", "parks", 1, 1, 2))
	var stream bytes.Buffer
	if err := w.l.ExportVersion(w.height, &stream); err != nil {
		t.Fatal(err)
	}

	bad, _ := ledger.Open(idb.NewMemDB(), ledger.Options{})
	if err := bad.ImportVersion(w.height, w.now.Unix(), bytes.NewReader(stream.Bytes()), make([]byte, 32)); err == nil {
		t.Fatal("import accepted a state that does not hash to the trusted app hash")
	}
	if bad.LastHeight() != 0 {
		t.Fatalf("failed import left height %d", bad.LastHeight())
	}

	l, _ := ledger.Open(idb.NewMemDB(), ledger.Options{})
	if err := l.ImportVersion(w.height, w.now.Unix(), bytes.NewReader(stream.Bytes()), w.l.LastAppHash()); err != nil {
		t.Fatal(err)
	}
	if l.LastHeight() != w.height || !bytes.Equal(l.LastAppHash(), w.l.LastAppHash()) || l.ChainID() != testChain {
		t.Fatalf("imported %d %X %q, want %d %X", l.LastHeight(), l.LastAppHash(), l.ChainID(), w.height, w.l.LastAppHash())
	}
	v, _ := l.View(0)
	tl, err := v.Tally("parks")
	if err != nil || tl.Turnout != 2 || tl.Counts[2] != 1 {
		t.Fatalf("imported tally = %v, %v", tl, err)
	}
	// The imported ledger keeps going exactly like the original.
	w2 := &world{t: t, l: l, height: w.height, now: w.now}
	tx := w.ballot("carol", "parks", 1, 1)
	a := w.block(tx)
	b := w2.block(tx)
	if !bytes.Equal(a.AppHash, b.AppHash) {
		t.Fatal("imported ledger diverged on the next block")
	}
}
