package ledger_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

func TestBallotMovesTally(t *testing.T) {
	w := newWorld(t)
	w.mustOK(w.createTx(w.consultation("parks")))
	w.mustOK(w.ballot("alice", "parks", 1, 0), w.ballot("bob", "parks", 1, 0, 2))

	tl := w.tally("parks")
	if got, want := tl.Counts, []uint64{2, 0, 1}; !slices.Equal(got, want) {
		t.Fatalf("counts = %v, want %v", got, want)
	}
	if tl.Turnout != 2 || tl.BallotsCast != 2 {
		t.Fatalf("turnout %d ballots %d, want 2 and 2", tl.Turnout, tl.BallotsCast)
	}

	// A revote with a higher sequence moves alice's vote; the old ballot
	// stays in history.
	w.mustOK(w.ballot("alice", "parks", 2, 1))
	tl = w.tally("parks")
	if got, want := tl.Counts, []uint64{1, 1, 1}; !slices.Equal(got, want) {
		t.Fatalf("after revote counts = %v, want %v", got, want)
	}
	if tl.Turnout != 2 || tl.BallotsCast != 3 {
		t.Fatalf("after revote turnout %d ballots %d, want 2 and 3", tl.Turnout, tl.BallotsCast)
	}
	old, err := w.view().Get(ledger.HistoryKey("parks", pub("alice"), 1))
	if err != nil || old == nil {
		t.Fatalf("superseded ballot not in history: %v", err)
	}
	b, err := w.view().Ballot("parks", pub("alice"))
	if err != nil || b == nil || b.Sequence != 2 {
		t.Fatalf("live ballot = %v, %v; want sequence 2", b, err)
	}
	if !bytes.Equal(b.BallotHash, ledger.TxHash(b.Tx)) {
		t.Fatal("ballot hash is not the hash of the recorded tx")
	}
}

func TestVotingOpensAndClosesByBlockTime(t *testing.T) {
	w := newWorld(t)
	spec := w.consultation("later")
	spec.Schedule.VotingOpensAt = w.now.Add(12 * time.Second).Unix()
	spec.Schedule.VotingClosesAt = w.now.Add(37 * time.Second).Unix()
	w.mustOK(w.createTx(spec))
	status := func() tabellav1.InitiativeStatus {
		in, err := w.view().Initiative("later")
		if err != nil || in == nil {
			t.Fatalf("initiative: %v %v", in, err)
		}
		return in.Status
	}
	if s := status(); s != tabellav1.InitiativeStatus_INITIATIVE_STATUS_SCHEDULED {
		t.Fatalf("status %s, want SCHEDULED", s)
	}
	if r := w.block(w.ballot("alice", "later", 1, 0)); r.TxResults[0].Code != ledger.CodeNotOpen {
		t.Fatalf("early ballot: %s, want VOTING_NOT_OPEN", r.TxResults[0].Code)
	}
	w.block() // block time now +15s: open
	if s := status(); s != tabellav1.InitiativeStatus_INITIATIVE_STATUS_VOTING {
		t.Fatalf("status %s, want VOTING", s)
	}
	w.mustOK(w.ballot("alice", "later", 1, 0), w.ballot("bob", "later", 1, 0, 1))
	w.block()
	w.block() // block time +30s: still open
	w.mustOK(w.ballot("carol", "later", 1, 1))
	// +35s: the first block at or past close freezes the result.
	r := w.block(w.ballot("dave", "later", 1, 2))
	if r.TxResults[0].Code != ledger.CodeNotOpen {
		t.Fatalf("late ballot: %s, want VOTING_NOT_OPEN", r.TxResults[0].Code)
	}
	in, _ := w.view().Initiative("later")
	if in.Status != tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSED {
		t.Fatalf("status %s, want CLOSED", in.Status)
	}
	res := in.Result
	if !slices.Equal(res.Counts, []uint64{2, 2, 0}) || !slices.Equal(res.Winners, []uint32{0, 1}) || res.Turnout != 3 || !res.QuorumMet {
		t.Fatalf("result = %v", res)
	}
}

