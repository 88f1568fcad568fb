package ledger_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/ledger"
	"github.com/tabella/tabella/ledger/sealed"
)

// Fuzz targets for the sealed payloads the ledger decodes: ballots and
// decryption shares. Run one with e.g.
//
//	go test ./ledger -run '^$' -fuzz '^FuzzSealedBallot$' -fuzztime 30s
//
// The worlds are deterministic (detRand), so the committed corpus in
// testdata/fuzz/FuzzSealedBallot and FuzzDecryptionShare stays valid; see
// TestWriteSealedFuzzCorpus.

// sealedFuzzWorld holds the sealed consultation "benches" with a ready key,
// open for voting, and the ceremony's trustees.
func sealedFuzzWorld(tb testing.TB) (*world, *ceremony) {
	w := newSealedWorld(tb)
	rnd := newDetRand("sealed-fuzz")
	c := w.registerTrustees(rnd)
	spec := w.sealedConsultation("benches")
	spec.Schedule.VotingClosesAt = spec.Schedule.VotingOpensAt + 86400
	w.readySealed(c, spec)
	return w, c
}

// sealedBallotSeeds: a valid ballot of alice, then lies and mutations.
func sealedBallotSeeds(tb testing.TB, w *world) [][]byte {
	st := w.sealedRecord("benches").State
	rnd := newDetRand("sealed-fuzz-seeds")
	b, err := client.SealBallot(rnd, testChain, st, pub("alice"), []uint32{0, 2})
	if err != nil {
		tb.Fatal(err)
	}
	bob, err := client.SealBallot(rnd, testChain, st, pub("bob"), []uint32{1})
	if err != nil {
		tb.Fatal(err)
	}
	flipped := bytes.Clone(b)
	flipped[len(flipped)-1] ^= 1
	return [][]byte{b, bob, b[:len(b)/2], flipped, append(bytes.Clone(b), 0), {0xb1}, nil}
}

// FuzzSealedBallot: any bytes as alice's sealed ballot never panic, get a
// defined code, and are accepted only when they verify as a valid ballot
// of alice (then the encrypted tally still decodes).
func FuzzSealedBallot(f *testing.F) {
	w, _ := sealedFuzzWorld(f)
	st := w.sealedRecord("benches").State
	for _, s := range sealedBallotSeeds(f, w) {
		f.Add(s)
	}
	cred := w.cred("alice", resident("alice")...)
	f.Fuzz(func(t *testing.T, ballot []byte) {
		tx, err := client.SealedBallotTx(testChain, key("alice"), "benches", cred, nil, ballot, 1)
		if err != nil {
			t.Fatal(err)
		}
		r := finalizeOne(t, w, tx)
		_, verr := ledger.VerifySealedBallot(nil, testChain, st, pub("alice"), ballot)
		if (r.Code == ledger.CodeOK) != (verr == nil) {
			t.Fatalf("CheckTx %s (%s), verification %v", r.Code, r.Log, verr)
		}
	})
}

// closingFuzzWorld: "benches" with two ballots, voting closed, CLOSING.
func closingFuzzWorld(tb testing.TB) (*world, *ceremony) {
	w, c := sealedFuzzWorld(tb)
	rnd := newDetRand("sealed-fuzz-ballots")
	w.mustOK(w.sealedBallot(rnd, "alice", "benches", 1, 0), w.sealedBallot(rnd, "bob", "benches", 1, 1, 2))
	w.until(w.initiative("benches").Spec.Schedule.VotingClosesAt)
	return w, c
}

func shareSeeds(tb testing.TB, w *world, c *ceremony) [][]byte {
	rec := w.sealedRecord("benches")
	enc := w.tally("benches").Encrypted
	c.rnd = newDetRand("sealed-fuzz-shares")
	good, err := c.trustee(w, "benches", "civ-a").DecryptionShare(c.rnd, rec.State, rec.Deals, enc)
	if err != nil {
		tb.Fatal(err)
	}
	other, err := c.trustee(w, "benches", "gov-a").DecryptionShare(c.rnd, rec.State, rec.Deals, enc)
	if err != nil {
		tb.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)-40] ^= 1
	return [][]byte{good, other, flipped, good[:len(good)-1], {0xa1, 0, 3}}
}

