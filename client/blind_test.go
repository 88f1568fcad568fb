package client

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("client-test/" + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// TestBlindTokenRoundTrip: blind, blind-sign, unblind; the token verifies
// as the ledger checks it, blinding is deterministic in the seed (so a
// later process can finish a request), and another seed or another key's
// answer is refused.
func TestBlindTokenRoundTrip(t *testing.T) {
	sk, err := GenerateBlindKey(2048)
	if err != nil {
		t.Fatal(err)
	}
	bk, err := AttestBlindKey("chain", "poll", "registry", testKey("registry"), &sk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if !VerifyBlindKeyAttestation("chain", "poll", testKey("registry").Public().(ed25519.PublicKey), bk) ||
		VerifyBlindKeyAttestation("chain", "other", testKey("registry").Public().(ed25519.PublicKey), bk) {
		t.Fatal("attestation")
	}
	voter := testKey("voter").Public().(ed25519.PublicKey)
	seed := make([]byte, BlindingSeedSize)
	if _, err := rand.Read(seed); err != nil {
		t.Fatal(err)
	}
	blinded, err := Blind("chain", "poll", bk.RsaPublicKey, voter, seed)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Blind("chain", "poll", bk.RsaPublicKey, voter, seed)
	if string(again) != string(blinded) {
		t.Fatal("blinding is not deterministic in the seed")
	}
	if strings.Contains(string(blinded), string(voter)) {
		t.Fatal("the blinded request shows the voter key")
	}
	bs, err := BlindSign(sk, blinded)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Unblind("chain", "poll", "registry", bk.RsaPublicKey, voter, seed, bs)
	if err != nil {
		t.Fatal(err)
	}
	if !ledger.VerifyToken(bk.RsaPublicKey, ledger.TokenMessage("chain", "poll", voter), tok.Signature) || tok.IssuerId != "registry" {
		t.Fatal("token does not verify")
	}
	other := append([]byte(nil), seed...)
	other[0] ^= 1
	if _, err := Unblind("chain", "poll", "registry", bk.RsaPublicKey, voter, other, bs); !errors.Is(err, ErrBlindSignature) {
		t.Fatalf("unblind with another seed: %v", err)
	}
	sk2, _ := GenerateBlindKey(2048)
	bs2, _ := BlindSign(sk2, blinded)
	if _, err := Unblind("chain", "poll", "registry", bk.RsaPublicKey, voter, seed, bs2); !errors.Is(err, ErrBlindSignature) {
		t.Fatalf("unblind another key's answer: %v", err)
	}
	if _, err := BlindSign(sk, blinded[1:]); err == nil {
		t.Fatal("signed a request of the wrong size")
	}

	// The spec file carries the registration as blind-key prints it.
	spec := "id: poll\nkind: consultation\ntitle: Poll\noptions: [{id: a, title: A}, {id: b, title: B}]\n" +
		"schedule: {opens: now, closes: +1d}\neligibility: {issuers: [registry]}\nsecrecy: anonymous\nblind_keys:\n" + BlindKeyYAML(bk)
	s, err := ParseSpec([]byte(spec), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if s.Secrecy != tabellav1.Secrecy_SECRECY_ANONYMOUS || len(s.BlindKeys) != 1 || string(s.BlindKeys[0].RsaPublicKey) != string(bk.RsaPublicKey) || string(s.BlindKeys[0].Attestation) != string(bk.Attestation) {
		t.Fatalf("parsed %v", s)
	}
	for _, c := range []struct{ spec, want string }{
		{strings.Replace(spec, "eligibility: {issuers: [registry]}", "eligibility: {issuers: [registry], rules: [age >= 16]}", 1), "line 6: an anonymous initiative has no eligibility rules"},
		{strings.Replace(spec, "secrecy: anonymous", "secrecy: anonymous_sealed", 1), "a sealed initiative needs its trustees"},
		{strings.Replace(spec, "secrecy: anonymous", "secrecy: public", 1), "line 8: blind keys apply only to an anonymous initiative"},
		{strings.Replace(spec, "secrecy: anonymous", "secrecy: secret", 1), `secrecy "secret": use one of anonymous, anonymous_sealed, public, sealed`},
		{strings.Replace(spec, "attestation: ", "attestation: not-base64-", 1), "line 11: blind_keys attestation is not base64"},
	} {
		if _, err := ParseSpec([]byte(c.spec), time.Now()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}

// TestIssueBlindOncePerPerson runs the file-based flow of the CLI: the
// issuer's key, two voters' requests, the issuer's record refusing a
// second token for one person, and the voter finishing the token.
func TestIssueBlindOncePerPerson(t *testing.T) {
	issuerHome, voterHome := t.TempDir(), t.TempDir()
	f, err := CreateBlindKey(issuerHome, "chain", "poll", "registry", testKey("registry"), 2048)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateBlindKey(issuerHome, "chain", "poll", "registry", testKey("registry"), 2048); err == nil {
		t.Fatal("a second blind key replaced the first")
	}
	a, reqA, err := NewAnonymousRequest(voterHome, "ann", "chain", "poll", f.Registration())
	if err != nil {
		t.Fatal(err)
	}
	_, reqB, err := NewAnonymousRequest(voterHome, "ann2", "chain", "poll", f.Registration())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	resp, err := IssueBlind(issuerHome, "poll", "registry", "0101901234", reqA, now)
	if err != nil {
		t.Fatal(err)
	}
	// The same request again (a lost answer) gets the same answer.
	again, err := IssueBlind(issuerHome, "poll", "registry", "0101901234", reqA, now)
	if err != nil || string(again.BlindSignature) != string(resp.BlindSignature) {
		t.Fatalf("retry: %v", err)
	}
	// Another request for the same person is refused.
	if _, err := IssueBlind(issuerHome, "poll", "registry", "0101901234", reqB, now); !errors.Is(err, ErrAlreadyIssued) {
		t.Fatalf("second token for a person: %v", err)
	}
	wrongKey := *reqB
	wrongKey.BlindKeySHA256 = make([]byte, 32)
	if _, err := IssueBlind(issuerHome, "poll", "registry", "0303901111", &wrongKey, now); err == nil || !strings.Contains(err.Error(), "another blind key") {
		t.Fatalf("request under another key: %v", err)
	}
	other := *reqB
	other.InitiativeID = "other"
	if _, err := IssueBlind(issuerHome, "poll", "registry", "0202905678", &other, now); err == nil {
		t.Fatal("signed a request for another initiative")
	}
	// The record holds no person id in the clear.
	rec, _ := os.ReadFile(IssuanceRecordPath(issuerHome, "poll", "registry"))
	if strings.Contains(string(rec), "0101901234") || strings.Count(string(rec), `"person"`) != 1 {
		t.Fatalf("record:\n%s", rec)
	}
	if n, err := IssuedCount(issuerHome, "poll", "registry"); err != nil || n != 1 {
		t.Fatalf("issued count %d %v", n, err)
	}
	if err := a.Finish(voterHome, resp); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadAnonymous(voterHome, "poll", "ann")
	if err != nil || loaded.AnonymousToken() == nil || len(loaded.BlindingSeed) != 0 {
		t.Fatalf("stored token: %v %v", loaded, err)
	}
	if !ledger.VerifyToken(f.PublicKey, ledger.TokenMessage("chain", "poll", loaded.Key().Public().(ed25519.PublicKey)), loaded.Token) {
		t.Fatal("stored token does not verify for the stored key")
	}
	if err := loaded.Finish(voterHome, resp); err == nil {
		t.Fatal("finished twice")
	}
}