func TestQuorumNotMet(t *testing.T) {
	w := newWorld(t)
	spec := w.consultation("q")
	spec.ResultRule.Quorum = 5
	spec.Schedule.VotingClosesAt = w.now.Add(7 * time.Second).Unix()
	w.mustOK(w.createTx(spec), w.ballot("alice", "q", 1, 2))
	w.block()
	in, _ := w.view().Initiative("q")
	if in.Result == nil || in.Result.QuorumMet || !slices.Equal(in.Result.Winners, []uint32{2}) {
		t.Fatalf("result = %v, want winner 2 without quorum", in.Result)
	}
}

// rejectionCase builds a tx against a world that already holds the
// consultation "parks" with alice's sequence-1 ballot.
type rejectionCase struct {
	name string
	tx   func(w *world) []byte
	code ledger.Code
}

func rejectionCases(aliceBallot []byte) []rejectionCase {
	ballotWith := func(voter string, mut func(*tabellav1.CastBallot), cred *tabellav1.SignedCredential) func(w *world) []byte {
		return func(w *world) []byte {
			if cred == nil {
				cred = w.cred(voter, resident(voter)...)
			}
			m := &tabellav1.CastBallot{InitiativeId: "parks", Credential: cred, Selections: []uint32{0}, Sequence: 1}
			if mut != nil {
				mut(m)
			}
			tx, err := client.SignTx(testChain, key(voter), &tabellav1.TxBody{Msg: &tabellav1.TxBody_CastBallot{CastBallot: m}})
			if err != nil {
				w.t.Fatal(err)
			}
			return tx
		}
	}
	return []rejectionCase{
		{"empty tx", func(w *world) []byte { return nil }, ledger.CodeMalformedTx},
		{"garbage", func(w *world) []byte { return []byte{0xff, 0x01, 0x02} }, ledger.CodeMalformedTx},
		{"oversized", func(w *world) []byte { return make([]byte, ledger.MaxTxBytes+1) }, ledger.CodeTxTooLarge},
		{"oversized ballot", ballotWith("bob", func(m *tabellav1.CastBallot) {
			m.InitiativeId = "parks"
			m.Selections = make([]uint32, 5000)
			for i := range m.Selections {
				m.Selections[i] = uint32(i)
			}
		}, nil), ledger.CodeTxTooLarge},
		{"unsigned", func(w *world) []byte {
			body, _ := proto.Marshal(&tabellav1.TxBody{ChainId: testChain, Msg: &tabellav1.TxBody_GovVote{GovVote: &tabellav1.GovVote{PartyId: "gov-a", ProposalId: "p"}}})
			raw, _ := proto.Marshal(&tabellav1.Tx{Body: body})
			return raw
		}, ledger.CodeBadSignature},
		{"forged signature", func(w *world) []byte {
			raw := w.ballot("bob", "parks", 1, 0)
			var tx tabellav1.Tx
			_ = proto.Unmarshal(raw, &tx)
			tx.Signatures[0].Signature[5] ^= 0x40
			out, _ := proto.Marshal(&tx)
			return out
		}, ledger.CodeBadSignature},
		{"tampered body", func(w *world) []byte {
			raw := w.ballot("bob", "parks", 1, 0)
			var tx tabellav1.Tx
			_ = proto.Unmarshal(raw, &tx)
			var body tabellav1.TxBody
			_ = proto.Unmarshal(tx.Body, &body)
			body.GetCastBallot().Selections = []uint32{1}
			tx.Body, _ = proto.Marshal(&body)
			out, _ := proto.Marshal(&tx)
			return out
		}, ledger.CodeBadSignature},
		{"wrong chain id", func(w *world) []byte {
			tx, _ := client.BallotTx("other-chain", key("bob"), "parks", w.cred("bob", resident("bob")...), []uint32{0}, 1)
			return tx
		}, ledger.CodeWrongChainID},
		{"unknown initiative", ballotWith("bob", func(m *tabellav1.CastBallot) { m.InitiativeId = "nope" }, nil), ledger.CodeNotFound},
		{"sequence zero", ballotWith("bob", func(m *tabellav1.CastBallot) { m.Sequence = 0 }, nil), ledger.CodeInvalidField},
		{"replayed ballot", func(w *world) []byte { return aliceBallot }, ledger.CodeReplay},
		{"second ballot without revoting", func(w *world) []byte { return w.ballot("alice", "parks", 2, 1) }, ledger.CodeRevotingDisabled},
		{"non-canonical envelope", func(w *world) []byte {
			// The same fields, signature first: a relay's re-encoding.
			var tx tabellav1.Tx
			_ = proto.Unmarshal(w.ballot("bob", "parks", 1, 0), &tx)
			sig, _ := proto.Marshal(&tabellav1.Tx{Signatures: tx.Signatures})
			body, _ := proto.Marshal(&tabellav1.Tx{Body: tx.Body})
			return append(sig, body...)
		}, ledger.CodeMalformedTx},
		{"too many selections", ballotWith("bob", func(m *tabellav1.CastBallot) { m.Selections = []uint32{0, 1, 2} }, nil), ledger.CodeSelectionCount},
		{"too few selections", ballotWith("bob", func(m *tabellav1.CastBallot) { m.Selections = nil }, nil), ledger.CodeSelectionCount},
		{"unknown option", ballotWith("bob", func(m *tabellav1.CastBallot) { m.Selections = []uint32{7} }, nil), ledger.CodeUnknownOption},
		{"duplicate selection", ballotWith("bob", func(m *tabellav1.CastBallot) { m.Selections = []uint32{1, 1} }, nil), ledger.CodeInvalidField},
		{"credential for another key", func(w *world) []byte {
			tx, _ := client.BallotTx(testChain, key("bob"), "parks", w.cred("carol", resident("carol")...), []uint32{0}, 1)
			return tx
		}, ledger.CodeBadCredential},
		{"forged credential", func(w *world) []byte {
			sc := w.cred("bob", resident("bob")...)
			sc.Signature[0] ^= 1
			tx, _ := client.BallotTx(testChain, key("bob"), "parks", sc, []uint32{0}, 1)
			return tx
		}, ledger.CodeBadCredential},
		{"credential signed by impostor", func(w *world) []byte {
			sc, _ := client.IssueCredential(testChain, key("mallory"), &tabellav1.Credential{IssuerId: "registry", VoterPublicKey: pub("bob"), Attributes: resident("bob"), IssuedAt: 1, ExpiresAt: w.now.Add(time.Hour).Unix()})
			tx, _ := client.BallotTx(testChain, key("bob"), "parks", sc, []uint32{0}, 1)
			return tx
		}, ledger.CodeBadCredential},
		{"missing credential", ballotWith("bob", func(m *tabellav1.CastBallot) { m.Credential = nil }, nil), ledger.CodeBadCredential},
		{"expired credential", func(w *world) []byte {
			tx, _ := client.BallotTx(testChain, key("bob"), "parks", w.credFrom("registry", "bob", w.now.Unix()-1, resident("bob")...), []uint32{0}, 1)
			return tx
		}, ledger.CodeCredentialExpired},
		{"issuer not accepted", func(w *world) []byte {
			tx, _ := client.BallotTx(testChain, key("bob"), "parks", w.credFrom("school", "bob", w.now.Add(time.Hour).Unix(), resident("bob")...), []uint32{0}, 1)
			return tx
		}, ledger.CodeIssuerNotAccepted},
		{"too young", func(w *world) []byte {
			tx, _ := client.BallotTx(testChain, key("bob"), "parks", w.cred("bob", intAttr("age", 12), textAttr("municipality", "Aarhus")), []uint32{0}, 1)
			return tx
		}, ledger.CodeIneligible},
		{"wrong municipality", func(w *world) []byte {
			tx, _ := client.BallotTx(testChain, key("bob"), "parks", w.cred("bob", intAttr("age", 40), textAttr("municipality", "Odense")), []uint32{0}, 1)
			return tx
		}, ledger.CodeIneligible},
		{"attribute missing", func(w *world) []byte {
			tx, _ := client.BallotTx(testChain, key("bob"), "parks", w.cred("bob", intAttr("age", 40)), []uint32{0}, 1)
			return tx
		}, ledger.CodeIneligible},
		{"age as text", func(w *world) []byte {
			tx, _ := client.BallotTx(testChain, key("bob"), "parks", w.cred("bob", textAttr("age", "40"), textAttr("municipality", "Aarhus")), []uint32{0}, 1)
			return tx
		}, ledger.CodeIneligible},
		{"initiative by unknown organiser", func(w *world) []byte {
			tx, _ := client.CreateInitiativeTx(testChain, key("city"), "ghost", w.consultation("x1"))
			return tx
		}, ledger.CodeNotFound},
		{"initiative signed by non-organiser", func(w *world) []byte {
			tx, _ := client.CreateInitiativeTx(testChain, key("mallory"), "city", w.consultation("x2"))
			return tx
		}, ledger.CodeUnauthorized},
		{"initiative id taken", func(w *world) []byte { return w.createTx(w.consultation("parks")) }, ledger.CodeAlreadyExists},
		{"initiative closing in the past", func(w *world) []byte {
			s := w.consultation("x3")
			s.Schedule.VotingOpensAt, s.Schedule.VotingClosesAt = 1, w.now.Unix()-10
			return w.createTx(s)
		}, ledger.CodeInvalidField},
		{"initiative with one option", func(w *world) []byte {
			s := w.consultation("x4")
			s.Options = s.Options[:1]
			s.Ballot.MaxSelections = 1
			return w.createTx(s)
		}, ledger.CodeInvalidField},
		{"initiative accepting unknown issuer", func(w *world) []byte {
			s := w.consultation("x5")
			s.Eligibility.IssuerIds = []string{"nobody"}
			return w.createTx(s)
		}, ledger.CodeUnknownIssuer},
		{"initiative with bad id", func(w *world) []byte { return w.createTx(w.consultation("Bad/Id")) }, ledger.CodeInvalidField},
		{"initiative title too long", func(w *world) []byte {
			s := w.consultation("x6")
			s.Title = string(bytes.Repeat([]byte("a"), ledger.MaxTitleLen+1))
			return w.createTx(s)
		}, ledger.CodeInvalidField},
		{"gov proposal by non-admin", func(w *world) []byte {
			tx, _ := client.GovProposeTx(testChain, key("mallory"), "gov-a", "p1", w.now.Add(time.Hour).Unix(), registerIssuer("school"))
			return tx
		}, ledger.CodeUnauthorized},
		{"gov proposal by unknown party", func(w *world) []byte {
			tx, _ := client.GovProposeTx(testChain, key("gov-a-admin"), "gov-z", "p1", w.now.Add(time.Hour).Unix(), registerIssuer("school"))
			return tx
		}, ledger.CodeNotFound},
		{"gov proposal past deadline", func(w *world) []byte {
			tx, _ := client.GovProposeTx(testChain, key("gov-a-admin"), "gov-a", "p1", w.now.Unix()-1, registerIssuer("school"))
			return tx
		}, ledger.CodeInvalidField},
		{"gov register existing issuer", func(w *world) []byte {
			tx, _ := client.GovProposeTx(testChain, key("gov-a-admin"), "gov-a", "p1", w.now.Add(time.Hour).Unix(), registerIssuer("registry"))
			return tx
		}, ledger.CodeAlreadyExists},
		{"gov vote on unknown proposal", func(w *world) []byte {
			tx, _ := client.GovVoteTx(testChain, key("gov-b-admin"), "gov-b", "nope", true)
			return tx
		}, ledger.CodeNotFound},
		{"gov action missing", func(w *world) []byte {
			tx, _ := client.GovProposeTx(testChain, key("gov-a-admin"), "gov-a", "p1", w.now.Add(time.Hour).Unix(), &tabellav1.GovAction{})
			return tx
		}, ledger.CodeInvalidField},
		{"memo too long", func(w *world) []byte {
			tx, _ := client.SignTx(testChain, key("gov-b-admin"), &tabellav1.TxBody{Memo: string(make([]byte, ledger.MaxMemoLen+1)), Msg: &tabellav1.TxBody_GovVote{GovVote: &tabellav1.GovVote{PartyId: "gov-b", ProposalId: "p"}}})
			return tx
		}, ledger.CodeInvalidField},
		{"no message", func(w *world) []byte {
			tx, _ := client.SignTx(testChain, key("gov-b-admin"), &tabellav1.TxBody{})
			return tx
		}, ledger.CodeMalformedTx},
	}
}