// FuzzDecryptionShare: any bytes as civ-a's decryption share never panic,
// get a defined code, and are accepted only when they verify against
// civ-a's verification key and the closing tally.
func FuzzDecryptionShare(f *testing.F) {
	w, c := closingFuzzWorld(f)
	for _, s := range shareSeeds(f, w, c) {
		f.Add(s)
	}
	rec := w.sealedRecord("benches")
	enc, err := sealed.DecodeTally(w.tally("benches").Encrypted)
	if err != nil {
		f.Fatal(err)
	}
	yj, err := sealed.DecodePublicKey(rec.State.VerificationKeys[2])
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, share []byte) {
		tx, err := client.DecryptionShareTx(testChain, key("civ-a-admin"), "benches", "civ-a", share)
		if err != nil {
			t.Fatal(err)
		}
		r := finalizeOne(t, w, tx)
		valid := false
		if p, err := sealed.DecodePartialDecryption(share); err == nil && p.Index() == 3 {
			valid = sealed.VerifyPartial(ledger.SealedDecryptContext(testChain, "benches"), yj, enc, p) == nil
		}
		if valid != (r.Code == ledger.CodeOK) {
			t.Fatalf("CheckTx %s (%s), valid %v", r.Code, r.Log, valid)
		}
	})
}

// finalizeOne executes tx alone in the next block without committing it
// (the next call finalizes the same height again from the last commit),
// and checks its code is a defined rejection and that a rejection leaves
// the app hash alone.
func finalizeOne(t *testing.T, w *world, tx []byte) ledger.TxResult {
	t.Helper()
	at := w.now.Add(5 * time.Second)
	empty, err := w.l.FinalizeBlock(ledger.Block{Height: w.height + 1, Time: at})
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.l.FinalizeBlock(ledger.Block{Height: w.height + 1, Time: at, Txs: [][]byte{tx}})
	if err != nil {
		t.Fatalf("FinalizeBlock returned an error for a tx: %v", err)
	}
	r := res.TxResults[0]
	if !slices.Contains(ledger.AllCodes(), r.Code) || r.Code == ledger.CodeInternal {
		t.Fatalf("code %s: %s", r.Code, r.Log)
	}
	if r.Code != ledger.CodeOK && !bytes.Equal(res.AppHash, empty.AppHash) {
		t.Fatalf("rejected tx (%s: %s) changed the app hash", r.Code, r.Log)
	}
	return r
}

// TestSealedFuzzSeeds: the first seed of each target is accepted and the
// committed corpus files exist.
func TestSealedFuzzSeeds(t *testing.T) {
	w, c := closingFuzzWorld(t)
	s := shareSeeds(t, w, c)
	w.expect(one(ledger.CodeOK), mustShareTx(t, s[0]))
	for _, target := range []string{"FuzzSealedBallot", "FuzzDecryptionShare"} {
		files, err := filepath.Glob(filepath.Join("testdata", "fuzz", target, "*"))
		if err != nil || len(files) < 3 {
			t.Fatalf("testdata/fuzz/%s holds %d files (%v); run TABELLA_WRITE_FUZZ_CORPUS=1 go test ./ledger -run TestWriteSealedFuzzCorpus", target, len(files), err)
		}
	}
	w2, _ := sealedFuzzWorld(t)
	b := sealedBallotSeeds(t, w2)
	tx, err := client.SealedBallotTx(testChain, key("alice"), "benches", w2.cred("alice", resident("alice")...), nil, b[0], 1)
	if err != nil {
		t.Fatal(err)
	}
	if r := w2.l.CheckTx(tx); r.Code != ledger.CodeOK {
		t.Fatalf("valid ballot seed: %s %s", r.Code, r.Log)
	}
}

func mustShareTx(t *testing.T, share []byte) []byte {
	tx, err := client.DecryptionShareTx(testChain, key("civ-a-admin"), "benches", "civ-a", share)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestWriteSealedFuzzCorpus writes the seeds of the sealed fuzz targets
// to testdata/fuzz when TABELLA_WRITE_FUZZ_CORPUS is set.
func TestWriteSealedFuzzCorpus(t *testing.T) {
	if os.Getenv("TABELLA_WRITE_FUZZ_CORPUS") == "" {
		t.Skip("set TABELLA_WRITE_FUZZ_CORPUS=1 to write missing corpus files")
	}
	write := func(target string, seeds [][]byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			path := filepath.Join(dir, fmt.Sprintf("seed-%d", i))
			if _, err := os.Stat(path); err == nil {
				continue
			}
			if err := os.WriteFile(path, fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	w, c := closingFuzzWorld(t)
	write("FuzzDecryptionShare", shareSeeds(t, w, c))
	w2, _ := sealedFuzzWorld(t)
	write("FuzzSealedBallot", sealedBallotSeeds(t, w2))
}
