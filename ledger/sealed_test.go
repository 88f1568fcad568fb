package ledger_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"slices"
	"testing"
	"time"

	idb "github.com/cosmos/iavl/db"
	"google.golang.org/protobuf/proto"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/ledger"
	"github.com/tabella/tabella/ledger/sealed"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// detRand is a deterministic stream (SHA-256 in counter mode) so that two
// ledgers fed the same sealed txs can be built from one seed.
type detRand struct {
	seed [32]byte
	ctr  uint64
	buf  []byte
}

func newDetRand(seed string) *detRand { return &detRand{seed: sha256.Sum256([]byte(seed))} }

func (r *detRand) Read(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(r.buf) == 0 {
			h := sha256.Sum256(binary.BigEndian.AppendUint64(r.seed[:], r.ctr))
			r.ctr++
			r.buf = h[:]
		}
		k := copy(p, r.buf)
		p, r.buf = p[k:], r.buf[k:]
	}
	return n, nil
}

// sealedGenesis adds a fifth party, civ-c, that is never a trustee.
func sealedGenesis() *tabellav1.Genesis {
	g := testGenesis()
	g.Parties = append(g.Parties, &tabellav1.Party{
		Id: "civ-c", Name: "Party civ-c", Kind: tabellav1.PartyKind_PARTY_KIND_CIVIL_SOCIETY,
		AdminKeys: [][]byte{pub("civ-c-admin")},
		Validator: &tabellav1.Validator{PublicKey: pub("civ-c-val"), Power: 10},
	})
	return g
}

func newSealedWorld(t testing.TB) *world {
	t.Helper()
	db := idb.NewMemDB()
	l, err := ledger.Open(db, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.InitChain(testChain, 1, genesisTime, sealedGenesis()); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, l: l, db: db, now: genesisTime}
	w.block()
	return w
}

var trusteeParties = []string{"gov-a", "gov-b", "civ-a", "civ-b"}

// ceremony holds the trustees' secrets of one test chain.
type ceremony struct {
	rnd     io.Reader
	secrets map[string]*client.TrusteeSecret
}