func registerIssuer(id string) *tabellav1.GovAction {
	return &tabellav1.GovAction{Action: &tabellav1.GovAction_RegisterIssuer{RegisterIssuer: &tabellav1.RegisterIssuer{Id: id, Name: "Issuer " + id, PublicKey: pub(id)}}}
}

// TestRejections checks every rejection path: the stable code, in CheckTx
// and in FinalizeBlock, and that the app hash equals that of an empty block.
func TestRejections(t *testing.T) {
	w := newWorld(t)
	spec := w.consultation("parks")
	spec.Ballot.RevotingAllowed = false
	w.mustOK(w.createTx(spec))
	alice := w.ballot("alice", "parks", 1, 0)
	w.mustOK(alice)

	for _, tc := range rejectionCases(alice) {
		t.Run(tc.name, func(t *testing.T) {
			w.t = t
			tx := tc.tx(w)
			if r := w.l.CheckTx(tx); r.Code != tc.code {
				t.Errorf("CheckTx code = %s (%s), want %s", r.Code, r.Log, tc.code)
			} else if r.Log == "" {
				t.Error("CheckTx rejection has no message")
			}
			empty := w.finalize().AppHash
			res := w.finalize(tx)
			if r := res.TxResults[0]; r.Code != tc.code {
				t.Errorf("FinalizeBlock code = %s (%s), want %s", r.Code, r.Log, tc.code)
			}
			if !bytes.Equal(res.AppHash, empty) {
				t.Error("a rejected tx changed the app hash")
			}
		})
	}
	w.t = t
}

