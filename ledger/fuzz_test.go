package ledger_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// Fuzz targets. Run one with e.g.
//
//	go test ./ledger -run '^$' -fuzz '^FuzzDeliverTx$' -fuzztime 30s
//
// Seeds come from f.Add (built from the deterministic test world) and from
// testdata/fuzz/<target>/. Keys, block times and signatures are
// deterministic, so the signed txs in testdata are valid against
// fuzzWorld's state.

// fuzzWorld is a world holding the open consultation "parks" with alice's
// sequence-1 ballot, the open anonymous consultation "anon" (registry's
// blind key "a"), the open governance proposal "add-school", the budget
// "pb" taking proposals, the budget "pb-review" in review with the pending
// proposal "pending", the election "council" taking candidacies and the
// petition "bath" (withdrawal allowed) with alice's signature.
func fuzzWorld(tb testing.TB) *world {
	tb.Helper()
	w := newWorld(tb)
	now := w.now.Unix()
	pb := w.budgetSpec("pb")
	pb.Schedule = &tabellav1.Schedule{ProposalsOpensAt: now, ProposalsClosesAt: now + 86400, VotingOpensAt: now + 2*86400, VotingClosesAt: now + 3*86400}
	review := w.budgetSpec("pb-review")
	review.Schedule = &tabellav1.Schedule{ProposalsOpensAt: now, ProposalsClosesAt: now + 17, VotingOpensAt: now + 86400, VotingClosesAt: now + 2*86400}
	council := w.electionSpec("council")
	council.Schedule = &tabellav1.Schedule{ProposalsOpensAt: now, ProposalsClosesAt: now + 86400, VotingOpensAt: now + 2*86400, VotingClosesAt: now + 3*86400}
	bath := w.petitionSpec("bath", 100)
	bath.Schedule.VotingClosesAt = now + 86400
	w.mustOK(w.createTx(w.consultation("parks")), fuzzMust(tb)(client.GovProposeTx(testChain, key("gov-a-admin"), "gov-a", "add-school", w.now.Add(24*time.Hour).Unix(), registerIssuer("school"))),
		w.createTx(pb), w.createTx(review), w.createTx(council), w.createTx(bath), w.createTx(w.anonSpec("anon", blindKey(tb, "a"))))
	w.mustOK(w.ballot("alice", "parks", 1, 0), w.submitTx("carol", "pb-review", "pending", 1000), w.signTx("alice", "bath", 1))
	w.block() // pb-review: review
	return w
}