// registerTrustees registers a trustee key for every trustee party.
func (w *world) registerTrustees(rnd io.Reader) *ceremony {
	w.t.Helper()
	c := &ceremony{rnd: rnd, secrets: map[string]*client.TrusteeSecret{}}
	var txs [][]byte
	for _, p := range trusteeParties {
		s, err := client.NewTrusteeSecret(rnd)
		if err != nil {
			w.t.Fatal(err)
		}
		c.secrets[p] = s
		tx, err := client.RegisterTrusteeKeyTx(testChain, key(p+"-admin"), p, s.Public())
		if err != nil {
			w.t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	w.mustOK(txs...)
	return c
}

// sealedConsultation is a sealed three-option consultation (one or two
// selections, revoting and withdrawal allowed): deals for 20 s,
// complaints for 20 s more, voting from 60 s for two minutes.
func (w *world) sealedConsultation(id string) *tabellav1.InitiativeSpec {
	s := w.consultation(id)
	s.Secrecy = tabellav1.Secrecy_SECRECY_SEALED
	s.Ballot.WithdrawalAllowed = true
	s.Schedule = &tabellav1.Schedule{VotingOpensAt: w.now.Add(60 * time.Second).Unix(), VotingClosesAt: w.now.Add(180 * time.Second).Unix()}
	s.Sealed = &tabellav1.SealedSpec{
		TrusteePartyIds:   slices.Clone(trusteeParties),
		DealsCloseAt:      w.now.Add(20 * time.Second).Unix(),
		ComplaintsCloseAt: w.now.Add(40 * time.Second).Unix(),
	}
	return s
}

// sealedBudget is a sealed five-project budget of 250,000 under the
// WITHIN_BUDGET rule.
func (w *world) sealedBudget(id string) *tabellav1.InitiativeSpec {
	s := w.sealedConsultation(id)
	s.Kind = tabellav1.InitiativeKind_INITIATIVE_KIND_BUDGET
	s.Options = []*tabellav1.Option{
		{Id: "library", Title: "Library", Cost: 120_000},
		{Id: "playground", Title: "Playground", Cost: 80_000},
		{Id: "trees", Title: "Trees", Cost: 50_000},
		{Id: "benches", Title: "Benches", Cost: 30_000},
		{Id: "lights", Title: "Lights", Cost: 100_000},
	}
	s.Ballot = &tabellav1.BallotRules{MinSelections: 1, RevotingAllowed: true, WithdrawalAllowed: true}
	s.Budget = &tabellav1.Budget{Total: 250_000, Currency: "EUR", BallotRule: tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_WITHIN_BUDGET}
	return s
}

func (w *world) sealedRecord(id string) *ledger.SealedRecord {
	w.t.Helper()
	rec, err := w.view().Sealed(id)
	if err != nil || rec == nil {
		w.t.Fatalf("sealed record of %q: %v", id, err)
	}
	return rec
}

func (c *ceremony) trustee(w *world, id, party string) *client.Trustee {
	w.t.Helper()
	tr, err := client.NewTrustee(testChain, w.initiative(id).Spec, w.sealedRecord(id).State, party, c.secrets[party])
	if err != nil {
		w.t.Fatal(err)
	}
	return tr
}

func (c *ceremony) dealTx(w *world, id, party string) []byte {
	w.t.Helper()
	d, err := c.trustee(w, id, party).Deal(c.rnd)
	if err != nil {
		w.t.Fatal(err)
	}
	tx, err := client.TrusteeDealTx(testChain, key(party+"-admin"), id, party, d)
	if err != nil {
		w.t.Fatal(err)
	}
	return tx
}

// readySealed creates spec, runs the ceremony with every trustee dealing
// honestly and waits until voting opens.
func (w *world) readySealed(c *ceremony, spec *tabellav1.InitiativeSpec) {
	w.t.Helper()
	w.mustOK(w.createTx(spec))
	var txs [][]byte
	for _, p := range trusteeParties {
		txs = append(txs, c.dealTx(w, spec.Id, p))
	}
	w.mustOK(txs...)
	w.until(spec.Schedule.VotingOpensAt)
	if st := w.sealedRecord(spec.Id).State; st.Status != tabellav1.CeremonyStatus_CEREMONY_STATUS_READY {
		w.t.Fatalf("ceremony is %s: %s", st.Status, st.Failure)
	}
	if in := w.initiative(spec.Id); in.Status != tabellav1.InitiativeStatus_INITIATIVE_STATUS_VOTING {
		w.t.Fatalf("initiative is %s, want VOTING", in.Status)
	}
}

func (w *world) sealedBallot(rnd io.Reader, voter, id string, seq uint64, sel ...uint32) []byte {
	w.t.Helper()
	b, err := client.SealBallot(rnd, testChain, w.sealedRecord(id).State, pub(voter), sel)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.sealedBallotTx(voter, id, seq, b)
}

func (w *world) sealedBallotTx(voter, id string, seq uint64, ballot []byte) []byte {
	w.t.Helper()
	tx, err := client.SealedBallotTx(testChain, key(voter), id, w.cred(voter, resident(voter)...), nil, ballot, seq)
	if err != nil {
		w.t.Fatal(err)
	}
	return tx
}

func (c *ceremony) shareTx(w *world, id, party string) []byte {
	w.t.Helper()
	rec := w.sealedRecord(id)
	var tally tabellav1.Tally
	tl := w.tally(id)
	tally.Encrypted = tl.Encrypted
	s, err := c.trustee(w, id, party).DecryptionShare(c.rnd, rec.State, rec.Deals, tally.Encrypted)
	if err != nil {
		w.t.Fatal(err)
	}
	tx, err := client.DecryptionShareTx(testChain, key(party+"-admin"), id, party, s)
	if err != nil {
		w.t.Fatal(err)
	}
	return tx
}

// expect runs txs in one block and checks each one's code.
func (w *world) expect(codes []ledger.Code, txs ...[]byte) {
	w.t.Helper()
	res := w.block(txs...)
	for i, r := range res.TxResults {
		if r.Code != codes[i] {
			w.t.Fatalf("tx %d: got %s (%s), want %s", i, r.Code, r.Log, codes[i])
		}
	}
}

func one(c ledger.Code) []ledger.Code { return []ledger.Code{c} }

func TestSealedEndToEnd(t *testing.T) {
	w := newSealedWorld(t)
	rnd := newDetRand("sealed-e2e")
	c := w.registerTrustees(rnd)
	spec := w.sealedConsultation("benches")
	w.readySealed(c, spec)

	// alice votes north+south then revotes river; bob votes south;
	// carol votes north and withdraws; dave votes north+river.
	w.mustOK(
		w.sealedBallot(rnd, "alice", "benches", 1, 0, 1),
		w.sealedBallot(rnd, "bob", "benches", 1, 1),
		w.sealedBallot(rnd, "carol", "benches", 1, 0),
		w.sealedBallot(rnd, "dave", "benches", 1, 0, 2),
	)
	wd, err := client.WithdrawBallotTx(testChain, key("carol"), "benches", 2)
	if err != nil {
		t.Fatal(err)
	}
	w.mustOK(w.sealedBallot(rnd, "alice", "benches", 2, 2), wd)
	tl := w.tally("benches")
	if tl.Turnout != 3 || tl.BallotsCast != 5 || slices.ContainsFunc(tl.Counts, func(n uint64) bool { return n != 0 }) {
		t.Fatalf("running tally leaks or miscounts: turnout %d, cast %d, counts %v", tl.Turnout, tl.BallotsCast, tl.Counts)
	}
	if len(tl.Encrypted) == 0 {
		t.Fatal("no encrypted tally")
	}

	// Shares before close are refused.
	w.expect(one(ledger.CodeWrongPhase), c.shareTx(w, "benches", "gov-a"))

	w.until(spec.Schedule.VotingClosesAt)
	if in := w.initiative("benches"); in.Status != tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSING {
		t.Fatalf("after voting: %s, want CLOSING", in.Status)
	}
	// Ballots after close are refused.
	w.expect(one(ledger.CodeNotOpen), w.sealedBallot(rnd, "erin", "benches", 1, 0))

	// A wrong share: gov-b's share posted under civ-a's name (valid
	// encoding, index rewritten) does not verify against civ-a's key.
	good := c.shareTx(w, "benches", "gov-b")
	var bad []byte
	{
		rec := w.sealedRecord("benches")
		s, err := c.trustee(w, "benches", "gov-b").DecryptionShare(c.rnd, rec.State, rec.Deals, w.tally("benches").Encrypted)
		if err != nil {
			t.Fatal(err)
		}
		s[1], s[2] = 0, 3 // u16 index after the one-byte tag: claim trustee 3 (civ-a)
		if bad, err = client.DecryptionShareTx(testChain, key("civ-a-admin"), "benches", "civ-a", s); err != nil {
			t.Fatal(err)
		}
	}
	nonTrustee, err := client.DecryptionShareTx(testChain, key("civ-c-admin"), "benches", "civ-c", []byte{1})
	if err != nil {
		t.Fatal(err)
	}
	w.expect([]ledger.Code{ledger.CodeOK, ledger.CodeBadDecryptionShare, ledger.CodeNotTrustee, ledger.CodeAlreadyExists}, good, bad, nonTrustee, good)

	// t-1 = 2 valid shares: still CLOSING, no counts.
	w.mustOK(c.shareTx(w, "benches", "civ-b"))
	if in := w.initiative("benches"); in.Status != tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSING || in.Result != nil {
		t.Fatalf("with t-1 shares: %s, result %v", in.Status, in.Result)
	}
	// The third share decrypts.
	w.mustOK(c.shareTx(w, "benches", "gov-a"))
	in := w.initiative("benches")
	if in.Status != tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSED {
		t.Fatalf("after t shares: %s", in.Status)
	}
	// north: dave; south: bob; river: alice, dave.
	if want := []uint64{1, 1, 2}; !slices.Equal(in.Result.Counts, want) {
		t.Fatalf("counts %v, want %v", in.Result.Counts, want)
	}
	if !slices.Equal(in.Result.Winners, []uint32{2}) || in.Result.Turnout != 3 || !in.Result.QuorumMet {
		t.Fatalf("result %v", in.Result)
	}
	if !slices.Equal(in.Result.DecryptedBy, []uint32{1, 2, 4}) {
		t.Fatalf("decrypted by %v, want [1 2 4]", in.Result.DecryptedBy)
	}
	if got := w.tally("benches").Counts; !slices.Equal(got, []uint64{1, 1, 2}) {
		t.Fatalf("tally counts after decryption %v", got)
	}
	// A late share is refused.
	w.expect(one(ledger.CodeWrongPhase), c.shareTx(w, "benches", "civ-a"))

	// The election record verifies on its own, and a tampered one does not.
	rec := w.sealedRecord("benches")
	var live []*tabellav1.BallotRecord
	if err := w.view().Ballots("benches", func(b *tabellav1.BallotRecord) error { live = append(live, b); return nil }); err != nil {
		t.Fatal(err)
	}
	enc := w.tally("benches").Encrypted
	check, err := client.VerifySealedRecord(testChain, in.Spec, rec.State, rec.Deals, rec.Shares, live, enc, in.Result)
	if err != nil {
		t.Fatal(err)
	}
	if check.Ballots != 3 || check.Shares != 3 || check.Deals != 4 || !slices.Equal(check.Counts, in.Result.Counts) {
		t.Fatalf("record check %+v", check)
	}
	swapped := slices.Clone(rec.Shares)
	swapped[0], swapped[1] = swapped[1], swapped[0]
	if _, err := client.VerifySealedRecord(testChain, in.Spec, rec.State, rec.Deals, swapped, live, enc, in.Result); err == nil {
		t.Fatal("swapped shares verify")
	}
	if _, err := client.VerifySealedRecord(testChain, in.Spec, rec.State, rec.Deals, rec.Shares, live[1:], enc, in.Result); err == nil {
		t.Fatal("a record missing a ballot verifies")
	}
	lying := proto.CloneOf(in.Result)
	lying.Counts[0]++
	if _, err := client.VerifySealedRecord(testChain, in.Spec, rec.State, rec.Deals, rec.Shares, live, enc, lying); err == nil {
		t.Fatal("a record with a wrong result verifies")
	}
}

// shiftOption returns ballot with option i's ciphertext multiplied by an
// encryption of delta (1 or -1): the ciphertext then encrypts x+delta,
// an encrypted 2 or -1, while the proofs still claim the original.
func shiftOption(t *testing.T, st *tabellav1.SealedState, ballot []byte, i int, delta int) []byte {
	t.Helper()
	y, err := sealed.DecodePublicKey(st.JointKey)
	if err != nil {
		t.Fatal(err)
	}
	one, err := sealed.Encrypt(rand.Reader, y, 1)
	if err != nil {
		t.Fatal(err)
	}
	const header = 6 // tag, u16 options, u8 slack bits, u8 range, u8 budget
	off := header + sealed.CiphertextSize*i
	ct, err := sealed.DecodeCiphertext(ballot[off : off+sealed.CiphertextSize])
	if err != nil {
		t.Fatal(err)
	}
	if delta > 0 {
		ct = ct.Add(one)
	} else {
		ct = ct.Sub(one)
	}
	out := bytes.Clone(ballot)
	copy(out[off:], ct.Bytes())
	return out
}

func TestSealedBallotRejections(t *testing.T) {
	w := newSealedWorld(t)
	rnd := newDetRand("sealed-rejections")
	c := w.registerTrustees(rnd)

	// Ballots before the key exists: the initiative is not open yet.
	early := w.sealedConsultation("early")
	w.mustOK(w.createTx(early))
	st := w.sealedRecord("early").State
	if st.Status != tabellav1.CeremonyStatus_CEREMONY_STATUS_DEALING || len(st.JointKey) != 0 {
		t.Fatalf("new ceremony: %v", st)
	}
	if _, err := client.SealBallot(rnd, testChain, st, pub("alice"), []uint32{0}); err == nil {
		t.Fatal("a client sealed a ballot without a key")
	}
	w.expect(one(ledger.CodeNotOpen), w.sealedBallotTx("alice", "early", 1, []byte{0xb1}))

	spec := w.sealedBudget("pot")
	w.readySealed(c, spec)
	st = w.sealedRecord("pot").State
	seal := func(voter string, sel ...uint32) []byte {
		b, err := client.SealBallot(rnd, testChain, st, pub(voter), sel)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Projects costing 260,000 of a 250,000 budget, proven under a budget
	// of 262,143: the same 18 slack bits, so the ballot has the right
	// shape and only its proof is for other rules, as an over-budget
	// ballot's must be.
	lenient := proto.CloneOf(st)
	lenient.Budget = 1<<18 - 1
	over, err := client.SealBallot(rnd, testChain, lenient, pub("olga"), []uint32{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	valid := seal("vera", 0, 1)
	cases := []struct {
		name  string
		tx    []byte
		want  ledger.Code
		voter string
	}{
		{"encrypted 2", w.sealedBallotTx("amy", "pot", 1, shiftOption(t, st, seal("amy", 0), 0, +1)), ledger.CodeBadSealedBallot, "amy"},
		{"encrypted -1", w.sealedBallotTx("ben", "pot", 1, shiftOption(t, st, seal("ben", 0), 1, -1)), ledger.CodeBadSealedBallot, "ben"},
		{"over budget", w.sealedBallotTx("olga", "pot", 1, over), ledger.CodeBadSealedBallot, "olga"},
		{"proof for another voter", w.sealedBallotTx("mallory", "pot", 1, valid), ledger.CodeBadSealedBallot, "mallory"},
		{"garbage", w.sealedBallotTx("gus", "pot", 1, []byte("not a ballot")), ledger.CodeBadSealedBallot, "gus"},
		{"plain selections", w.ballot("pia", "pot", 1, 0), ledger.CodeWrongSecrecy, "pia"},
		{"sealed ballot in a public initiative", nil, ledger.CodeWrongSecrecy, ""},
	}
	// A sealed ballot sent to a public initiative.
	pubSpec := w.consultation("plain")
	w.mustOK(w.createTx(pubSpec))
	cases[len(cases)-1].tx = w.sealedBallotTx("quinn", "plain", 1, valid)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := w.l.CheckTx(tc.tx); r.Code != tc.want {
				t.Fatalf("CheckTx: got %s (%s), want %s", r.Code, r.Log, tc.want)
			}
			w.expect(one(tc.want), tc.tx)
		})
	}
	// A proof made for another initiative does not verify in this one.
	w.readySealed(c, w.sealedBudget("pot2"))
	b2, err := client.SealBallot(rnd, testChain, w.sealedRecord("pot2").State, pub("vera"), []uint32{0})
	if err != nil {
		t.Fatal(err)
	}
	w.expect(one(ledger.CodeBadSealedBallot), w.sealedBallotTx("vera", "pot", 1, b2))
	// The valid one is accepted, and its plaintext selections are nowhere.
	w.mustOK(w.sealedBallotTx("vera", "pot", 1, valid))
	if tl := w.tally("pot"); tl.Turnout != 1 || slices.ContainsFunc(tl.Counts, func(n uint64) bool { return n != 0 }) {
		t.Fatalf("tally %v", tl)
	}
}

func TestSealedSpecValidation(t *testing.T) {
	w := newSealedWorld(t)
	w.registerTrustees(newDetRand("spec"))
	type modFn = func() []byte
	mod := func(id string, f func(*tabellav1.InitiativeSpec)) modFn {
		return func() []byte {
			s := w.sealedConsultation(id)
			f(s)
			return w.createTx(s)
		}
	}
	cases := []struct {
		name string
		tx   modFn
		want ledger.Code
	}{
		{"no sealed config", mod("s1", func(s *tabellav1.InitiativeSpec) { s.Sealed = nil }), ledger.CodeInvalidField},
		{"sealed config on a public initiative", mod("s2", func(s *tabellav1.InitiativeSpec) { s.Secrecy = tabellav1.Secrecy_SECRECY_PUBLIC }), ledger.CodeInvalidField},
		{"three trustees", mod("s3", func(s *tabellav1.InitiativeSpec) { s.Sealed.TrusteePartyIds = s.Sealed.TrusteePartyIds[:3] }), ledger.CodeInvalidField},
		{"threshold one side reaches", mod("s4", func(s *tabellav1.InitiativeSpec) { s.Sealed.Threshold = 2 }), ledger.CodeInvalidField},
		{"threshold n", mod("s5", func(s *tabellav1.InitiativeSpec) { s.Sealed.Threshold = 4 }), ledger.CodeInvalidField},
		{"trustee without a key", mod("s6", func(s *tabellav1.InitiativeSpec) { s.Sealed.TrusteePartyIds[3] = "civ-c" }), ledger.CodeNotFound},
		{"unknown party", mod("s7", func(s *tabellav1.InitiativeSpec) { s.Sealed.TrusteePartyIds[3] = "nobody" }), ledger.CodeNotFound},
		{"ceremony ends after voting opens", mod("s8", func(s *tabellav1.InitiativeSpec) { s.Sealed.ComplaintsCloseAt = s.Schedule.VotingOpensAt }), ledger.CodeInvalidField},
		{"petition", mod("s9", func(s *tabellav1.InitiativeSpec) {
			s.Kind = tabellav1.InitiativeKind_INITIATIVE_KIND_PETITION
			s.Options, s.Ballot = nil, nil
			s.ResultRule = &tabellav1.ResultRule{SignatureThreshold: 10}
		}), ledger.CodeInvalidField},
		{"ok", mod("s10", func(*tabellav1.InitiativeSpec) {}), ledger.CodeOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { w.expect(one(tc.want), tc.tx()) })
	}
}

func TestSealedCeremonyFailsAndComplaints(t *testing.T) {
	w := newSealedWorld(t)
	rnd := newDetRand("ceremony")
	c := w.registerTrustees(rnd)

	// Only two of four trustees deal: below the threshold of 3.
	spec := w.sealedConsultation("fails")
	spec.Sealed.DealsCloseAt = w.now.Add(60 * time.Second).Unix()
	spec.Sealed.ComplaintsCloseAt = w.now.Add(80 * time.Second).Unix()
	spec.Schedule.VotingOpensAt = w.now.Add(100 * time.Second).Unix()
	w.mustOK(w.createTx(spec))
	w.mustOK(c.dealTx(w, "fails", "gov-a"), c.dealTx(w, "fails", "civ-a"))
	// Deals are checked: a second deal, a deal from a non-trustee, a
	// deal under another index.
	other := c.dealTx(w, "fails", "gov-b")
	w.expect([]ledger.Code{ledger.CodeAlreadyExists}, c.dealTx(w, "fails", "gov-a"))
	{
		d, _ := ledger.DecodeTx(testChain, other)
		raw := d.Body.GetTrusteeDeal().Deal
		tx, _ := client.TrusteeDealTx(testChain, key("civ-b-admin"), "fails", "civ-b", raw)
		nt, _ := client.TrusteeDealTx(testChain, key("civ-c-admin"), "fails", "civ-c", raw)
		w.expect([]ledger.Code{ledger.CodeBadDeal, ledger.CodeNotTrustee}, tx, nt)
	}
	w.until(spec.Sealed.DealsCloseAt)
	w.expect(one(ledger.CodeWrongPhase), other)
	w.until(spec.Schedule.VotingOpensAt)
	in := w.initiative("fails")
	st := w.sealedRecord("fails").State
	if in.Status != tabellav1.InitiativeStatus_INITIATIVE_STATUS_CANCELLED || st.Status != tabellav1.CeremonyStatus_CEREMONY_STATUS_FAILED {
		t.Fatalf("failed ceremony: initiative %s, ceremony %s", in.Status, st.Status)
	}
	if in.Cancellation == nil || in.Cancellation.Reason != st.Failure || st.Failure == "" {
		t.Fatalf("cancellation %v, failure %q", in.Cancellation, st.Failure)
	}
	t.Log(st.Failure)

	// A false complaint is rejected: civ-b's share from gov-a is fine.
	spec2 := w.sealedConsultation("complaints")
	w.mustOK(w.createTx(spec2))
	var deals [][]byte
	for _, p := range trusteeParties {
		deals = append(deals, c.dealTx(w, "complaints", p))
	}
	w.mustOK(deals...)
	rec := w.sealedRecord("complaints")
	tr := c.trustee(w, "complaints", "civ-b")
	if cs, err := tr.Complaints(rnd, rec.Deals); err != nil || len(cs) != 0 {
		t.Fatalf("honest deals draw complaints: %d, %v", len(cs), err)
	}
	// Forge a complaint by civ-b against gov-a from a deal whose share to
	// civ-b is wrong: gov-a's deal re-made with a corrupted ciphertext
	// is no longer what was posted, so instead check the ledger refuses
	// a complaint about an honest deal.
	d, err := sealed.DecodeDeal(rec.Deals[0])
	if err != nil {
		t.Fatal(err)
	}
	params, err := ledger.DKGParams(testChain, rec.State)
	if err != nil {
		t.Fatal(err)
	}
	b := c.secrets["civ-b"].Bytes()
	b[0], b[1] = 0, 4
	k, err := sealed.DecodeTrusteeKey(b)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := k.Complain(rnd, params, d)
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := client.TrusteeComplaintTx(testChain, key("civ-b-admin"), "complaints", "civ-b", cp.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	w.expect(one(ledger.CodeComplaintRejected), ctx)
	w.until(spec2.Schedule.VotingOpensAt)
	if st := w.sealedRecord("complaints").State; st.Status != tabellav1.CeremonyStatus_CEREMONY_STATUS_READY || len(st.Qualified) != 4 {
		t.Fatalf("ceremony %s, qualified %v", st.Status, st.Qualified)
	}
}

// TestSealedRandomElections runs random sealed consultations and budgets —
// votes, revotes, withdrawals — on two ledgers fed the same blocks, and
// checks that both reach the same app hash at every height and that the
// decrypted result equals a plaintext reference tally.
func TestSealedRandomElections(t *testing.T) {
	rounds := 6
	if testing.Short() {
		rounds = 2
	}
	for round := range rounds {
		rnd := newDetRand(fmt.Sprintf("sealed-random-%d", round))
		mrand := mathrand.New(mathrand.NewPCG(uint64(round), 7))
		a, b := newSealedWorld(t), newSealedWorld(t)
		both := func(txs ...[]byte) {
			t.Helper()
			ra, rb := a.block(txs...), b.block(txs...)
			if !bytes.Equal(ra.AppHash, rb.AppHash) {
				t.Fatalf("round %d height %d: app hashes differ", round, a.height)
			}
			for i, r := range ra.TxResults {
				if r.Code != ledger.CodeOK || rb.TxResults[i].Code != ledger.CodeOK {
					t.Fatalf("round %d: tx %d: %s %s / %s", round, i, r.Code, r.Log, rb.TxResults[i].Code)
				}
			}
		}
		bothUntil := func(at int64) {
			for a.now.Unix() < at {
				both()
			}
		}
		c := &ceremony{rnd: rnd, secrets: map[string]*client.TrusteeSecret{}}
		var regs [][]byte
		for _, p := range trusteeParties {
			s, err := client.NewTrusteeSecret(rnd)
			if err != nil {
				t.Fatal(err)
			}
			c.secrets[p] = s
			tx, _ := client.RegisterTrusteeKeyTx(testChain, key(p+"-admin"), p, s.Public())
			regs = append(regs, tx)
		}
		both(regs...)

		id := fmt.Sprintf("r%d", round)
		var spec *tabellav1.InitiativeSpec
		if round%2 == 0 {
			spec = a.sealedConsultation(id)
			n := 2 + mrand.IntN(4)
			spec.Options = nil
			for i := range n {
				spec.Options = append(spec.Options, &tabellav1.Option{Id: fmt.Sprintf("o%d", i), Title: "Option"})
			}
			spec.Ballot.MinSelections = uint32(1 + mrand.IntN(n))
			spec.Ballot.MaxSelections = spec.Ballot.MinSelections + uint32(mrand.IntN(n-int(spec.Ballot.MinSelections)+1))
		} else {
			spec = a.sealedBudget(id)
		}
		spec.Schedule.VotingClosesAt = spec.Schedule.VotingOpensAt + 600
		both(a.createTx(spec))
		var deals [][]byte
		for _, p := range trusteeParties {
			deals = append(deals, c.dealTx(a, id, p))
		}
		both(deals...)
		bothUntil(spec.Schedule.VotingOpensAt)
		st := a.sealedRecord(id).State
		rules := ledger.SealedRules(st)

		// valid draws a random selection the rules allow.
		valid := func() []uint32 {
			for {
				var sel []uint32
				var cost uint64
				for i := range rules.Options {
					if mrand.IntN(2) == 1 {
						sel = append(sel, uint32(i))
						if rules.IsBudget() {
							cost += rules.Costs[i]
						}
					}
				}
				if len(sel) >= rules.Min && len(sel) <= rules.Max && (!rules.IsBudget() || cost <= rules.Budget) {
					return sel
				}
			}
		}
		live := map[string][]uint32{}
		seq := map[string]uint64{}
		voters := 4 + mrand.IntN(8)
		for blk := 0; blk < 4; blk++ {
			var txs [][]byte
			used := map[string]bool{}
			for range 1 + mrand.IntN(5) {
				v := fmt.Sprintf("voter%d", mrand.IntN(voters))
				if used[v] {
					continue
				}
				used[v] = true
				seq[v]++
				if _, ok := live[v]; ok && mrand.IntN(4) == 0 {
					tx, _ := client.WithdrawBallotTx(testChain, key(v), id, seq[v])
					txs = append(txs, tx)
					delete(live, v)
					continue
				}
				sel := valid()
				live[v] = sel
				txs = append(txs, a.sealedBallot(rnd, v, id, seq[v], sel...))
			}
			both(txs...)
		}
		want := make([]uint64, rules.Options)
		for _, sel := range live {
			for _, s := range sel {
				want[s]++
			}
		}
		bothUntil(spec.Schedule.VotingClosesAt)
		if len(live) == 0 {
			if in := a.initiative(id); in.Status != tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSED || !slices.Equal(in.Result.Counts, want) {
				t.Fatalf("round %d: empty election %s %v", round, in.Status, in.Result)
			}
			continue
		}
		// Three random trustees decrypt, one share per block.
		order := mrand.Perm(len(trusteeParties))
		for k, i := range order[:3] {
			if a.initiative(id).Status != tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSING {
				t.Fatalf("round %d: closed after %d shares", round, k)
			}
			both(c.shareTx(a, id, trusteeParties[i]))
		}
		in := a.initiative(id)
		if in.Status != tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSED || !slices.Equal(in.Result.Counts, want) {
			t.Fatalf("round %d: %s, counts %v, want %v", round, in.Status, in.Result.GetCounts(), want)
		}
		if in.Result.Turnout != uint64(len(live)) {
			t.Fatalf("round %d: turnout %d, want %d", round, in.Result.Turnout, len(live))
		}
	}
}

// TestAnonymousSealed: an ANONYMOUS_SEALED initiative takes sealed ballots
// with anonymous tokens, refuses credentials and plain selections, and
// decrypts like a sealed one.
func TestAnonymousSealed(t *testing.T) {
	w := newSealedWorld(t)
	rnd := newDetRand("anonymous-sealed")
	c := w.registerTrustees(rnd)
	sk := blindKey(t, "a")
	der := derOf(t, sk)
	spec := w.sealedConsultation("hidden")
	spec.Secrecy = tabellav1.Secrecy_SECRECY_ANONYMOUS_SEALED
	spec.Eligibility.Predicates = nil
	spec.BlindKeys = []*tabellav1.BlindKey{attest(t, "hidden", "registry", "registry", sk)}
	w.readySealed(c, spec)
	st := w.sealedRecord("hidden").State
	anon := func(voter string, sel ...uint32) []byte {
		b, err := client.SealBallot(rnd, testChain, st, pub(voter), sel)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := client.SealedBallotTx(testChain, key(voter), "hidden", nil, token(t, "hidden", voter, der, sk), b, 1)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	w.mustOK(anon("fresh-1", 0), anon("fresh-2", 0, 1))
	w.expect([]ledger.Code{ledger.CodeWrongSecrecy, ledger.CodeWrongSecrecy},
		w.sealedBallot(rnd, "alice", "hidden", 1, 0),                                    // a credential
		w.anonBallot("fresh-3", "hidden", token(t, "hidden", "fresh-3", der, sk), 1, 0)) // plain selections
	w.until(spec.Schedule.VotingClosesAt)
	w.mustOK(c.shareTx(w, "hidden", "gov-a"), c.shareTx(w, "hidden", "civ-a"), c.shareTx(w, "hidden", "civ-b"))
	in := w.initiative("hidden")
	if in.Status != tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSED || !slices.Equal(in.Result.Counts, []uint64{2, 1, 0}) {
		t.Fatalf("%s %v", in.Status, in.Result)
	}
}

// TestSealedWarmAndColdAgree: a node that verified the sealed ballots in
// CheckTx (cache hits in FinalizeBlock) and one that sees them first in
// the block reach the same results and app hash, invalid ballots included.
func TestSealedWarmAndColdAgree(t *testing.T) {
	warm, cold := newSealedWorld(t), newSealedWorld(t)
	both := func(check bool, txs ...[]byte) {
		t.Helper()
		if check {
			for _, tx := range txs {
				warm.l.CheckTx(tx)
				_ = warm.l.PreVerify(tx)
			}
		}
		rw, rc := warm.block(txs...), cold.block(txs...)
		if !bytes.Equal(rw.AppHash, rc.AppHash) {
			t.Fatalf("height %d: app hashes differ", warm.height)
		}
		for i := range rw.TxResults {
			if rw.TxResults[i].Code != rc.TxResults[i].Code {
				t.Fatalf("tx %d: warm %s, cold %s", i, rw.TxResults[i].Code, rc.TxResults[i].Code)
			}
		}
	}
	rnd := newDetRand("warm-cold")
	c := &ceremony{rnd: rnd, secrets: map[string]*client.TrusteeSecret{}}
	var regs [][]byte
	for _, p := range trusteeParties {
		s, _ := client.NewTrusteeSecret(rnd)
		c.secrets[p] = s
		tx, _ := client.RegisterTrusteeKeyTx(testChain, key(p+"-admin"), p, s.Public())
		regs = append(regs, tx)
	}
	both(false, regs...)
	spec := warm.sealedConsultation("wc")
	both(true, warm.createTx(spec))
	var deals [][]byte
	for _, p := range trusteeParties {
		deals = append(deals, c.dealTx(warm, "wc", p))
	}
	both(true, deals...)
	for warm.now.Unix() < spec.Schedule.VotingOpensAt {
		both(false)
	}
	st := warm.sealedRecord("wc").State
	good := warm.sealedBallot(rnd, "alice", "wc", 1, 0, 1)
	b, err := client.SealBallot(rnd, testChain, st, pub("bob"), []uint32{2})
	if err != nil {
		t.Fatal(err)
	}
	stolen := warm.sealedBallotTx("mallory", "wc", 1, b)
	lying := warm.sealedBallotTx("carol", "wc", 1, shiftOption(t, st, b, 2, +1))
	both(true, good, stolen, lying, warm.sealedBallotTx("bob", "wc", 1, b))
	if tl := cold.tally("wc"); tl.Turnout != 2 || !bytes.Equal(tl.Encrypted, warm.tally("wc").Encrypted) {
		t.Fatalf("cold tally: turnout %d", tl.Turnout)
	}
	if r := warm.l.CheckTx(stolen); r.Code != ledger.CodeBadSealedBallot {
		t.Fatalf("a stolen ballot after its owner's was cached: %s", r.Code)
	}
}

// TestSealedBudgetWithProposals: a sealed participatory budget whose
// projects come from a proposal window with dual review. The ballot rules
// are fixed when voting opens, from the approved projects; the result is
// funded from the decrypted counts.
func TestSealedBudgetWithProposals(t *testing.T) {
	w := newSealedWorld(t)
	rnd := newDetRand("sealed-proposals")
	c := w.registerTrustees(rnd)
	spec := w.budgetSpec("spb")
	now := w.now.Unix()
	spec.Schedule = &tabellav1.Schedule{ProposalsOpensAt: now, ProposalsClosesAt: now + 30, VotingOpensAt: now + 70, VotingClosesAt: now + 200}
	spec.Secrecy = tabellav1.Secrecy_SECRECY_SEALED
	spec.Ballot.RevotingAllowed = true
	spec.Sealed = &tabellav1.SealedSpec{TrusteePartyIds: slices.Clone(trusteeParties), DealsCloseAt: now + 40, ComplaintsCloseAt: now + 60}
	w.mustOK(w.createTx(spec))
	var deals [][]byte
	for _, p := range trusteeParties {
		deals = append(deals, c.dealTx(w, "spb", p))
	}
	w.mustOK(deals...)
	w.mustOK(w.submitTx("alice", "spb", "library", 150_000), w.submitTx("bob", "spb", "garden", 90_000), w.submitTx("carol", "spb", "lights", 60_000))
	w.until(spec.Schedule.ProposalsClosesAt)
	// library and lights approved by both sides (in that order); garden
	// gets one side only.
	w.mustOK(w.reviewTx("gov-a", "spb", "lights", true), w.reviewTx("civ-a", "spb", "lights", true),
		w.reviewTx("gov-a", "spb", "library", true), w.reviewTx("civ-b", "spb", "library", true), w.reviewTx("gov-b", "spb", "garden", true))
	w.until(spec.Schedule.VotingOpensAt)
	st := w.sealedRecord("spb").State
	if st.Options != 2 || !slices.Equal(st.Costs, []uint64{60_000, 150_000}) || st.MaxSelections != 2 || st.Budget != 250_000 {
		t.Fatalf("rules at voting: %v", st)
	}
	// lights (0) and library (1).
	w.mustOK(w.sealedBallot(rnd, "alice", "spb", 1, 0, 1), w.sealedBallot(rnd, "bob", "spb", 1, 1), w.sealedBallot(rnd, "dave", "spb", 1, 1))
	w.until(spec.Schedule.VotingClosesAt)
	w.mustOK(c.shareTx(w, "spb", "gov-b"), c.shareTx(w, "spb", "civ-a"), c.shareTx(w, "spb", "civ-b"))
	in := w.initiative("spb")
	if in.Status != tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSED || !slices.Equal(in.Result.Counts, []uint64{1, 3}) ||
		!slices.Equal(in.Result.Winners, []uint32{0, 1}) || in.Result.FundedTotal != 210_000 {
		t.Fatalf("%s %v", in.Status, in.Result)
	}
}

// TestSealedOptionCap: every submission of a sealed initiative without
// review goes on the ballot, up to MaxSealedOptions.
func TestSealedOptionCap(t *testing.T) {
	w := newSealedWorld(t)
	w.registerTrustees(newDetRand("cap"))
	spec := w.budgetSpec("cap")
	now := w.now.Unix()
	spec.Proposals = &tabellav1.Proposals{Review: tabellav1.ReviewMode_REVIEW_MODE_NONE}
	spec.Schedule = &tabellav1.Schedule{ProposalsOpensAt: now, ProposalsClosesAt: now + 300, VotingOpensAt: now + 400, VotingClosesAt: now + 500}
	spec.Secrecy = tabellav1.Secrecy_SECRECY_SEALED
	spec.Sealed = &tabellav1.SealedSpec{TrusteePartyIds: slices.Clone(trusteeParties), DealsCloseAt: now + 310, ComplaintsCloseAt: now + 320}
	w.mustOK(w.createTx(spec))
	var txs [][]byte
	for i := range ledger.MaxSealedOptions {
		txs = append(txs, w.submitTx(fmt.Sprintf("p%d", i), "cap", fmt.Sprintf("project-%d", i), 1000))
	}
	w.mustOK(txs...)
	w.expect(one(ledger.CodeLimitReached), w.submitTx("late", "cap", "one-too-many", 1000))
}