func TestCheckTxSeesMempool(t *testing.T) {
	w := newWorld(t)
	w.mustOK(w.createTx(w.consultation("parks")))
	if r := w.l.CheckTx(w.ballot("alice", "parks", 1, 0)); r.Code != ledger.CodeOK {
		t.Fatalf("first: %s %s", r.Code, r.Log)
	}
	if r := w.l.CheckTx(w.ballot("alice", "parks", 1, 1)); r.Code != ledger.CodeReplay {
		t.Fatalf("same sequence again in mempool: %s, want REPLAYED_BALLOT", r.Code)
	}
	if r := w.l.CheckTx(w.ballot("alice", "parks", 2, 1)); r.Code != ledger.CodeOK {
		t.Fatalf("revote in mempool: %s %s", r.Code, r.Log)
	}
}

// TestTxResultType: results name the tx's message type wherever the tx
// decoded, accepted or not, in CheckTx and in blocks, and leave it empty
// for a tx that did not decode.
func TestTxResultType(t *testing.T) {
	w := newWorld(t)
	create := w.createTx(w.consultation("parks"))
	res := w.block(create, []byte("garbage"))
	if got := []string{res.TxResults[0].Type, res.TxResults[1].Type}; got[0] != "create_initiative" || got[1] != "" {
		t.Errorf("block results' types %q, want create_initiative and empty", got)
	}
	for _, c := range []struct {
		tx   []byte
		code ledger.Code
		typ  string
	}{
		{w.ballot("alice", "parks", 1, 0), ledger.CodeOK, "cast_ballot"},
		{w.ballot("alice", "parks", 1, 1), ledger.CodeReplay, "cast_ballot"},
		{[]byte("garbage"), ledger.CodeMalformedTx, ""},
	} {
		if r := w.l.CheckTx(c.tx); r.Code != c.code || r.Type != c.typ {
			t.Errorf("CheckTx: %s of type %q, want %s of type %q", r.Code, r.Type, c.code, c.typ)
		}
	}
}