func fuzzMust(tb testing.TB) func([]byte, error) []byte {
	return func(b []byte, err error) []byte {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
}

type namedSeed struct {
	name string
	data []byte
}

// fuzzTxSeeds are txs against fuzzWorld: valid ones of every message type
// and malformed ones.
func fuzzTxSeeds(w *world) []namedSeed {
	must := fuzzMust(w.t)
	deadline := w.now.Add(time.Hour).Unix()
	ballot := w.ballot("bob", "parks", 1, 0, 2)
	var forged tabellav1.Tx
	if err := proto.Unmarshal(ballot, &forged); err != nil {
		w.t.Fatal(err)
	}
	forged.Signatures[0].Signature[7] ^= 0x10
	later := w.consultation("later")
	later.Schedule.VotingOpensAt = w.now.Add(time.Minute).Unix()
	later.Summary = "Opens in a minute."
	later.DocumentUri = "https://example.org/later.pdf"
	sum := sha256.Sum256([]byte("later"))
	later.DocumentSha256 = sum[:]
	ka, kb := blindKey(w.t, "a"), blindKey(w.t, "b")
	unattested := w.anonSpec("anon-unattested", ka)
	unattested.BlindKeys[0] = attest(w.t, "anon-unattested", "registry", "city", ka)
	return []namedSeed{
		{"anon-ballot-valid", w.anonBallot("bob", "anon", token(w.t, "anon", "bob", derOf(w.t, ka), ka), 1, 1)},
		{"anon-ballot-other-key", w.anonBallot("dave", "anon", token(w.t, "anon", "dave", derOf(w.t, kb), kb), 1, 1)},
		{"anon-ballot-with-credential", w.ballot("dave", "anon", 1, 0)},
		{"create-anonymous-valid", w.createTx(w.anonSpec("anon-2", ka))},
		{"create-anonymous-unattested", w.createTx(unattested)},
		{"ballot-valid", ballot},
		{"ballot-revote-valid", w.ballot("alice", "parks", 2, 1, 2)},
		{"ballot-replay", w.ballot("alice", "parks", 1, 0)},
		{"ballot-ineligible", must(client.BallotTx(testChain, key("carol"), "parks", w.cred("carol", intAttr("age", 9), textAttr("municipality", "Aarhus")), []uint32{1}, 1))},
		{"create-initiative-valid", w.createTx(w.consultation("fresh"))},
		{"create-initiative-scheduled-valid", w.createTx(later)},
		{"gov-vote-valid", must(client.GovVoteTx(testChain, key("civ-a-admin"), "civ-a", "add-school", true))},
		{"gov-vote-no-valid", must(client.GovVoteTx(testChain, key("gov-b-admin"), "gov-b", "add-school", false))},
		{"gov-propose-issuer-valid", must(client.GovProposeTx(testChain, key("civ-b-admin"), "civ-b", "add-union", deadline, registerIssuer("union")))},
		{"gov-propose-revoke-valid", must(client.GovProposeTx(testChain, key("gov-b-admin"), "gov-b", "drop-city", deadline, &tabellav1.GovAction{Action: &tabellav1.GovAction_RevokeOrganiser{RevokeOrganiser: &tabellav1.RevokeOrganiser{Id: "city"}}}))},
		{"gov-propose-organiser-valid", must(client.GovProposeTx(testChain, key("gov-a-admin"), "gov-a", "add-school-board", deadline, &tabellav1.GovAction{Action: &tabellav1.GovAction_RegisterOrganiser{RegisterOrganiser: &tabellav1.RegisterOrganiser{Id: "school-board", Name: "School Board", PublicKey: pub("school-board")}}}))},
		{"submit-proposal-valid", w.submitTx("bob", "pb", "playground", 60_000)},
		{"submit-proposal-with-document-valid", must(client.SubmitProposalTx(testChain, key("dave"), "pb", w.cred("dave", resident("dave")...), client.Proposal{ID: "library", Title: "Library corner", Summary: "Books and chairs.", Cost: 120_000, DocumentURI: "https://example.org/library.pdf", DocumentSHA256: sum[:]}))},
		{"submit-proposal-over-budget", w.submitTx("bob", "pb", "stadium", 300_000)},
		{"review-approve-valid", w.reviewTx("gov-a", "pb-review", "pending", true)},
		{"review-reject-valid", must(client.ReviewProposalTx(testChain, key("civ-b-admin"), "pb-review", "pending", "civ-b", false, "Not in the neighbourhood."))},
		{"review-by-stranger", must(client.ReviewProposalTx(testChain, key("mallory"), "pb-review", "pending", "gov-a", true, ""))},
		{"register-candidate-valid", w.candidateTx("anna", "council", "anna", 71)},
		{"register-candidate-ineligible", w.candidateTx("finn", "council", "finn", 55)},
		{"sign-petition-valid", w.signTx("bob", "bath", 1)},
		{"sign-petition-twice", w.signTx("alice", "bath", 2)},
		{"withdraw-signature-valid", w.withdrawTx("alice", "bath", 2)},
		{"cancel-initiative-valid", must(client.CancelInitiativeTx(testChain, key("city"), "pb", "The council withdrew the funds."))},
		{"cancel-by-stranger", must(client.CancelInitiativeTx(testChain, key("mallory"), "pb", "Mine."))},
		{"create-budget-valid", w.createTx(w.budgetSpec("pb-2"))},
		{"create-election-valid", w.createTx(w.electionSpec("council-2"))},
		{"create-petition-valid", w.createTx(w.petitionSpec("bath-2", 5000))},
		{"ballot-wrong-chain", must(client.BallotTx("other-chain", key("bob"), "parks", w.cred("bob", resident("bob")...), []uint32{0}, 1))},
		{"ballot-forged-signature", must(proto.Marshal(&forged))},
		{"ballot-truncated", ballot[:len(ballot)/2]},
		{"empty", []byte{}},
		{"garbage", []byte("\xff\x01\x02 not a tx")},
		{"unknown-field", append(slices.Clone(ballot), 0x78, 0x01)},
	}
}

// fuzzSpecSeeds are serialized InitiativeSpecs, valid and not.
func fuzzSpecSeeds(w *world) []namedSeed {
	must := fuzzMust(w.t)
	plain := w.consultation("spec-plain")
	plain.Eligibility.Predicates = nil
	wide := w.consultation("spec-wide")
	wide.Options = nil
	for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
		wide.Options = append(wide.Options, &tabellav1.Option{Id: id, Title: "Option " + id, Description: "About " + id})
	}
	wide.Ballot = &tabellav1.BallotRules{MinSelections: 2, MaxSelections: 6}
	wide.Eligibility.Predicates = append(wide.Eligibility.Predicates,
		&tabellav1.Predicate{Attribute: "profession", Op: tabellav1.Operator_OPERATOR_IN, Values: []*tabellav1.AttributeValue{textVal("nurse"), textVal("doctor")}},
		&tabellav1.Predicate{Attribute: "age", Op: tabellav1.Operator_OPERATOR_LT, Values: []*tabellav1.AttributeValue{intVal(70)}})
	bad := w.consultation("spec-bad")
	bad.Ballot.MinSelections = 3
	listed := w.budgetSpec("spec-listed-budget")
	listed.Proposals = nil
	listed.Schedule = &tabellav1.Schedule{VotingOpensAt: w.now.Unix(), VotingClosesAt: w.now.Unix() + 3600}
	listed.Budget.BallotRule = tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_MIN_SHARE
	listed.Budget.MinShareBp = 5000
	for i, c := range []uint64{100_000, 80_000, 40_000} {
		listed.Options = append(listed.Options, &tabellav1.Option{Id: fmt.Sprintf("p%d", i), Title: "Project", Cost: c})
	}
	hidden := w.consultation("spec-hidden")
	hidden.ResultRule = &tabellav1.ResultRule{QuorumShareBp: 2500, Electorate: 1000, HideRunningTally: true}
	sealed := w.consultation("spec-sealed")
	sealed.Eligibility.Predicates = nil
	sealed.Secrecy = tabellav1.Secrecy_SECRECY_SEALED
	anonRules := w.anonSpec("spec-anon-rules", blindKey(w.t, "a"))
	anonRules.Eligibility = w.consultation("x").Eligibility
	return []namedSeed{
		{"anonymous-valid", must(proto.Marshal(w.anonSpec("spec-anon", blindKey(w.t, "a"))))},
		{"anonymous-with-rules", must(proto.Marshal(anonRules))},
		{"sealed-unsupported", must(proto.Marshal(sealed))},
		{"budget-valid", must(proto.Marshal(w.budgetSpec("spec-budget")))},
		{"listed-budget-min-share-valid", must(proto.Marshal(listed))},
		{"election-valid", must(proto.Marshal(w.electionSpec("spec-election")))},
		{"petition-valid", must(proto.Marshal(w.petitionSpec("spec-petition", 1000)))},
		{"hidden-quorum-share-valid", must(proto.Marshal(hidden))},
		{"consultation-valid", must(proto.Marshal(w.consultation("spec-valid")))},
		{"no-predicates-valid", must(proto.Marshal(plain))},
		{"six-options-valid", must(proto.Marshal(wide))},
		{"min-above-max", must(proto.Marshal(bad))},
		{"empty", []byte{}},
	}
}

