package ledger_test

import (
	"testing"

	"github.com/tabella/tabella/ledger"
)

// TestDecodedTxCacheIsInvisible: a node that decoded and checked the
// ballots in PreVerify and CheckTx (executing from its decoded-tx cache)
// and a node that meets them first in FinalizeBlock decide every tx alike
// and reach the same app hash — also for a tx repeated in one block, a
// second ballot with the same sequence, and a forged tx the first node's
// PreVerify refused.
func TestDecodedTxCacheIsInvisible(t *testing.T) {
	warm, cold := newWorld(t), newWorld(t)
	spec := warm.consultation("parks")
	create := warm.createTx(spec)
	warm.mustOK(create)
	cold.mustOK(create)

	alice := warm.ballot("alice", "parks", 1, 0)
	bob := warm.ballot("bob", "parks", 1, 1)
	bobAgain := warm.ballot("bob", "parks", 1, 2) // same sequence: a replay of the slot
	forged := append([]byte(nil), warm.ballot("carol", "parks", 1, 0)...)
	forged[len(forged)-1] ^= 1 // the last byte is the tx signature's
	block := [][]byte{alice, bob, alice, bobAgain, forged}

	for _, tx := range block[:2] {
		if err := warm.l.PreVerify(tx); err != nil {
			t.Fatalf("PreVerify: %v", err)
		}
		if r := warm.l.CheckTx(tx); r.Code != ledger.CodeOK {
			t.Fatalf("CheckTx: %s %s", r.Code, r.Log)
		}
	}
	if err := warm.l.PreVerify(forged); ledger.CodeOf(err) != ledger.CodeBadSignature {
		t.Fatalf("PreVerify of a forged tx: %v", err)
	}

	rw, rc := warm.block(block...), cold.block(block...)
	for i := range block {
		if rw.TxResults[i].Code != rc.TxResults[i].Code {
			t.Fatalf("tx %d: %s with the cache, %s without", i, rw.TxResults[i].Code, rc.TxResults[i].Code)
		}
	}
	if rw.TxResults[0].Code != ledger.CodeOK || rw.TxResults[1].Code != ledger.CodeOK {
		t.Fatalf("fresh ballots: %s, %s", rw.TxResults[0].Code, rw.TxResults[1].Code)
	}
	if rw.TxResults[2].Code == ledger.CodeOK || rw.TxResults[3].Code == ledger.CodeOK {
		t.Fatalf("repeats accepted: %s, %s", rw.TxResults[2].Code, rw.TxResults[3].Code)
	}
	if rw.TxResults[4].Code != ledger.CodeBadSignature {
		t.Fatalf("forged tx: %s", rw.TxResults[4].Code)
	}
	if string(rw.AppHash) != string(rc.AppHash) {
		t.Fatal("app hashes differ")
	}
	if tl := warm.tally("parks"); tl.Turnout != 2 || tl.BallotsCast != 2 {
		t.Fatalf("tally %v", tl)
	}
}