func TestDualMajority(t *testing.T) {
	w := newWorld(t)
	deadline := w.now.Add(time.Hour).Unix()
	propose, _ := client.GovProposeTx(testChain, key("gov-a-admin"), "gov-a", "add-school", deadline, registerIssuer("school"))
	w.mustOK(propose)
	status := func(id string) tabellav1.GovStatus {
		p, err := w.view().GovProposal(id)
		if err != nil || p == nil {
			t.Fatalf("proposal %s: %v", id, err)
		}
		return p.Status
	}
	vote := func(party string, approve bool) []byte {
		tx, _ := client.GovVoteTx(testChain, key(party+"-admin"), party, "add-school", approve)
		return tx
	}
	// Both government parties approve: one side alone is not enough.
	w.mustOK(vote("gov-b", true))
	if s := status("add-school"); s != tabellav1.GovStatus_GOV_STATUS_OPEN {
		t.Fatalf("after government majority: %s, want OPEN", s)
	}
	w.mustOK(vote("civ-a", true))
	if s := status("add-school"); s != tabellav1.GovStatus_GOV_STATUS_OPEN {
		t.Fatalf("after one civil party: %s, want OPEN", s)
	}
	if r := w.block(vote("gov-b", true)); r.TxResults[0].Code != ledger.CodeAlreadyVoted {
		t.Fatalf("double vote: %s", r.TxResults[0].Code)
	}
	w.mustOK(vote("civ-b", true))
	if s := status("add-school"); s != tabellav1.GovStatus_GOV_STATUS_PASSED {
		t.Fatalf("after dual majority: %s, want PASSED", s)
	}
	c, _ := w.view().Consortium()
	if len(c.Issuers) != 2 {
		t.Fatalf("issuers = %d, want 2", len(c.Issuers))
	}
	if r := w.block(vote("civ-b", true)); r.TxResults[0].Code != ledger.CodeProposalClosed {
		t.Fatalf("vote after decision: %s", r.TxResults[0].Code)
	}

	// A civil-society side that says no blocks a revocation.
	revoke := &tabellav1.GovAction{Action: &tabellav1.GovAction_RevokeIssuer{RevokeIssuer: &tabellav1.RevokeIssuer{Id: "registry"}}}
	p2, _ := client.GovProposeTx(testChain, key("gov-a-admin"), "gov-a", "drop-registry", deadline, revoke)
	no, _ := client.GovVoteTx(testChain, key("civ-a-admin"), "civ-a", "drop-registry", false)
	w.mustOK(p2, no)
	if s := status("drop-registry"); s != tabellav1.GovStatus_GOV_STATUS_REJECTED {
		t.Fatalf("after civil no: %s, want REJECTED", s)
	}

	// An undecided proposal expires at its deadline.
	p3, _ := client.GovProposeTx(testChain, key("civ-a-admin"), "civ-a", "short", w.now.Add(8*time.Second).Unix(), registerIssuer("union"))
	w.mustOK(p3)
	w.block()
	w.block()
	if s := status("short"); s != tabellav1.GovStatus_GOV_STATUS_EXPIRED {
		t.Fatalf("after deadline: %s, want EXPIRED", s)
	}
}

