package ledger

import (
	"bytes"
	"testing"
	"time"

	idb "github.com/cosmos/iavl/db"
)

// memMarker is a CommitMarker in memory, outliving the ledgers a test
// opens on one database.
type memMarker struct {
	height, blockTime int64
	stores            int
}

func (m *memMarker) Load() (int64, int64, error) { return m.height, m.blockTime, nil }

func (m *memMarker) Store(height, blockTime int64) error {
	m.height, m.blockTime = height, blockTime
	m.stores++
	return nil
}

// TestExternalMarker: with a marker of its own, the ledger moves it at
// every commit and never writes a key of its own into the database, whose
// keys are then IAVL's alone.
func TestExternalMarker(t *testing.T) {
	db := idb.NewMemDB()
	m := &memMarker{}
	_, hashes := startChain(t, db, Options{Marker: m}, 3)
	if m.height != 3 || m.blockTime != 1_800_000_003 || m.stores != 3 {
		t.Fatalf("marker at %d (time %d) after %d stores, want 3 (1800000003) after 3", m.height, m.blockTime, m.stores)
	}
	it, err := db.Iterator(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for ; it.Valid(); it.Next() {
		if !bytes.HasPrefix(it.Key(), treePrefix) {
			t.Errorf("key %q outside the tree", it.Key())
		}
	}
	it.Close()

	l2, err := Open(db, Options{Marker: m})
	if err != nil {
		t.Fatal(err)
	}
	if l2.LastHeight() != 3 || !bytes.Equal(l2.LastAppHash(), hashes[3]) || !l2.LastBlockTime().Equal(time.Unix(1_800_000_003, 0)) {
		t.Fatalf("reopened at %d %X %v, want 3 %X", l2.LastHeight(), l2.LastAppHash(), l2.LastBlockTime(), hashes[3])
	}
}

// TestLegacyMarkerAdopted: a ledger whose marker an earlier Tabella kept
// in the database, reopened with a marker of its own, moves it there and
// deletes the database's copy; it goes on from the same height.
func TestLegacyMarkerAdopted(t *testing.T) {
	db := idb.NewMemDB()
	_, hashes := startChain(t, db, Options{}, 2)

	m := &memMarker{}
	l2, err := Open(db, Options{Marker: m})
	if err != nil {
		t.Fatal(err)
	}
	if m.height != 2 || m.blockTime != 1_800_000_002 {
		t.Fatalf("adopted marker %d (time %d), want 2 (1800000002)", m.height, m.blockTime)
	}
	if v, _ := db.Get(keyCommitMarker); v != nil {
		t.Fatalf("the database still holds a marker: %x", v)
	}
	if l2.LastHeight() != 2 || !bytes.Equal(l2.LastAppHash(), hashes[2]) {
		t.Fatalf("reopened at %d %X, want 2 %X", l2.LastHeight(), l2.LastAppHash(), hashes[2])
	}
	runBlocks(t, l2, 3, 3)
	if m.height != 3 {
		t.Fatalf("marker at %d after block 3", m.height)
	}
	if v, _ := db.Get(keyCommitMarker); v != nil {
		t.Fatalf("block 3 wrote the database's marker: %x", v)
	}
}

// TestLegacyMarkerBesideExternal: a marker left in the database beside an
// external one (a crash between the move and the deletion, or an earlier
// Tabella run on the home later) is deleted, and wins when it is ahead.
func TestLegacyMarkerBesideExternal(t *testing.T) {
	for _, tc := range []struct {
		name           string
		external, want int64
	}{
		{"equal", 2, 2},
		{"database ahead", 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := idb.NewMemDB()
			_, hashes := startChain(t, db, Options{}, 2)
			m := &memMarker{height: tc.external, blockTime: 1_800_000_000 + tc.external}
			l2, err := Open(db, Options{Marker: m})
			if err != nil {
				t.Fatal(err)
			}
			if m.height != tc.want || l2.LastHeight() != tc.want || !bytes.Equal(l2.LastAppHash(), hashes[tc.want]) {
				t.Fatalf("marker %d, ledger at %d, want %d", m.height, l2.LastHeight(), tc.want)
			}
			if v, _ := db.Get(keyCommitMarker); v != nil {
				t.Fatalf("the database still holds a marker: %x", v)
			}
		})
	}
}

// FuzzDecodeMarker: a marker decodes only from 16 bytes (or none), and
// encodes back to the same bytes.
func FuzzDecodeMarker(f *testing.F) {
	f.Add([]byte{})
	f.Add(EncodeMarker(3, 1_800_000_003))
	f.Add(make([]byte, 15))
	f.Add(make([]byte, 17))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, bt, err := DecodeMarker(b)
		switch {
		case len(b) == 0:
			if err != nil || h != 0 || bt != 0 {
				t.Fatalf("empty marker: %d %d %v", h, bt, err)
			}
		case len(b) != 16:
			if err == nil {
				t.Fatalf("%d bytes decoded", len(b))
			}
		case err != nil:
			t.Fatalf("16 bytes: %v", err)
		case !bytes.Equal(EncodeMarker(h, bt), b):
			t.Fatalf("round trip %x -> %x", b, EncodeMarker(h, bt))
		}
	})
}
