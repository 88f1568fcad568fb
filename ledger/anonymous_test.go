package ledger_test

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cloudflare/circl/blindsign/blindrsa"
	"google.golang.org/protobuf/proto"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// blindKey loads a fixed RSA test key from testdata (fixed, so that fuzz
// seeds holding tokens stay valid): "a" and "b" are 2048-bit, "big" is
// 4608-bit, over the limit.
func blindKey(tb testing.TB, name string) *rsa.PrivateKey {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "blindkey-"+name+".pem"))
	if err != nil {
		tb.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		tb.Fatalf("blindkey-%s.pem is not PEM", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

// attest registers sk as issuer's blind key for an initiative, attested
// with signer's ed25519 key (the issuer's own, unless a test forges it).
func attest(tb testing.TB, initiative, issuer, signer string, sk *rsa.PrivateKey) *tabellav1.BlindKey {
	tb.Helper()
	bk, err := client.AttestBlindKey(testChain, initiative, issuer, key(signer), &sk.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return bk
}

// anonSpec is the consultation of w.consultation made anonymous: no
// attribute rules, registry's blind key sk.
func (w *world) anonSpec(id string, sk *rsa.PrivateKey) *tabellav1.InitiativeSpec {
	s := w.consultation(id)
	s.Eligibility.Predicates = nil
	s.Secrecy = tabellav1.Secrecy_SECRECY_ANONYMOUS
	s.BlindKeys = []*tabellav1.BlindKey{attest(w.t, id, "registry", "registry", sk)}
	return s
}

// token runs the blind protocol: voter blinds for initiative under the key
// registered as der, the issuer signs with sk, voter unblinds.
func token(tb testing.TB, initiative, voter string, der []byte, sk *rsa.PrivateKey) *tabellav1.AnonymousToken {
	tb.Helper()
	return tokenFrom(tb, "registry", initiative, voter, der, sk)
}

// tokenFrom is token for another issuer.
func tokenFrom(tb testing.TB, issuer, initiative, voter string, der []byte, sk *rsa.PrivateKey) *tabellav1.AnonymousToken {
	tb.Helper()
	seed := sha256.Sum256([]byte("tabella-test-blinding/" + initiative + "/" + voter))
	blinded, err := client.Blind(testChain, initiative, der, pub(voter), seed[:])
	if err != nil {
		tb.Fatal(err)
	}
	bs, err := client.BlindSign(sk, blinded)
	if err != nil {
		tb.Fatal(err)
	}
	t, err := client.Unblind(testChain, initiative, issuer, der, pub(voter), seed[:], bs)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func derOf(tb testing.TB, sk *rsa.PrivateKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(&sk.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

func (w *world) anonBallot(voter, initiative string, tok *tabellav1.AnonymousToken, seq uint64, sel ...uint32) []byte {
	w.t.Helper()
	tx, err := client.AnonymousBallotTx(testChain, key(voter), initiative, tok, sel, seq)
	if err != nil {
		w.t.Fatal(err)
	}
	return tx
}

// checkCode runs tx through CheckTx and FinalizeBlock: both must give want
// and a rejected tx must leave the app hash as an empty block would.
func (w *world) checkCode(tb testing.TB, name string, tx []byte, want ledger.Code) {
	tb.Helper()
	if got := w.l.CheckTx(tx); got.Code != want {
		tb.Fatalf("%s: CheckTx %s (%s), want %s", name, got.Code, got.Log, want)
	}
	before := w.l.LastAppHash()
	res := w.block(tx)
	if r := res.TxResults[0]; r.Code != want {
		tb.Fatalf("%s: FinalizeBlock %s (%s), want %s", name, r.Code, r.Log, want)
	}
	if want != ledger.CodeOK && string(res.AppHash) != string(before) {
		tb.Fatalf("%s: a rejected tx changed the app hash", name)
	}
}

func TestAnonymousBallots(t *testing.T) {
	w := newWorld(t)
	ka, kb := blindKey(t, "a"), blindKey(t, "b")
	once := w.anonSpec("anon", ka)
	once.Ballot.RevotingAllowed = false
	revote := w.anonSpec("anon-revote", ka)
	other := w.anonSpec("anon-other", kb)
	w.mustOK(w.createTx(once), w.createTx(revote), w.createTx(other), w.createTx(w.consultation("public")))
	derA, derB := derOf(t, ka), derOf(t, kb)

	// Alice's token for "anon", under the registered key.
	tok := token(t, "anon", "alice", derA, ka)
	w.checkCode(t, "valid token", w.anonBallot("alice", "anon", tok, 1, 0), ledger.CodeOK)
	rec, err := w.view().Ballot("anon", pub("alice"))
	if err != nil || rec == nil || rec.IssuerId != "registry" || rec.Sequence != 1 {
		t.Fatalf("recorded ballot %v %v", rec, err)
	}
	// A receipt's ballot check needs no state: it works unchanged.
	if err := client.VerifyBallot(testChain, "anon", pub("alice"), rec.BallotHash, rec); err != nil {
		t.Fatalf("anonymous ballot record does not verify: %v", err)
	}
	if tl := w.tally("anon"); tl.Turnout != 1 {
		t.Fatalf("turnout %d", tl.Turnout)
	}

	forged := proto.CloneOf(tok)
	forged.Signature = append([]byte(nil), tok.Signature...)
	forged.Signature[10] ^= 1
	// s + n: a valid token in another encoding. circl's verifier takes
	// it; the ledger must not, or a token would have two encodings. Find
	// a voter whose token leaves room for n below 2^(8k).
	var plusN *tabellav1.AnonymousToken
	var plusNVoter string
	for i := 0; i < 40 && plusN == nil; i++ {
		v := fmt.Sprintf("plus-n-%d", i)
		t := token(t, "anon-revote", v, derA, ka)
		s := new(big.Int).Add(new(big.Int).SetBytes(t.Signature), ka.N)
		if s.BitLen() <= 8*len(t.Signature) {
			plusN, plusNVoter = proto.CloneOf(t), v
			plusN.Signature = s.FillBytes(make([]byte, len(t.Signature)))
		}
	}
	if plusN == nil {
		t.Fatal("no token leaves room for s + n")
	}
	circl, _ := blindrsa.NewVerifier(client.BlindVariant, &ka.PublicKey)
	if circl.Verify(ledger.TokenMessage(testChain, "anon-revote", pub(plusNVoter)), plusN.Signature) != nil {
		t.Fatal("circl's verifier refuses s + n: the comment in ledger.VerifyToken is out of date")
	}
	foreign := proto.CloneOf(tok)
	foreign.IssuerId = "school"
	bothTx := func() []byte {
		tx, err := client.SignTx(testChain, key("bob"), &tabellav1.TxBody{Msg: &tabellav1.TxBody_CastBallot{CastBallot: &tabellav1.CastBallot{
			InitiativeId: "anon", Credential: w.cred("bob", resident("bob")...), Token: token(t, "anon", "bob", derA, ka), Selections: []uint32{0}, Sequence: 1,
		}}})
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}

	cases := []struct {
		name string
		tx   []byte
		want ledger.Code
	}{
		{"the same token and key again", w.anonBallot("alice", "anon", tok, 1, 0), ledger.CodeReplay},
		{"the same token and key, a new ballot, no revoting", w.anonBallot("alice", "anon", tok, 2, 1), ledger.CodeRevotingDisabled},
		{"alice's token under bob's key", w.anonBallot("bob", "anon", tok, 1, 0), ledger.CodeBadToken},
		{"a token for another initiative", w.anonBallot("bob", "anon", token(t, "anon-other", "bob", derB, kb), 1, 0), ledger.CodeBadToken},
		{"a token from the issuer's key of another initiative", w.anonBallot("bob", "anon", token(t, "anon", "bob", derB, kb), 1, 0), ledger.CodeBadToken},
		{"a token from an issuer the initiative does not accept", w.anonBallot("bob", "anon", foreign, 1, 0), ledger.CodeIssuerNotAccepted},
		{"an altered token", w.anonBallot("alice", "anon-revote", forged, 1, 0), ledger.CodeBadToken},
		{"a credential on an anonymous initiative", w.ballot("bob", "anon", 1, 0), ledger.CodeWrongSecrecy},
		{"a token on a public initiative", w.anonBallot("bob", "public", token(t, "anon", "bob", derA, ka), 1, 0), ledger.CodeWrongSecrecy},
		{"a credential and a token", bothTx(), ledger.CodeWrongSecrecy},
	}
	cases = append(cases, struct {
		name string
		tx   []byte
		want ledger.Code
	}{"a token plus the modulus", w.anonBallot(plusNVoter, "anon-revote", plusN, 1, 0), ledger.CodeBadToken})
	for _, c := range cases {
		w.checkCode(t, c.name, c.tx, c.want)
	}

	// With revoting, the same key and token cast a new ballot: the tally
	// moves and the first ballot stays in history.
	rtok := token(t, "anon-revote", "carol", derA, ka)
	w.checkCode(t, "first ballot", w.anonBallot("carol", "anon-revote", rtok, 1, 0), ledger.CodeOK)
	w.checkCode(t, "revote", w.anonBallot("carol", "anon-revote", rtok, 2, 2), ledger.CodeOK)
	if tl := w.tally("anon-revote"); tl.Turnout != 1 || tl.BallotsCast != 2 || tl.Counts[0] != 0 || tl.Counts[2] != 1 {
		t.Fatalf("tally after revote %v", tl)
	}
}

func TestAnonymousInitiativeCreation(t *testing.T) {
	w := newWorld(t)
	ka := blindKey(t, "a")
	mod := func(id string, f func(*tabellav1.InitiativeSpec)) []byte {
		s := w.anonSpec(id, ka)
		f(s)
		return w.createTx(s)
	}
	cases := []struct {
		name string
		tx   []byte
		want ledger.Code
	}{
		{"a key attested by the organiser, not the issuer", mod("x1", func(s *tabellav1.InitiativeSpec) {
			s.BlindKeys[0] = attest(t, "x1", "registry", "city", ka)
		}), ledger.CodeBadBlindKey},
		{"an attestation for another initiative", mod("x2", func(s *tabellav1.InitiativeSpec) {
			s.BlindKeys[0] = attest(t, "x-other", "registry", "registry", ka)
		}), ledger.CodeBadBlindKey},
		{"an oversized RSA key", mod("x3", func(s *tabellav1.InitiativeSpec) {
			der := derOf(t, blindKey(t, "big"))
			s.BlindKeys[0].RsaPublicKey = der
		}), ledger.CodeInvalidField},
		{"a key that is not RSA", mod("x4", func(s *tabellav1.InitiativeSpec) { s.BlindKeys[0].RsaPublicKey = []byte("not a key") }), ledger.CodeInvalidField},
		{"eligibility rules", mod("x5", func(s *tabellav1.InitiativeSpec) {
			s.Eligibility.Predicates = w.consultation("x").Eligibility.Predicates
		}), ledger.CodeInvalidField},
		{"no blind key", mod("x6", func(s *tabellav1.InitiativeSpec) { s.BlindKeys = nil }), ledger.CodeInvalidField},
		{"a blind key on a public initiative", mod("x7", func(s *tabellav1.InitiativeSpec) { s.Secrecy = tabellav1.Secrecy_SECRECY_PUBLIC }), ledger.CodeInvalidField},
		{"sealed without trustees", mod("x8", func(s *tabellav1.InitiativeSpec) { s.Secrecy = tabellav1.Secrecy_SECRECY_SEALED; s.BlindKeys = nil }), ledger.CodeInvalidField},
		{"anonymous and sealed without trustees", mod("x9", func(s *tabellav1.InitiativeSpec) { s.Secrecy = tabellav1.Secrecy_SECRECY_ANONYMOUS_SEALED }), ledger.CodeInvalidField},
		{"a blind key for an issuer not accepted", mod("x10", func(s *tabellav1.InitiativeSpec) { s.BlindKeys[0].IssuerId = "school" }), ledger.CodeInvalidField},
		{"a short attestation", mod("x11", func(s *tabellav1.InitiativeSpec) { s.BlindKeys[0].Attestation = s.BlindKeys[0].Attestation[:10] }), ledger.CodeInvalidField},
		{"an unknown secrecy", mod("x12", func(s *tabellav1.InitiativeSpec) { s.Secrecy = 99 }), ledger.CodeInvalidField},
	}
	for _, c := range cases {
		w.checkCode(t, c.name, c.tx, c.want)
	}
	// A valid one is stored with its key under "bk/", and its header
	// (what ballots read) leaves the keys out.
	w.checkCode(t, "valid", w.createTx(w.anonSpec("ok", ka)), ledger.CodeOK)
	in := w.initiative("ok")
	if !ledger.Anonymous(in.Spec) || len(in.Spec.BlindKeys) != 1 {
		t.Fatalf("stored spec %v", in.Spec)
	}
}

// TestAnonymousPetitionWithdrawal: an anonymous petition is signed and
// withdrawn with the fresh key, like a public one.
func TestAnonymousPetitionWithdrawal(t *testing.T) {
	w := newWorld(t)
	ka := blindKey(t, "a")
	s := w.petitionSpec("bath", 2)
	s.Ballot = &tabellav1.BallotRules{WithdrawalAllowed: true}
	s.Eligibility.Predicates = nil
	s.Secrecy = tabellav1.Secrecy_SECRECY_ANONYMOUS
	s.BlindKeys = []*tabellav1.BlindKey{attest(t, "bath", "registry", "registry", ka)}
	w.mustOK(w.createTx(s))
	tok := token(t, "bath", "dora", derOf(t, ka), ka)
	w.checkCode(t, "sign", w.anonBallot("dora", "bath", tok, 1), ledger.CodeOK)
	w.checkCode(t, "sign again", w.anonBallot("dora", "bath", tok, 2), ledger.CodeAlreadySigned)
	w.checkCode(t, "withdraw", w.withdrawTx("dora", "bath", 2), ledger.CodeOK)
	if tl := w.tally("bath"); tl.Turnout != 0 || tl.Withdrawals != 1 {
		t.Fatalf("tally %v", tl)
	}
}

// TestTokenVerifiersAgree: a token made with circl verifies with the
// ledger's crypto/rsa check, and the domain separation holds.
func TestTokenVerifiersAgree(t *testing.T) {
	ka := blindKey(t, "a")
	der := derOf(t, ka)
	tok := token(t, "anon", "alice", der, ka)
	msg := ledger.TokenMessage(testChain, "anon", pub("alice"))
	v, err := blindrsa.NewVerifier(client.BlindVariant, &ka.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if v.Verify(msg, tok.Signature) != nil || !ledger.VerifyToken(der, msg, tok.Signature) {
		t.Fatal("the verifiers disagree on a valid token")
	}
	h := crypto.SHA384.New()
	h.Write(msg)
	if rsa.VerifyPSS(&ka.PublicKey, crypto.SHA384, h.Sum(nil), tok.Signature, &rsa.PSSOptions{SaltLength: 48}) != nil {
		t.Fatal("not an RSASSA-PSS signature with a 48-byte salt")
	}
	for _, m := range [][]byte{
		ledger.TokenMessage(testChain+"x", "anon", pub("alice")),
		ledger.TokenMessage(testChain, "anon2", pub("alice")),
		ledger.TokenMessage(testChain, "anon", pub("bob")),
	} {
		if ledger.VerifyToken(der, m, tok.Signature) {
			t.Fatalf("token verifies for %q", m)
		}
	}
	// A token's cache entry is not an ed25519 one and vice versa.
	c := ledger.NewSigCache(16)
	if !c.VerifyToken(der, msg, tok.Signature) || !c.VerifyToken(der, msg, tok.Signature) || c.VerifyToken(der, msg, tok.Signature[1:]) {
		t.Fatal("cached token verification")
	}
	if c.Verify(der[:32], msg, tok.Signature[:64]) {
		t.Fatal("a token answered an ed25519 query")
	}
}

// BenchmarkVerifyToken measures one token verification (what an anonymous
// ballot adds to a public one) by key size, uncached and cached.
func BenchmarkVerifyToken(b *testing.B) {
	for _, bits := range []int{2048, 3072, 4096} {
		sk, err := rsa.GenerateKey(nil, bits)
		if err != nil {
			b.Fatal(err)
		}
		der := derOf(b, sk)
		tok := token(b, "anon", "alice", der, sk)
		msg := ledger.TokenMessage(testChain, "anon", pub("alice"))
		b.Run(bitsName(bits), func(b *testing.B) {
			for b.Loop() {
				if !ledger.VerifyToken(der, msg, tok.Signature) {
					b.Fatal("invalid")
				}
			}
		})
		c := ledger.NewSigCache(1024)
		b.Run(bitsName(bits)+"-cached", func(b *testing.B) {
			for b.Loop() {
				if !c.VerifyToken(der, msg, tok.Signature) {
					b.Fatal("invalid")
				}
			}
		})
	}
	b.Run("ed25519", func(b *testing.B) {
		msg := []byte("tabella/v1tabella-test" + time.Now().String())
		sig := ed25519.Sign(key("alice"), msg)
		for b.Loop() {
			if !ledger.VerifySignature(pub("alice"), msg, sig) {
				b.Fatal("invalid")
			}
		}
	})
}

func bitsName(bits int) string {
	return map[int]string{2048: "rsa2048", 3072: "rsa3072", 4096: "rsa4096"}[bits]
}

// TestAnonymousDeterminism: a node that verified the tokens in CheckTx
// (cached) and one that meets them first in FinalizeBlock (verified in
// parallel before execution) reach the same app hash and results.
func TestAnonymousDeterminism(t *testing.T) {
	ka := blindKey(t, "a")
	warm, cold := newWorld(t), newWorld(t)
	spec := warm.anonSpec("anon", ka)
	blocks := [][][]byte{{warm.createTx(spec)}}
	der := derOf(t, ka)
	var ballots [][]byte
	for i := 0; i < 12; i++ {
		v := fmt.Sprintf("voter-%d", i)
		tok := token(t, "anon", v, der, ka)
		ballots = append(ballots, warm.anonBallot(v, "anon", tok, 1, uint32(i%3)))
		if i%4 == 0 {
			ballots = append(ballots, warm.anonBallot(v, "anon", tok, 2, uint32((i+1)%3))) // a revote
		}
	}
	ballots = append(ballots, warm.anonBallot("intruder", "anon", token(t, "anon", "voter-1", der, ka), 1, 0))
	blocks = append(blocks, ballots[:7], ballots[7:])
	for i, b := range blocks {
		for _, tx := range b {
			warm.l.CheckTx(tx)
		}
		rw, rc := warm.block(b...), cold.block(b...)
		if string(rw.AppHash) != string(rc.AppHash) {
			t.Fatalf("block %d: app hashes differ", i)
		}
		for j := range rw.TxResults {
			if rw.TxResults[j].Code != rc.TxResults[j].Code {
				t.Fatalf("block %d tx %d: %s and %s", i, j, rw.TxResults[j].Code, rc.TxResults[j].Code)
			}
		}
	}
	if tl := cold.tally("anon"); tl.Turnout != 12 || tl.BallotsCast != 15 {
		t.Fatalf("tally %v", tl)
	}
	if r := cold.block(ballots[len(ballots)-1]); r.TxResults[0].Code != ledger.CodeBadToken {
		t.Fatalf("intruder: %s", r.TxResults[0].Code)
	}
}

// TestAnonymousRevokedIssuer: tokens of a revoked issuer are refused, as
// its credentials are.
func TestAnonymousRevokedIssuer(t *testing.T) {
	w := newWorld(t)
	ka := blindKey(t, "a")
	w.mustOK(w.createTx(w.anonSpec("anon", ka)))
	tok := token(t, "anon", "alice", derOf(t, ka), ka)
	w.passAll("drop-registry", &tabellav1.GovAction{Action: &tabellav1.GovAction_RevokeIssuer{RevokeIssuer: &tabellav1.RevokeIssuer{Id: "registry"}}})
	w.checkCode(t, "revoked issuer", w.anonBallot("alice", "anon", tok, 1, 0), ledger.CodeIssuerRevoked)
}

// TestAnonymousBudgetProposals: in an anonymous budget, projects are
// submitted in public with credentials (the proposal window has its own
// eligibility); the ballots are anonymous.
func TestAnonymousBudgetProposals(t *testing.T) {
	w := newWorld(t)
	ka := blindKey(t, "a")
	anon := func(id string) *tabellav1.InitiativeSpec {
		s := w.budgetSpec(id)
		s.Proposals.Review = reviewNone
		s.Proposals.GovernmentApprovals, s.Proposals.CivilSocietyApprovals = 0, 0
		s.Proposals.Eligibility = residents()
		s.Eligibility = &tabellav1.Eligibility{IssuerIds: []string{"registry"}}
		s.Secrecy = tabellav1.Secrecy_SECRECY_ANONYMOUS
		s.BlindKeys = []*tabellav1.BlindKey{attest(t, id, "registry", "registry", ka)}
		return s
	}
	bad := anon("pb-bad")
	bad.Proposals.Eligibility = nil
	w.checkCode(t, "no eligibility for submitters", w.createTx(bad), ledger.CodeInvalidField)
	w.mustOK(w.createTx(anon("pb")))
	w.checkCode(t, "a public submission", w.submitTx("bob", "pb", "playground", 60_000), ledger.CodeOK)
	w.until(w.initiative("pb").Spec.Schedule.VotingOpensAt)
	w.checkCode(t, "an anonymous ballot", w.anonBallot("dora", "pb", token(t, "pb", "dora", derOf(t, ka), ka), 1, 0), ledger.CodeOK)
	w.checkCode(t, "a credential ballot", w.ballot("bob", "pb", 1, 0), ledger.CodeWrongSecrecy)
}

// BenchmarkFinalizeBlockAnonymous executes and commits 100-ballot blocks of
// public and of anonymous ballots, with nothing verified before (a block
// the node's mempool did not see: tokens and signatures verified on every
// core first) and after PreVerify (what the API handler does: the block
// finds everything cached). The difference per ballot is the token.
func BenchmarkFinalizeBlockAnonymous(b *testing.B) {
	const per = 100
	ka := blindKey(b, "a")
	der := derOf(b, ka)
	for _, c := range []struct {
		name       string
		anon, warm bool
	}{{"public", false, false}, {"anonymous", true, false}, {"anonymous-after-preverify", true, true}} {
		b.Run(c.name, func(b *testing.B) {
			w := newWorld(b)
			spec := w.consultation("parks")
			if c.anon {
				spec = w.anonSpec("parks", ka)
			}
			spec.Schedule.VotingClosesAt = w.now.Add(10000 * time.Hour).Unix()
			w.mustOK(w.createTx(spec))
			blocks := make([][][]byte, b.N)
			for i := range blocks {
				for j := 0; j < per; j++ {
					v := fmt.Sprintf("bench-%d-%d", i, j)
					if c.anon {
						blocks[i] = append(blocks[i], w.anonBallot(v, "parks", token(b, "parks", v, der, ka), 1, uint32(j%3)))
					} else {
						blocks[i] = append(blocks[i], w.ballot(v, "parks", 1, uint32(j%3)))
					}
				}
			}
			runBlocks(b, w, blocks, c.warm)
		})
	}
}