func TestRevokedIssuerAndOrganiser(t *testing.T) {
	w := newWorld(t)
	w.mustOK(w.createTx(w.consultation("parks")))
	deadline := w.now.Add(time.Hour).Unix()
	revoke := &tabellav1.GovAction{Action: &tabellav1.GovAction_RevokeIssuer{RevokeIssuer: &tabellav1.RevokeIssuer{Id: "registry"}}}
	revokeOrg := &tabellav1.GovAction{Action: &tabellav1.GovAction_RevokeOrganiser{RevokeOrganiser: &tabellav1.RevokeOrganiser{Id: "city"}}}
	var txs [][]byte
	for _, pr := range []struct {
		id     string
		action *tabellav1.GovAction
	}{{"r1", revoke}, {"r2", revokeOrg}} {
		p, _ := client.GovProposeTx(testChain, key("gov-a-admin"), "gov-a", pr.id, deadline, pr.action)
		txs = append(txs, p)
		for _, party := range []string{"gov-b", "civ-a", "civ-b"} {
			v, _ := client.GovVoteTx(testChain, key(party+"-admin"), party, pr.id, true)
			txs = append(txs, v)
		}
	}
	w.mustOK(txs...)
	if r := w.block(w.ballot("alice", "parks", 1, 0)); r.TxResults[0].Code != ledger.CodeIssuerRevoked {
		t.Fatalf("ballot with revoked issuer: %s", r.TxResults[0].Code)
	}
	if r := w.block(w.createTx(w.consultation("more"))); r.TxResults[0].Code != ledger.CodeOrganiserRevoked {
		t.Fatalf("initiative by revoked organiser: %s", r.TxResults[0].Code)
	}
}

func TestListInitiatives(t *testing.T) {
	w := newWorld(t)
	later := w.consultation("c-later")
	later.Schedule.VotingOpensAt = w.now.Add(time.Hour).Unix()
	later.Schedule.VotingClosesAt = w.now.Add(2 * time.Hour).Unix()
	w.mustOK(w.createTx(w.consultation("a-now")), w.createTx(w.consultation("b-now")), w.createTx(later))
	v := w.view()
	page, next, err := v.Initiatives(0, "", 2)
	if err != nil || len(page) != 2 || next != "b-now" {
		t.Fatalf("page 1: %d items, next %q, %v", len(page), next, err)
	}
	page, next, err = v.Initiatives(0, next, 2)
	if err != nil || len(page) != 1 || page[0].Spec.Id != "c-later" || next != "" {
		t.Fatalf("page 2: %v next %q %v", page, next, err)
	}
	voting, _, _ := v.Initiatives(tabellav1.InitiativeStatus_INITIATIVE_STATUS_VOTING, "", 10)
	if len(voting) != 2 {
		t.Fatalf("voting = %d, want 2", len(voting))
	}
}

