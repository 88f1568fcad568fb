package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"testing"
	"time"

	idb "github.com/cosmos/iavl/db"

	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

func recoveryGenesis() *tabellav1.Genesis {
	k := func(s string) []byte {
		seed := sha256.Sum256([]byte(s))
		return ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
	}
	return &tabellav1.Genesis{Parties: []*tabellav1.Party{
		{Id: "gov", Name: "Gov", Kind: tabellav1.PartyKind_PARTY_KIND_GOVERNMENT, AdminKeys: [][]byte{k("g")}, Validator: &tabellav1.Validator{PublicKey: k("gv"), Power: 1}},
		{Id: "civ", Name: "Civ", Kind: tabellav1.PartyKind_PARTY_KIND_CIVIL_SOCIETY, AdminKeys: [][]byte{k("c")}},
	}}
}

// forEachMarker runs a recovery test with the commit marker in the
// ledger's database and in a store of its own (one instance across the
// test's reopenings, as a file outlives the process).
func forEachMarker(t *testing.T, test func(*testing.T, Options)) {
	t.Run("in the database", func(t *testing.T) { test(t, Options{}) })
	t.Run("external", func(t *testing.T) { test(t, Options{Marker: &memMarker{}}) })
}

// startChain opens a ledger on db with opts, runs InitChain with the
// recovery genesis and commits blocks 1 to blocks; it returns the ledger
// and each block's app hash.
func startChain(t *testing.T, db *idb.MemDB, opts Options, blocks int64) (*Ledger, map[int64][]byte) {
	t.Helper()
	l, err := Open(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.InitChain("recovery", 1, time.Unix(1_800_000_000, 0), recoveryGenesis()); err != nil {
		t.Fatal(err)
	}
	return l, runBlocks(t, l, 1, blocks)
}

// runBlocks commits blocks from..to and returns the app hash of each.
func runBlocks(t *testing.T, l *Ledger, from, to int64) map[int64][]byte {
	t.Helper()
	out := map[int64][]byte{}
	for h := from; h <= to; h++ {
		res, err := l.FinalizeBlock(Block{Height: h, Time: time.Unix(1_800_000_000+h, 0)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Commit(); err != nil {
			t.Fatal(err)
		}
		out[h] = res.AppHash
	}
	return out
}

// TestRecoverFromCrashAfterSaveVersion: the process died after IAVL saved
// version 4 but before the commit marker was written. The ledger reopens at
// 3 and re-executing block 4 gives the same app hash.
func TestRecoverFromCrashAfterSaveVersion(t *testing.T) {
	forEachMarker(t, testRecoverFromCrashAfterSaveVersion)
}

func testRecoverFromCrashAfterSaveVersion(t *testing.T, opts Options) {
	db := idb.NewMemDB()
	l, hashes := startChain(t, db, opts, 3)
	res, err := l.FinalizeBlock(Block{Height: 4, Time: time.Unix(1_800_000_004, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.tree.SaveVersion(); err != nil { // crash: no marker
		t.Fatal(err)
	}

	l2, err := Open(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	if l2.LastHeight() != 3 || !bytes.Equal(l2.LastAppHash(), hashes[3]) {
		t.Fatalf("reopened at %d %X, want 3 %X", l2.LastHeight(), l2.LastAppHash(), hashes[3])
	}
	if l2.ChainID() != "recovery" {
		t.Fatalf("chain id %q after reopen", l2.ChainID())
	}
	again := runBlocks(t, l2, 4, 5)
	if !bytes.Equal(again[4], res.AppHash) {
		t.Fatalf("replayed block 4 hash %X, want %X", again[4], res.AppHash)
	}
}

// TestRecoverFromPartialVersion: the process died inside SaveVersion: the
// nodes of version 4 reached disk but its root did not. The ledger reopens
// at 3, discarding the fragments.
func TestRecoverFromPartialVersion(t *testing.T) {
	forEachMarker(t, testRecoverFromPartialVersion)
}

func testRecoverFromPartialVersion(t *testing.T, opts Options) {
	db := idb.NewMemDB()
	l, hashes := startChain(t, db, opts, 3)
	res, err := l.FinalizeBlock(Block{Height: 4, Time: time.Unix(1_800_000_004, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.tree.SaveVersion(); err != nil {
		t.Fatal(err)
	}
	// IAVL v1 keys nodes as 's' || version || nonce; the root has nonce 1.
	root := concat(treePrefix, []byte{'s'}, be64(4), be32(1))
	if v, _ := db.Get(root); v == nil {
		t.Fatal("root node of version 4 not where expected")
	}
	if err := db.Delete(root); err != nil {
		t.Fatal(err)
	}

	l2, err := Open(db, opts)
	if err != nil {
		t.Fatalf("reopen after partial version: %v", err)
	}
	if l2.LastHeight() != 3 || !bytes.Equal(l2.LastAppHash(), hashes[3]) {
		t.Fatalf("reopened at %d %X, want 3 %X", l2.LastHeight(), l2.LastAppHash(), hashes[3])
	}
	again := runBlocks(t, l2, 4, 4)
	if !bytes.Equal(again[4], res.AppHash) {
		t.Fatalf("replayed block 4 hash %X, want %X", again[4], res.AppHash)
	}
}

// TestFinalizeWithoutCommitIsDiscarded: consensus may finalize a height and
// then finalize it again (after a restart of consensus); the first attempt
// leaves no trace.
func TestFinalizeWithoutCommitIsDiscarded(t *testing.T) {
	l, err := Open(idb.NewMemDB(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.InitChain("recovery", 1, time.Unix(1_800_000_000, 0), recoveryGenesis()); err != nil {
		t.Fatal(err)
	}
	a, err := l.FinalizeBlock(Block{Height: 1, Time: time.Unix(1_800_000_001, 0), Txs: [][]byte{{1, 2, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.FinalizeBlock(Block{Height: 1, Time: time.Unix(1_800_000_001, 0), Txs: [][]byte{{1, 2, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.AppHash, b.AppHash) {
		t.Fatal("re-finalizing the same block gave a different app hash")
	}
	if _, err := l.FinalizeBlock(Block{Height: 3, Time: time.Unix(1_800_000_003, 0)}); err == nil {
		t.Fatal("finalizing a height out of order succeeded")
	}
}