// fuzzCredentialSeeds are (credential body, signature) pairs.
func fuzzCredentialSeeds(w *world) [][2][]byte {
	a := w.cred("alice", resident("alice")...)
	b := w.cred("bob", intAttr("age", 61), textAttr("municipality", "Odense"), textAttr("profession", "nurse"))
	c := w.credFrom("school", "carol", w.now.Add(time.Hour).Unix())
	return [][2][]byte{
		{a.Body, a.Signature},
		{b.Body, b.Signature},
		{c.Body, c.Signature},
		{a.Body, a.Signature[:10]},
		{[]byte("\x0a\x02x/"), make([]byte, 64)},
	}
}

func fuzzPredicateSeeds() []*tabellav1.Predicate {
	return []*tabellav1.Predicate{
		{Attribute: "age", Op: tabellav1.Operator_OPERATOR_GE, Values: []*tabellav1.AttributeValue{intVal(60)}},
		{Attribute: "municipality", Op: tabellav1.Operator_OPERATOR_EQ, Values: []*tabellav1.AttributeValue{textVal("Aarhus")}},
		{Attribute: "profession", Op: tabellav1.Operator_OPERATOR_IN, Values: []*tabellav1.AttributeValue{textVal("nurse"), textVal("doctor"), intVal(3)}},
		{Attribute: "municipality", Op: tabellav1.Operator_OPERATOR_NE, Values: []*tabellav1.AttributeValue{textVal("Odense")}},
		{Attribute: "age", Op: tabellav1.Operator_OPERATOR_LT, Values: []*tabellav1.AttributeValue{textVal("70")}}, // invalid
		{Attribute: "age", Op: tabellav1.Operator_OPERATOR_EQ},                                                     // invalid
	}
}