func TestHistoricalViewsAndProofs(t *testing.T) {
	w := newWorld(t)
	w.mustOK(w.createTx(w.consultation("parks")))
	w.mustOK(w.ballot("alice", "parks", 1, 0))
	h := w.height
	w.mustOK(w.ballot("alice", "parks", 2, 1))

	old, err := w.l.View(h)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := old.Ballot("parks", pub("alice"))
	if b == nil || b.Sequence != 1 {
		t.Fatalf("ballot at height %d = %v, want sequence 1", h, b)
	}
	val, proof, err := old.Prove(ledger.BallotKey("parks", pub("alice")))
	if err != nil || val == nil || proof.GetExist() == nil {
		t.Fatalf("membership proof: %v %v", proof, err)
	}
	_, proof, err = old.Prove(ledger.BallotKey("parks", pub("zed")))
	if err != nil || proof.GetNonexist() == nil {
		t.Fatalf("non-membership proof: %v %v", proof, err)
	}
	if _, err := w.l.View(w.height + 5); err == nil {
		t.Fatal("view of a future height succeeded")
	}
}

func setValidator(party string, key []byte, power int64) *tabellav1.GovAction {
	return &tabellav1.GovAction{Action: &tabellav1.GovAction_SetValidator{SetValidator: &tabellav1.SetValidator{PartyId: party, PublicKey: key, Power: power}}}
}

// passAll proposes an action and has every party approve, in one block.
func (w *world) passAll(id string, a *tabellav1.GovAction) *ledger.BlockResult {
	w.t.Helper()
	p, err := client.GovProposeTx(testChain, key("gov-a-admin"), "gov-a", id, w.now.Add(time.Hour).Unix(), a)
	if err != nil {
		w.t.Fatal(err)
	}
	txs := [][]byte{p}
	for _, party := range []string{"gov-b", "civ-a", "civ-b"} {
		v, _ := client.GovVoteTx(testChain, key(party+"-admin"), party, id, true)
		txs = append(txs, v)
	}
	res := w.block(txs...)
	for i, r := range res.TxResults {
		if r.Code != ledger.CodeOK {
			w.t.Fatalf("tx %d: %s %s", i, r.Code, r.Log)
		}
	}
	return res
}

func TestValidatorGovernance(t *testing.T) {
	w := newWorld(t)
	// Rotation: civ-b moves its validator to a new key.
	res := w.passAll("rotate", setValidator("civ-b", pub("civ-b-val-2"), 10))
	want := []ledger.ValidatorUpdate{{PubKey: pub("civ-b-val"), Power: 0}, {PubKey: pub("civ-b-val-2"), Power: 10}}
	if !slices.EqualFunc(res.ValidatorUpdates, want, func(a, b ledger.ValidatorUpdate) bool { return bytes.Equal(a.PubKey, b.PubKey) && a.Power == b.Power }) {
		t.Fatalf("rotation updates = %v", res.ValidatorUpdates)
	}
	// Power change, then removal.
	res = w.passAll("more", setValidator("gov-a", pub("gov-a-val"), 30))
	if len(res.ValidatorUpdates) != 1 || res.ValidatorUpdates[0].Power != 30 {
		t.Fatalf("power updates = %v", res.ValidatorUpdates)
	}
	res = w.passAll("drop", setValidator("gov-b", pub("gov-b-val"), 0))
	if len(res.ValidatorUpdates) != 1 || res.ValidatorUpdates[0].Power != 0 || !bytes.Equal(res.ValidatorUpdates[0].PubKey, pub("gov-b-val")) {
		t.Fatalf("removal updates = %v", res.ValidatorUpdates)
	}
	c, _ := w.view().Consortium()
	for _, p := range c.Parties {
		if p.Id == "gov-b" && p.Validator != nil {
			t.Fatal("gov-b still has a validator")
		}
	}
	// A key another party uses is refused; so is removing a missing one.
	p, _ := client.GovProposeTx(testChain, key("gov-a-admin"), "gov-a", "steal", w.now.Add(time.Hour).Unix(), setValidator("gov-b", pub("gov-a-val"), 10))
	if r := w.block(p); r.TxResults[0].Code != ledger.CodeAlreadyExists {
		t.Fatalf("shared key: %s", r.TxResults[0].Code)
	}
	p, _ = client.GovProposeTx(testChain, key("gov-a-admin"), "gov-a", "again", w.now.Add(time.Hour).Unix(), setValidator("gov-b", pub("gov-b-val"), 0))
	if r := w.block(p); r.TxResults[0].Code != ledger.CodeNotFound {
		t.Fatalf("remove missing: %s", r.TxResults[0].Code)
	}
}

