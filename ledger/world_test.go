package ledger_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	corestore "cosmossdk.io/core/store"
	idb "github.com/cosmos/iavl/db"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

const testChain = "tabella-test"

// world is a ledger with a demo consortium (two government and two
// civil-society parties), an organiser and an issuer, driven block by
// block. Keys derive from names, so two worlds agree on everything.
type world struct {
	t      testing.TB
	l      *ledger.Ledger
	db     *idb.MemDB
	height int64
	now    time.Time
}

var genesisTime = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

func key(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("tabella-test-key/" + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func pub(name string) ed25519.PublicKey { return key(name).Public().(ed25519.PublicKey) }

func testGenesis() *tabellav1.Genesis {
	party := func(id string, kind tabellav1.PartyKind) *tabellav1.Party {
		return &tabellav1.Party{
			Id: id, Name: "Party " + id, Kind: kind,
			AdminKeys: [][]byte{pub(id + "-admin")},
			Validator: &tabellav1.Validator{PublicKey: pub(id + "-val"), Power: 10},
		}
	}
	return &tabellav1.Genesis{
		Parties: []*tabellav1.Party{
			party("gov-a", tabellav1.PartyKind_PARTY_KIND_GOVERNMENT),
			party("gov-b", tabellav1.PartyKind_PARTY_KIND_GOVERNMENT),
			party("civ-a", tabellav1.PartyKind_PARTY_KIND_CIVIL_SOCIETY),
			party("civ-b", tabellav1.PartyKind_PARTY_KIND_CIVIL_SOCIETY),
		},
		Organisers: []*tabellav1.Organiser{{Id: "city", Name: "City Hall", PublicKey: pub("city")}},
		Issuers:    []*tabellav1.Issuer{{Id: "registry", Name: "Population Registry", PublicKey: pub("registry")}},
	}
}

func newWorld(t testing.TB) *world {
	t.Helper()
	db := idb.NewMemDB()
	return newWorldOn(t, db, db, ledger.Options{})
}

// newWorldOn is newWorld with the ledger opened with opts on store, which
// is db or a wrapper of it.
func newWorldOn(t testing.TB, db *idb.MemDB, store corestore.KVStoreWithBatch, opts ledger.Options) *world {
	t.Helper()
	l, err := ledger.Open(store, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.InitChain(testChain, 1, genesisTime, testGenesis()); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, l: l, db: db, now: genesisTime}
	w.block()
	return w
}

// finalize executes the next block without committing it.
func (w *world) finalize(txs ...[]byte) *ledger.BlockResult {
	w.t.Helper()
	res, err := w.l.FinalizeBlock(ledger.Block{Height: w.height + 1, Time: w.now.Add(5 * time.Second), Txs: txs, Hash: blockHash(w.height + 1)})
	if err != nil {
		w.t.Fatal(err)
	}
	return res
}

// blockHash is the test chain's (made-up) hash of block h.
func blockHash(h int64) []byte {
	sum := sha256.Sum256([]byte(fmt.Sprintf("tabella-test-block/%d", h)))
	return sum[:]
}

// block executes and commits the next block, five seconds after the last.
func (w *world) block(txs ...[]byte) *ledger.BlockResult {
	w.t.Helper()
	res := w.finalize(txs...)
	h, err := w.l.Commit()
	if err != nil {
		w.t.Fatal(err)
	}
	w.height = h
	w.now = w.now.Add(5 * time.Second)
	return res
}

// mustOK commits txs in one block and fails unless every one was accepted.
func (w *world) mustOK(txs ...[]byte) {
	w.t.Helper()
	res := w.block(txs...)
	for i, r := range res.TxResults {
		if r.Code != ledger.CodeOK {
			w.t.Fatalf("tx %d rejected: %s: %s", i, r.Code, r.Log)
		}
	}
}

func (w *world) cred(voter string, attrs ...*tabellav1.Attribute) *tabellav1.SignedCredential {
	return w.credFrom("registry", voter, w.now.Add(24*time.Hour).Unix(), attrs...)
}

func (w *world) credFrom(issuer, voter string, expires int64, attrs ...*tabellav1.Attribute) *tabellav1.SignedCredential {
	w.t.Helper()
	sc, err := client.IssueCredential(testChain, key(issuer), &tabellav1.Credential{
		IssuerId:       issuer,
		VoterPublicKey: pub(voter),
		Attributes:     attrs,
		IssuedAt:       genesisTime.Unix(),
		ExpiresAt:      expires,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return sc
}

func intAttr(name string, v int64) *tabellav1.Attribute {
	return &tabellav1.Attribute{Name: name, Value: &tabellav1.AttributeValue{Value: &tabellav1.AttributeValue_Integer{Integer: v}}}
}

func textAttr(name, v string) *tabellav1.Attribute {
	return &tabellav1.Attribute{Name: name, Value: &tabellav1.AttributeValue{Value: &tabellav1.AttributeValue_Text{Text: v}}}
}

func textVal(s string) *tabellav1.AttributeValue {
	return &tabellav1.AttributeValue{Value: &tabellav1.AttributeValue_Text{Text: s}}
}

func intVal(n int64) *tabellav1.AttributeValue {
	return &tabellav1.AttributeValue{Value: &tabellav1.AttributeValue_Integer{Integer: n}}
}

// consultation is a three-option consultation open now for an hour,
// for residents of Aarhus aged 16 or more.
func (w *world) consultation(id string) *tabellav1.InitiativeSpec {
	return &tabellav1.InitiativeSpec{
		Id:    id,
		Kind:  tabellav1.InitiativeKind_INITIATIVE_KIND_CONSULTATION,
		Title: "Which park gets new benches?",
		Options: []*tabellav1.Option{
			{Id: "north", Title: "North Park"},
			{Id: "south", Title: "South Park"},
			{Id: "river", Title: "Riverside"},
		},
		Ballot:   &tabellav1.BallotRules{MinSelections: 1, MaxSelections: 2, RevotingAllowed: true},
		Schedule: &tabellav1.Schedule{VotingOpensAt: w.now.Unix(), VotingClosesAt: w.now.Add(time.Hour).Unix()},
		Eligibility: &tabellav1.Eligibility{
			IssuerIds: []string{"registry"},
			Predicates: []*tabellav1.Predicate{
				{Attribute: "municipality", Op: tabellav1.Operator_OPERATOR_EQ, Values: []*tabellav1.AttributeValue{textVal("Aarhus")}},
				{Attribute: "age", Op: tabellav1.Operator_OPERATOR_GE, Values: []*tabellav1.AttributeValue{intVal(16)}},
			},
		},
		ResultRule: &tabellav1.ResultRule{Quorum: 2},
	}
}

func (w *world) createTx(spec *tabellav1.InitiativeSpec) []byte {
	w.t.Helper()
	tx, err := client.CreateInitiativeTx(testChain, key("city"), "city", spec)
	if err != nil {
		w.t.Fatal(err)
	}
	return tx
}

func resident(voter string) []*tabellav1.Attribute {
	return []*tabellav1.Attribute{intAttr("age", 34), textAttr("municipality", "Aarhus")}
}

func (w *world) ballot(voter, initiative string, seq uint64, sel ...uint32) []byte {
	w.t.Helper()
	tx, err := client.BallotTx(testChain, key(voter), initiative, w.cred(voter, resident(voter)...), sel, seq)
	if err != nil {
		w.t.Fatal(err)
	}
	return tx
}

func (w *world) view() *ledger.View {
	w.t.Helper()
	v, err := w.l.View(0)
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}

func (w *world) tally(id string) *tabellav1.Tally {
	w.t.Helper()
	t, err := w.view().Tally(id)
	if err != nil {
		w.t.Fatal(err)
	}
	return t
}