func marshalOrFail(tb testing.TB, m proto.Message) []byte {
	tb.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// checkRejection checks a rejection's shape: a defined non-zero code other
// than INTERNAL and a message.
func checkRejection(t *testing.T, where string, code ledger.Code, msg string) {
	t.Helper()
	if code == ledger.CodeOK {
		return
	}
	if !slices.Contains(ledger.AllCodes(), code) {
		t.Fatalf("%s: code %d is not a defined code (%q)", where, code, msg)
	}
	if code == ledger.CodeInternal {
		t.Fatalf("%s: INTERNAL for a tx: %s", where, msg)
	}
	if msg == "" {
		t.Fatalf("%s: rejected with %s and no message", where, code)
	}
}

func FuzzDecodeTx(f *testing.F) {
	w := fuzzWorld(f)
	for _, s := range fuzzTxSeeds(w) {
		f.Add(s.data)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := ledger.DecodeTx(testChain, raw)
		if err != nil {
			if d != nil {
				t.Fatal("DecodeTx returned a tx and an error")
			}
			var le *ledger.Error
			if !errors.As(err, &le) {
				t.Fatalf("DecodeTx error is not a coded *ledger.Error: %v", err)
			}
			checkRejection(t, "DecodeTx", le.Code, le.Msg)
		} else {
			checkDecoded(t, raw, d)
		}

		// CheckTx on a ledger freshly opened on the world's database, so
		// the result depends on the input alone and not on what earlier
		// inputs left in the mempool overlay.
		l, err := ledger.Open(w.db, ledger.Options{CacheSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		r := l.CheckTx(raw)
		checkRejection(t, "CheckTx", r.Code, r.Log)
		if !bytes.Equal(r.Hash, ledger.TxHash(raw)) {
			t.Fatal("CheckTx hash is not the tx hash")
		}
		if err != nil && r.Code != ledger.CodeOf(err) {
			t.Fatalf("DecodeTx says %s, CheckTx says %s", ledger.CodeOf(err), r.Code)
		}
		if r.Code == ledger.CodeOK && d == nil {
			t.Fatal("CheckTx accepted a tx DecodeTx rejects")
		}
	})
}

// checkDecoded checks what a successfully decoded tx guarantees, and that
// its canonical re-encoding decodes to the same tx.
func checkDecoded(t *testing.T, raw []byte, d *ledger.DecodedTx) {
	t.Helper()
	if len(raw) > ledger.MaxTxBytes || !bytes.Equal(d.Raw, raw) || !bytes.Equal(d.Hash, ledger.TxHash(raw)) {
		t.Fatal("decoded tx does not carry its raw bytes and hash")
	}
	if len(d.Tx.Signatures) != 1 || len(d.Signer) != ed25519.PublicKeySize {
		t.Fatalf("decoded tx has %d signatures and a %d-byte signer", len(d.Tx.Signatures), len(d.Signer))
	}
	sig := d.Tx.Signatures[0]
	if !bytes.Equal(sig.PublicKey, d.Signer) || !ed25519.Verify(d.Signer, ledger.TxSignBytes(testChain, d.Tx.Body), sig.Signature) {
		t.Fatal("accepted tx does not verify")
	}
	if d.Body.ChainId != testChain || d.Body.Msg == nil {
		t.Fatalf("accepted body has chain %q and message %T", d.Body.ChainId, d.Body.Msg)
	}
	switch d.Body.Msg.(type) {
	case *tabellav1.TxBody_CastBallot, *tabellav1.TxBody_SubmitProposal, *tabellav1.TxBody_RegisterCandidate:
		if cb := d.Body.GetCastBallot(); cb != nil && cb.Token != nil {
			// An anonymous ballot carries a token, which needs state.
			if d.Credential != nil || cb.Credential != nil {
				t.Fatal("an anonymous ballot decoded with a credential")
			}
			break
		}
		if d.Credential == nil {
			t.Fatal("a ballot, proposal or candidacy must carry its decoded credential")
		}
	default:
		if d.Credential != nil {
			t.Fatal("only ballots, proposals and candidacies carry a credential")
		}
	}
	// Only the canonical encoding of an envelope is accepted: otherwise
	// anyone relaying a tx could re-encode it into other bytes with another
	// hash (the voter's ballot hash) that still verify.
	canon, err := proto.MarshalOptions{Deterministic: true}.Marshal(d.Tx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(canon, raw) {
		t.Fatalf("accepted a non-canonical envelope:\n got  %x\n canonical %x", raw, canon)
	}
	d2, err := ledger.DecodeTx(testChain, canon)
	if err != nil {
		t.Fatalf("re-encoded accepted tx is rejected: %v", err)
	}
	if !bytes.Equal(d2.Tx.Body, d.Tx.Body) || !bytes.Equal(d2.Signer, d.Signer) || !proto.Equal(d2.Body, d.Body) {
		t.Fatal("re-encoded tx decodes differently")
	}
	for _, name := range slices.Sorted(maps.Keys(envelopeVariants(d.Tx))) {
		v := envelopeVariants(d.Tx)[name]
		if _, err := ledger.DecodeTx(testChain, v); err == nil && !knownMalleable[name] {
			t.Errorf("accepted the same signed tx re-encoded with %s: %x (hash %x, the signer's is %x)", name, v, ledger.TxHash(v), ledger.TxHash(raw))
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// knownMalleable names envelope re-encodings DecodeTx may still accept.
// None: an unknown field inside the Signature message, the last one, is
// refused since DecodeTx checks unknown fields at every depth. An entry
// here is reported by TestEnvelopeReencodings instead of failing.
var knownMalleable = map[string]bool{}

// TestEnvelopeReencodings checks every valid seed tx against each
// non-canonical re-encoding of its envelope, and reports the known
// malleable ones that DecodeTx still accepts.
func TestEnvelopeReencodings(t *testing.T) {
	w := fuzzWorld(t)
	for _, s := range fuzzTxSeeds(w) {
		d, err := ledger.DecodeTx(testChain, s.data)
		if err != nil {
			continue
		}
		checkDecoded(t, s.data, d)
		for _, name := range slices.Sorted(maps.Keys(knownMalleable)) {
			v := envelopeVariants(d.Tx)[name]
			if d2, err := ledger.DecodeTx(testChain, v); err == nil {
				t.Logf("KNOWN BUG: %s re-encoded with %s is accepted with hash %x, the signer's is %x:\n%x", s.name, name, d2.Hash, d.Hash, v)
			}
		}
	}
}

// envelopeVariants re-encodes a signed tx without touching the signed body
// or the signature: each variant decodes to the same tx under plain
// protobuf rules, but has other bytes and so another tx hash.
func envelopeVariants(tx *tabellav1.Tx) map[string][]byte {
	sig := tx.Signatures[0]
	sigMsg := func(extra ...byte) []byte {
		var b []byte
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, sig.PublicKey)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, sig.Signature)
		return append(b, extra...)
	}
	field := func(b []byte, num protowire.Number, v []byte) []byte {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		return protowire.AppendBytes(b, v)
	}
	canonical := field(field(nil, 1, tx.Body), 2, sigMsg())
	out := map[string][]byte{}
	out["signatures before body"] = field(field(nil, 2, sigMsg()), 1, tx.Body)
	out["an unknown field inside the signature"] = field(field(nil, 1, tx.Body), 2, sigMsg(0x48, 0x01))
	out["a discarded first copy of the body"] = append(field(nil, 1, []byte("x")), canonical...)
	// The body's length as a two-byte varint where one byte would do
	// (or three where two would).
	n := uint64(len(tx.Body))
	long := protowire.AppendTag(nil, 1, protowire.BytesType)
	for ; n >= 0x80; n >>= 7 {
		long = append(long, byte(n)|0x80)
	}
	long = append(long, byte(n)|0x80, 0x00)
	long = append(long, tx.Body...)
	out["an overlong length prefix"] = field(long, 2, sigMsg())
	return out
}

func FuzzDeliverTx(f *testing.F) {
	w := fuzzWorld(f)
	for _, s := range fuzzTxSeeds(w) {
		f.Add(s.data)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkDeliver(t, w, raw)
	})
}

// fuzzSigners are the keys FuzzDeliverSignedBody signs with: voters, the
// organiser, every party admin and a stranger.
var fuzzSigners = []string{"alice", "bob", "city", "gov-a-admin", "gov-b-admin", "civ-a-admin", "civ-b-admin", "mallory", "dave", "anna", "finn"}

// FuzzDeliverSignedBody fuzzes the signed body rather than the envelope:
// the harness signs whatever body the fuzzer makes (and re-signs a
// ballot's credential with the registry key), so inputs get past the
// signature checks into the state machine.
func FuzzDeliverSignedBody(f *testing.F) {
	w := fuzzWorld(f)
	for _, s := range fuzzTxSeeds(w) {
		var tx tabellav1.Tx
		if proto.Unmarshal(s.data, &tx) != nil || len(tx.Signatures) != 1 {
			continue
		}
		i := slices.IndexFunc(fuzzSigners, func(n string) bool { return bytes.Equal(pub(n), tx.Signatures[0].PublicKey) })
		if i >= 0 {
			f.Add(uint8(i), tx.Body)
		}
	}
	f.Fuzz(func(t *testing.T, signer uint8, body []byte) {
		var b tabellav1.TxBody
		if proto.Unmarshal(body, &b) != nil {
			return
		}
		if cb := b.GetCastBallot(); cb != nil && cb.Credential != nil {
			cb.Credential.Signature = ed25519.Sign(key("registry"), ledger.CredentialSignBytes(testChain, cb.Credential.Body))
		}
		raw, err := client.SignTx(testChain, key(fuzzSigners[int(signer)%len(fuzzSigners)]), &b)
		if err != nil || len(raw) > ledger.MaxTxBytes {
			return
		}
		checkDeliver(t, w, raw)
	})
}

// checkDeliver executes raw in the block after w's last commit, and checks
// that FinalizeBlock never fails for a tx, that a rejection changes nothing,
// and that no tx can be applied twice. FinalizeBlock rolls back the
// uncommitted previous attempt, so every call runs against the same
// committed state.
func checkDeliver(t *testing.T, w *world, raw []byte) {
	t.Helper()
	height, at := w.height+1, w.now.Add(5*time.Second)
	finalize := func(txs ...[]byte) *ledger.BlockResult {
		t.Helper()
		res, err := w.l.FinalizeBlock(ledger.Block{Height: height, Time: at, Txs: txs})
		if err != nil {
			t.Fatalf("FinalizeBlock returned an error for a tx: %v", err)
		}
		if len(res.TxResults) != len(txs) {
			t.Fatalf("%d results for %d txs", len(res.TxResults), len(txs))
		}
		return res
	}
	empty := finalize().AppHash
	res := finalize(raw)
	r := res.TxResults[0]
	checkRejection(t, "FinalizeBlock", r.Code, r.Log)
	if !bytes.Equal(r.Hash, ledger.TxHash(raw)) {
		t.Fatal("result hash is not the tx hash")
	}
	if r.Code != ledger.CodeOK {
		if !bytes.Equal(res.AppHash, empty) {
			t.Fatalf("rejected tx (%s: %s) changed the app hash", r.Code, r.Log)
		}
	} else {
		if bytes.Equal(res.AppHash, empty) {
			t.Fatal("accepted tx left the app hash unchanged")
		}
		d, err := ledger.DecodeTx(testChain, raw)
		if err != nil {
			t.Fatalf("FinalizeBlock accepted a tx DecodeTx rejects: %v", err)
		}
		checkDecoded(t, raw, d)
	}

	// The same tx twice: the first outcome repeats, and no tx can be
	// applied a second time.
	twice := finalize(raw, raw)
	if a, b := twice.TxResults[0], r; a.Code != b.Code || a.Log != b.Log {
		t.Fatalf("same tx, same state, different outcome: %s %q then %s %q", b.Code, b.Log, a.Code, a.Log)
	}
	second := twice.TxResults[1]
	checkRejection(t, "FinalizeBlock (repeat)", second.Code, second.Log)
	if r.Code == ledger.CodeOK && second.Code == ledger.CodeOK {
		t.Fatal("an accepted tx was accepted again in the same block")
	}
	if !bytes.Equal(twice.AppHash, res.AppHash) {
		t.Fatal("repeating a tx changed the app hash")
	}
}

func FuzzValidateInitiativeSpec(f *testing.F) {
	w := fuzzWorld(f)
	for _, s := range fuzzSpecSeeds(w) {
		f.Add(s.data)
	}
	height, at := w.height+1, w.now.Add(5*time.Second)
	f.Fuzz(func(t *testing.T, data []byte) {
		var spec tabellav1.InitiativeSpec
		if err := proto.Unmarshal(data, &spec); err != nil {
			return
		}
		err := ledger.ValidateInitiativeSpec(&spec)
		if err != nil {
			var le *ledger.Error
			if !errors.As(err, &le) || (le.Code != ledger.CodeInvalidField && le.Code != ledger.CodeNotSupported) || le.Msg == "" {
				t.Fatalf("invalid spec rejected with %v, want INVALID_FIELD (or NOT_SUPPORTED) and a message", err)
			}
			return
		}
		checkValidSpec(t, &spec)

		// A valid spec must survive being executed: an organiser's tx
		// carrying it is applied or rejected, never a node fault.
		tx, err := client.CreateInitiativeTx(testChain, key("city"), "city", &spec)
		if err != nil {
			t.Fatal(err)
		}
		if len(tx) > ledger.MaxTxBytes {
			return
		}
		res, err := w.l.FinalizeBlock(ledger.Block{Height: height, Time: at, Txs: [][]byte{tx}})
		if err != nil {
			t.Fatalf("FinalizeBlock: %v", err)
		}
		r := res.TxResults[0]
		checkRejection(t, "create initiative", r.Code, r.Log)
		// The field checks that need state: voting and the proposal
		// window must close after the block time, and dual review cannot
		// ask for more approvals than the consortium (two parties of
		// each kind) can give.
		p := spec.Proposals
		stateful := spec.Schedule.VotingClosesAt <= at.Unix() ||
			p != nil && spec.Schedule.ProposalsClosesAt <= at.Unix() ||
			p.GetReview() == tabellav1.ReviewMode_REVIEW_MODE_DUAL && (p.GovernmentApprovals > 2 || p.CivilSocietyApprovals > 2)
		if (r.Code == ledger.CodeInvalidField) != stateful {
			t.Fatalf("spec closing at %d (proposals %d), block time %d: %s %s", spec.Schedule.VotingClosesAt, spec.Schedule.ProposalsClosesAt, at.Unix(), r.Code, r.Log)
		}
	})
}

func checkValidSpec(t *testing.T, s *tabellav1.InitiativeSpec) {
	t.Helper()
	if !ledger.ValidID(s.Id) || s.Title == "" || len(s.Title) > ledger.MaxTitleLen {
		t.Fatalf("valid spec has id %q, title of %d bytes", s.Id, len(s.Title))
	}
	n := len(s.Options)
	switch s.Kind {
	case tabellav1.InitiativeKind_INITIATIVE_KIND_CONSULTATION:
		if n < 2 || n > ledger.MaxOptions {
			t.Fatalf("valid consultation has %d options", n)
		}
	case kPetition:
		if n != 0 || s.Ballot.GetMaxSelections() != 0 || s.Ballot.GetRevotingAllowed() || s.ResultRule.GetSignatureThreshold() == 0 {
			t.Fatalf("valid petition has %d options, ballot %v, rule %v", n, s.Ballot, s.ResultRule)
		}
	case kBudget, kElection:
		if n > ledger.MaxOptions || (n == 0) == (s.Proposals == nil) {
			t.Fatalf("valid %s has %d options and proposals %v", s.Kind, n, s.Proposals)
		}
	default:
		t.Fatalf("valid spec of kind %s", s.Kind)
	}
	if (s.Kind == kBudget) != (s.Budget != nil) {
		t.Fatalf("valid %s spec with budget %v", s.Kind, s.Budget)
	}
	for _, o := range s.Options {
		if (o.Cost > 0) != (s.Kind == kBudget) || s.Kind == kBudget && o.Cost > s.Budget.Total {
			t.Fatalf("valid %s spec with an option costing %d", s.Kind, o.Cost)
		}
	}
	ids := map[string]bool{}
	for _, o := range s.Options {
		if !ledger.ValidID(o.Id) || ids[o.Id] {
			t.Fatalf("valid spec has bad or repeated option id %q", o.Id)
		}
		ids[o.Id] = true
	}
	b := s.Ballot
	switch s.Kind {
	case tabellav1.InitiativeKind_INITIATIVE_KIND_CONSULTATION:
		if b == nil || b.MinSelections < 1 || b.MinSelections > b.MaxSelections || int(b.MaxSelections) > n {
			t.Fatalf("valid spec has ballot rules %v for %d options", b, n)
		}
	case kElection:
		if b == nil || b.MinSelections < 1 || b.MinSelections > b.MaxSelections || b.MaxSelections > s.ResultRule.GetSeats() {
			t.Fatalf("valid election has ballot rules %v for %d seats", b, s.ResultRule.GetSeats())
		}
	case kBudget:
		if b == nil || b.MinSelections < 1 || b.MaxSelections != 0 && b.MinSelections > b.MaxSelections {
			t.Fatalf("valid budget has ballot rules %v", b)
		}
	}
	sc := s.Schedule
	if sc == nil || sc.VotingOpensAt <= 0 || sc.VotingClosesAt <= sc.VotingOpensAt {
		t.Fatalf("valid spec has schedule %v", sc)
	}
	if s.Proposals != nil && (sc.ProposalsOpensAt <= 0 || sc.ProposalsClosesAt <= sc.ProposalsOpensAt || sc.ProposalsClosesAt > sc.VotingOpensAt) {
		t.Fatalf("valid spec has proposals and schedule %v", sc)
	}
	e := s.Eligibility
	if e == nil || len(e.IssuerIds) == 0 || len(e.IssuerIds) > ledger.MaxAcceptedIssuers || len(e.Predicates) > ledger.MaxPredicates {
		t.Fatalf("valid spec has eligibility %v", e)
	}
	for _, p := range e.Predicates {
		if err := ledger.ValidatePredicate(p); err != nil {
			t.Fatalf("valid spec holds an invalid predicate: %v", err)
		}
	}
}

func FuzzDecodeCredential(f *testing.F) {
	w := fuzzWorld(f)
	for _, s := range fuzzCredentialSeeds(w) {
		f.Add(s[0], s[1])
	}
	preds := fuzzPredicateSeeds()[:4]
	f.Fuzz(func(t *testing.T, body, sig []byte) {
		sc := &tabellav1.SignedCredential{Body: body, Signature: sig}
		c, err := ledger.DecodeCredential(sc)
		// Must not panic whatever the input.
		verified := ledger.VerifyCredentialSignature(testChain, pub("registry"), sc)
		if err != nil {
			var le *ledger.Error
			if !errors.As(err, &le) || le.Code != ledger.CodeBadCredential || le.Msg == "" {
				t.Fatalf("bad credential rejected with %v, want BAD_CREDENTIAL and a message", err)
			}
			return
		}
		checkValidCredential(t, c)
		if len(sig) != ed25519.SignatureSize {
			t.Fatalf("accepted a %d-byte credential signature", len(sig))
		}
		if verified && !bytes.Equal(sig, ed25519.Sign(key("registry"), ledger.CredentialSignBytes(testChain, body))) {
			t.Fatal("a credential signature verified that the registry did not make")
		}
		// Eligibility over any valid credential never panics and agrees
		// with the reference implementation.
		ok, why := ledger.Eligible(c.Attributes, preds)
		if ok != refEligible(c.Attributes, preds) || ok != (why == "") {
			t.Fatalf("Eligible = %v %q, reference says %v", ok, why, !ok)
		}
		// The canonical re-encoding decodes to the same credential.
		canon, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ledger.DecodeCredential(&tabellav1.SignedCredential{Body: canon, Signature: sig})
		if err != nil || !proto.Equal(c, c2) {
			t.Fatalf("re-encoded credential decodes differently: %v", err)
		}
	})
}

func checkValidCredential(t *testing.T, c *tabellav1.Credential) {
	t.Helper()
	if !ledger.ValidID(c.IssuerId) || len(c.VoterPublicKey) != ed25519.PublicKeySize || c.ExpiresAt <= c.IssuedAt {
		t.Fatalf("valid credential has issuer %q, %d-byte key, issued %d expires %d", c.IssuerId, len(c.VoterPublicKey), c.IssuedAt, c.ExpiresAt)
	}
	if len(c.Attributes) > ledger.MaxAttributes {
		t.Fatalf("valid credential has %d attributes", len(c.Attributes))
	}
	for i, a := range c.Attributes {
		if a.Name == "" || len(a.Name) > ledger.MaxAttributeNameLen || i > 0 && a.Name <= c.Attributes[i-1].Name {
			t.Fatalf("valid credential has attribute %d named %q", i, a.Name)
		}
		switch v := a.GetValue().GetValue().(type) {
		case *tabellav1.AttributeValue_Text:
			if len(v.Text) > ledger.MaxAttributeTextLen {
				t.Fatalf("valid credential has a %d-byte text value", len(v.Text))
			}
		case *tabellav1.AttributeValue_Integer:
		default:
			t.Fatalf("valid credential attribute %q has value %T", a.Name, v)
		}
	}
}

func FuzzValidatePredicate(f *testing.F) {
	for _, p := range fuzzPredicateSeeds() {
		f.Add(marshalOrFail(f, p))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var p tabellav1.Predicate
		if err := proto.Unmarshal(data, &p); err != nil {
			return
		}
		err := ledger.ValidatePredicate(&p)
		_ = ledger.FormatPredicate(&p) // must not panic, valid or not
		if err != nil {
			var le *ledger.Error
			if !errors.As(err, &le) || le.Code != ledger.CodeInvalidField || le.Msg == "" {
				t.Fatalf("invalid predicate rejected with %v, want INVALID_FIELD and a message", err)
			}
			return
		}
		preds := []*tabellav1.Predicate{&p}
		// A credential holding exactly the predicate's first value
		// satisfies ==, in, <= and >= and fails !=, < and >.
		exact := []*tabellav1.Attribute{{Name: p.Attribute, Value: p.Values[0]}}
		ok, why := ledger.Eligible(exact, preds)
		want := true
		switch p.Op {
		case tabellav1.Operator_OPERATOR_NE, tabellav1.Operator_OPERATOR_LT, tabellav1.Operator_OPERATOR_GT:
			want = false
		}
		if ok != want || ok != (why == "") {
			t.Fatalf("%s on its own value: Eligible = %v %q, want %v", ledger.FormatPredicate(&p), ok, why, want)
		}
		// Without the attribute, no predicate holds.
		if ok, why := ledger.Eligible([]*tabellav1.Attribute{{Name: p.Attribute + "x", Value: p.Values[0]}}, preds); ok || why == "" {
			t.Fatalf("%s held without its attribute", ledger.FormatPredicate(&p))
		}
		for _, attrs := range [][]*tabellav1.Attribute{
			{intAttr(p.Attribute, 0)},
			{intAttr(p.Attribute, -1<<63)},
			{intAttr(p.Attribute, 1<<63-1)},
			{textAttr(p.Attribute, "")},
			{textAttr(p.Attribute, "Aarhus")},
		} {
			ok, why := ledger.Eligible(attrs, preds)
			if ok != refEligible(attrs, preds) || ok != (why == "") {
				t.Fatalf("%s on %v: Eligible = %v %q, reference disagrees", ledger.FormatPredicate(&p), attrs[0].Value, ok, why)
			}
		}
	})
}

func FuzzEligible(f *testing.F) {
	w := fuzzWorld(f)
	elig := func(preds ...*tabellav1.Predicate) []byte {
		return marshalOrFail(f, &tabellav1.Eligibility{IssuerIds: []string{"registry"}, Predicates: preds})
	}
	ps := fuzzPredicateSeeds()
	for i, c := range fuzzCredentialSeeds(w)[:3] {
		f.Add(c[0], elig(ps[0], ps[1]))
		f.Add(c[0], elig(ps[2+i%2]))
	}
	f.Add([]byte{}, elig())
	f.Fuzz(func(t *testing.T, credBody, eligBytes []byte) {
		c, err := ledger.DecodeCredential(&tabellav1.SignedCredential{Body: credBody, Signature: make([]byte, ed25519.SignatureSize)})
		if err != nil {
			return
		}
		var e tabellav1.Eligibility
		if err := proto.Unmarshal(eligBytes, &e); err != nil {
			return
		}
		// Eligible's contract: predicates were validated when the
		// initiative was created.
		for _, p := range e.Predicates {
			if ledger.ValidatePredicate(p) != nil {
				return
			}
		}
		ok, why := ledger.Eligible(c.Attributes, e.Predicates)
		if want := refEligible(c.Attributes, e.Predicates); ok != want {
			t.Fatalf("Eligible = %v (%q), reference says %v", ok, why, want)
		}
		if ok != (why == "") {
			t.Fatalf("Eligible = %v with reason %q", ok, why)
		}
		// All predicates hold iff each one holds.
		each := true
		for _, p := range e.Predicates {
			if ok, _ := ledger.Eligible(c.Attributes, []*tabellav1.Predicate{p}); !ok {
				each = false
			}
		}
		if each != ok {
			t.Fatalf("Eligible over all predicates = %v, one by one = %v", ok, each)
		}
	})
}

// refEligible is an independent statement of the eligibility rules: every
// predicate must hold for the attribute of its name; values of different
// types are never equal; order comparisons need an integer attribute.
func refEligible(attrs []*tabellav1.Attribute, preds []*tabellav1.Predicate) bool {
	for _, p := range preds {
		i := slices.IndexFunc(attrs, func(a *tabellav1.Attribute) bool { return a.Name == p.Attribute })
		if i < 0 || attrs[i].Value == nil {
			return false
		}
		have := attrs[i].Value
		var holds bool
		switch p.Op {
		case tabellav1.Operator_OPERATOR_EQ:
			holds = sameValue(have, p.Values[0])
		case tabellav1.Operator_OPERATOR_NE:
			holds = !sameValue(have, p.Values[0])
		case tabellav1.Operator_OPERATOR_IN:
			holds = slices.ContainsFunc(p.Values, func(v *tabellav1.AttributeValue) bool { return sameValue(have, v) })
		default:
			n, isInt := have.Value.(*tabellav1.AttributeValue_Integer)
			m := p.Values[0].GetInteger()
			switch {
			case !isInt:
			case p.Op == tabellav1.Operator_OPERATOR_LT:
				holds = n.Integer < m
			case p.Op == tabellav1.Operator_OPERATOR_LE:
				holds = n.Integer <= m
			case p.Op == tabellav1.Operator_OPERATOR_GT:
				holds = n.Integer > m
			case p.Op == tabellav1.Operator_OPERATOR_GE:
				holds = n.Integer >= m
			}
		}
		if !holds {
			return false
		}
	}
	return true
}

func sameValue(a, b *tabellav1.AttributeValue) bool {
	switch x := a.GetValue().(type) {
	case *tabellav1.AttributeValue_Text:
		y, ok := b.GetValue().(*tabellav1.AttributeValue_Text)
		return ok && x.Text == y.Text
	case *tabellav1.AttributeValue_Integer:
		y, ok := b.GetValue().(*tabellav1.AttributeValue_Integer)
		return ok && x.Integer == y.Integer
	}
	return false
}

// TestFuzzSeedsAreLive guards the f.Add seeds and the committed corpus in
// testdata/fuzz: the txs named "-valid" must still be accepted by
// fuzzWorld, or the fuzzers would start from rejections only. If the world
// or the tx format changes, regenerate the corpus from fuzzTxSeeds and
// fuzzSpecSeeds.
func TestFuzzSeedsAreLive(t *testing.T) {
	w := fuzzWorld(t)
	seeds := fuzzTxSeeds(w)
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDeliverTx", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("testdata/fuzz/FuzzDeliverTx holds %d files", len(files))
	}
	for _, f := range files {
		seeds = append(seeds, namedSeed{"testdata/" + filepath.Base(f), readCorpusBytes(t, f)})
	}
	for _, s := range seeds {
		res, err := w.l.FinalizeBlock(ledger.Block{Height: w.height + 1, Time: w.now.Add(5 * time.Second), Txs: [][]byte{s.data}})
		if err != nil {
			t.Fatal(err)
		}
		ok := res.TxResults[0].Code == ledger.CodeOK
		if valid := strings.HasSuffix(s.name, "-valid"); ok != valid {
			t.Errorf("seed %s: %s %s", s.name, res.TxResults[0].Code, res.TxResults[0].Log)
		}
	}
	for _, s := range fuzzSpecSeeds(w) {
		var spec tabellav1.InitiativeSpec
		if err := proto.Unmarshal(s.data, &spec); err != nil {
			t.Fatal(err)
		}
		valid := strings.HasSuffix(s.name, "-valid")
		if err := ledger.ValidateInitiativeSpec(&spec); (err == nil) != valid {
			t.Errorf("spec seed %s: %v", s.name, err)
		}
	}
}

// readCorpusBytes reads a one-argument []byte file in the "go test fuzz v1"
// format.
func readCorpusBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
		t.Fatalf("%s: not a one-argument []byte corpus file", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}

// TestWriteFuzzCorpus writes the seeds that testdata/fuzz lacks, in the
// "go test fuzz v1" format, when TABELLA_WRITE_FUZZ_CORPUS is set:
//
//	TABELLA_WRITE_FUZZ_CORPUS=1 go test ./ledger -run TestWriteFuzzCorpus
//
// Existing files are left alone.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("TABELLA_WRITE_FUZZ_CORPUS") == "" {
		t.Skip("set TABELLA_WRITE_FUZZ_CORPUS=1 to write missing corpus files")
	}
	w := fuzzWorld(t)
	write := func(target, name, content string) {
		dir := filepath.Join("testdata", "fuzz", target)
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err == nil {
			return
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("go test fuzz v1\n"+content), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
	for _, s := range fuzzTxSeeds(w) {
		data := fmt.Sprintf("[]byte(%q)\n", s.data)
		write("FuzzDeliverTx", s.name, data)
		write("FuzzDecodeTx", s.name, data)
		var tx tabellav1.Tx
		if proto.Unmarshal(s.data, &tx) != nil || len(tx.Signatures) != 1 {
			continue
		}
		if i := slices.IndexFunc(fuzzSigners, func(n string) bool { return bytes.Equal(pub(n), tx.Signatures[0].PublicKey) }); i >= 0 {
			write("FuzzDeliverSignedBody", s.name, fmt.Sprintf("uint8(%d)\n[]byte(%q)\n", i, tx.Body))
		}
	}
	for _, s := range fuzzSpecSeeds(w) {
		write("FuzzValidateInitiativeSpec", s.name, fmt.Sprintf("[]byte(%q)\n", s.data))
	}
	for i, s := range fuzzTokenSeeds(w.t) {
		write("FuzzVerifyToken", fmt.Sprintf("seed-%d", i), fmt.Sprintf("[]byte(%q)\n[]byte(%q)\n[]byte(%q)\n", s[0], s[1], s[2]))
	}
}

// fuzzTokenSeeds are (blind key, message, signature) triples: a valid
// token, a token under another key, a truncated key, a 4608-bit key.
func fuzzTokenSeeds(tb testing.TB) [][3][]byte {
	ka, kb := blindKey(tb, "a"), blindKey(tb, "b")
	der := derOf(tb, ka)
	tok := token(tb, "anon", "alice", der, ka)
	msg := ledger.TokenMessage(testChain, "anon", pub("alice"))
	return [][3][]byte{
		{der, msg, tok.Signature},
		{derOf(tb, kb), msg, tok.Signature},
		{der[:len(der)/2], msg, tok.Signature},
		{derOf(tb, blindKey(tb, "big")), msg, tok.Signature},
		{der, msg, tok.Signature[:100]},
	}
}

// FuzzVerifyToken: blind keys and tokens from anywhere never panic, a key
// ParseBlindKey accepts is within the bounds, and only the valid seed's
// exact token verifies for its exact message.
func FuzzVerifyToken(f *testing.F) {
	for _, s := range fuzzTokenSeeds(f) {
		f.Add(s[0], s[1], s[2])
	}
	seeds := fuzzTokenSeeds(f)
	f.Fuzz(func(t *testing.T, der, msg, sig []byte) {
		if pk, err := ledger.ParseBlindKey(der); err == nil {
			if n := pk.N.BitLen(); n < ledger.MinBlindKeyBits || n > ledger.MaxBlindKeyBits || pk.E != 65537 || len(der) > ledger.MaxBlindKeyDERBytes {
				t.Fatalf("accepted a %d-bit key with e=%d", n, pk.E)
			}
		}
		ok := ledger.VerifyToken(der, msg, sig)
		c := ledger.NewSigCache(4)
		if c.VerifyToken(der, msg, sig) != ok || c.VerifyToken(der, msg, sig) != ok {
			t.Fatal("the cache changes the verdict")
		}
		if ok && bytes.Equal(der, seeds[0][0]) && bytes.Equal(sig, seeds[0][2]) && !bytes.Equal(msg, seeds[0][1]) {
			t.Fatal("a token verified for another message")
		}
	})
}