// Two rotations of the same party decided in one block collapse to one
// valid change set: the intermediate key never reaches CometBFT.
func TestValidatorUpdatesCollapse(t *testing.T) {
	w := newWorld(t)
	var txs [][]byte
	for i, k := range []string{"k1", "k2"} {
		id := fmt.Sprintf("r%d", i)
		p, _ := client.GovProposeTx(testChain, key("gov-a-admin"), "gov-a", id, w.now.Add(time.Hour).Unix(), setValidator("civ-a", pub(k), 10))
		txs = append(txs, p)
		for _, party := range []string{"gov-b", "civ-a", "civ-b"} {
			v, _ := client.GovVoteTx(testChain, key(party+"-admin"), party, id, true)
			txs = append(txs, v)
		}
	}
	res := w.block(txs...)
	got := map[string]int64{}
	for _, u := range res.ValidatorUpdates {
		if _, dup := got[string(u.PubKey)]; dup {
			t.Fatal("duplicate key in validator updates")
		}
		got[string(u.PubKey)] = u.Power
	}
	if len(got) != 2 || got[string(pub("civ-a-val"))] != 0 || got[string(pub("k2"))] != 10 {
		t.Fatalf("updates = %v", res.ValidatorUpdates)
	}
}

// TestBallotIndexAfterReopen: a ledger re-opened on a state that holds
// ballots refuses a second ballot of the same voter whether or not its
// ballot index has finished scanning that state, in CheckTx and in a block;
// and a ballot committed after the reopen is known to the index at once.
func TestBallotIndexAfterReopen(t *testing.T) {
	spec := func(w *world) *tabellav1.InitiativeSpec {
		s := w.consultation("parks")
		s.Ballot.RevotingAllowed = false
		return s
	}
	w := newWorld(t)
	w.mustOK(w.createTx(spec(w)))
	var first [][]byte
	for i := range 50 {
		first = append(first, w.ballot(fmt.Sprintf("voter-%d", i), "parks", 1, 0))
	}
	w.mustOK(first...)
	for _, wait := range []bool{false, true} {
		l, err := ledger.Open(w.db, ledger.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if wait {
			l.WaitBallotIndex()
			if !l.BallotIndexReady() {
				t.Fatal("ballot index not ready after its scan")
			}
		}
		again := w.ballot("voter-7", "parks", 2, 1)
		if r := l.CheckTx(again); r.Code != ledger.CodeRevotingDisabled {
			t.Fatalf("index scanned %v: CheckTx of a second ballot: %s %s", wait, r.Code, r.Log)
		}
		if err := w.l.Close(); err != nil {
			t.Fatal(err)
		}
		w.l = l
		res := w.block(again, w.ballot(fmt.Sprintf("late-%v", wait), "parks", 1, 2))
		if res.TxResults[0].Code != ledger.CodeRevotingDisabled || res.TxResults[1].Code != ledger.CodeOK {
			t.Fatalf("index scanned %v: block results %v", wait, res.TxResults)
		}
		late := w.ballot(fmt.Sprintf("late-%v", wait), "parks", 2, 1)
		if r := l.CheckTx(late); r.Code != ledger.CodeRevotingDisabled {
			t.Fatalf("index scanned %v: CheckTx of a second ballot of a voter committed after the reopen: %s %s", wait, r.Code, r.Log)
		}
	}
	if got := w.tally("parks").Turnout; got != 52 {
		t.Fatalf("turnout %d, want 52", got)
	}
}
