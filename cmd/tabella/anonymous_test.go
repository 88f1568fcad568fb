package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// TestAnonymousScenarioCLI runs anonymous voting end to end through the
// CLI against a real node: the issuer's blind key, an anonymous
// initiative, requests, blind issuance (refused a second time for a
// person), tokens, ballots and a revote, a receipt that verifies, a token
// reused by another key and a credential ballot both refused by the node,
// and an audit of the chain that re-executes the anonymous ballots.
func TestAnonymousScenarioCLI(t *testing.T) {
	s := newScenario(t)
	dir := t.TempDir()
	entry := filepath.Join(dir, "blind-key.yaml")
	out := s.ok("credential", "blind-key", "--issuer-key", "demo-registry", "--issuer-id", "demo-registry",
		"--initiative", "harbour-poll", "--bits", "2048", "--out", entry)
	contains(t, out, "blind_keys:", "issuer: demo-registry", "rsa_public_key: ", "attestation: ")
	keys, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	s.create("harbour-poll", `id: harbour-poll
kind: consultation
title: Should the harbour bath stay open all year?
options:
  - {id: yes, title: "Yes"}
  - {id: no, title: "No"}
ballot: {revoting: true}
schedule: {opens: now, closes: +1d}
eligibility:
  issuers: [demo-registry]
secrecy: anonymous
`+string(keys))
	contains(t, s.ok("initiative", "show", "harbour-poll"), "anonymous tokens blind-signed by demo-registry")

	// Two residents ask for tokens; the issuer checks each off the ledger
	// and blind-signs once per person.
	responses := map[string]string{}
	for i, name := range []string{"ann", "ben"} {
		out := s.ok("credential", "request", "--initiative", "harbour-poll", "--issuer", "demo-registry", "--key", name)
		req := regexp.MustCompile(`Request written to (\S+):`).FindStringSubmatch(out)
		if req == nil {
			t.Fatalf("no request path:\n%s", out)
		}
		resp := filepath.Join(dir, name+".response.json")
		s.ok("credential", "issue-blind", "--issuer-id", "demo-registry", "--initiative", "harbour-poll",
			"--person", "01019"+strconv.Itoa(i)+"1234", "--request", req[1], "--out", resp)
		responses[name] = resp
		if name == "ann" {
			// Ann asks again with a second fresh key: refused.
			out := s.ok("credential", "request", "--initiative", "harbour-poll", "--issuer", "demo-registry", "--key", "ann-again")
			again := regexp.MustCompile(`Request written to (\S+):`).FindStringSubmatch(out)
			out, err := s.run("credential", "issue-blind", "--issuer-id", "demo-registry", "--initiative", "harbour-poll",
				"--person", "0101901234", "--request", again[1], "--out", filepath.Join(dir, "again.json"))
			if err == nil || !strings.Contains(out, "already issued") {
				t.Fatalf("second token for a person: %v\n%s", err, out)
			}
		}
	}
	// Voting before the token is finished is refused by the CLI.
	if out, err := s.run("vote", "--initiative", "harbour-poll", "--key", "ann", "--option", "yes"); err == nil || !strings.Contains(out, "no token yet") {
		t.Fatalf("vote without token: %v\n%s", err, out)
	}
	for name, resp := range responses {
		contains(t, s.ok("credential", "finalize", "--initiative", "harbour-poll", "--key", name, "--response", resp), "Token for harbour-poll stored")
	}

	out = s.ok("vote", "--initiative", "harbour-poll", "--key", "ann", "--option", "yes")
	contains(t, out, "Ballot recorded for harbour-poll (sequence 1)", "receipt:")
	receipt := regexp.MustCompile(`receipt:\s+(\S+)`).FindStringSubmatch(out)[1]
	s.ok("vote", "--initiative", "harbour-poll", "--key", "ben", "--option", "no", "--no-receipt")
	// Revoting is allowed here: ben changes his mind with the same key.
	last := s.ok("vote", "--initiative", "harbour-poll", "--key", "ben", "--option", "yes", "--no-receipt")
	contains(t, last, "sequence 2")
	contains(t, s.ok("receipt", "verify", receipt, "--genesis", filepath.Join(s.home, "config", "genesis.json")), "✔ Your ballot is recorded and unaltered.")
	// --voter takes the local name of a fresh key as well as its hex.
	contains(t, s.ok("ballot", "--initiative", "harbour-poll", "--voter", "ben"), "sequence:    2", "issuer:      demo-registry")
	tally, err := s.c.GetTally(s.ctx, &tabellav1.GetTallyRequest{InitiativeId: "harbour-poll"})
	if err != nil || tally.Tally.Turnout != 2 || tally.Tally.Counts[0] != 2 || tally.Tally.Counts[1] != 0 {
		t.Fatalf("tally %v %v", tally, err)
	}

	// The node refuses ann's token under another key, and a credential.
	ann, err := client.LoadAnonymous(s.home, "harbour-poll", "ann")
	if err != nil {
		t.Fatal(err)
	}
	_, thief, _ := ed25519.GenerateKey(rand.Reader)
	tx, err := client.AnonymousBallotTx("tabella-dev", thief, "harbour-poll", ann.AnonymousToken(), []uint32{1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Broadcast(s.ctx, tx, true); !isCode(err, ledger.CodeBadToken) {
		t.Fatalf("token under another key: %v", client.Describe(err))
	}
	alice, _ := client.LoadKey(s.home, "alice")
	cred, _ := client.LoadCredential(filepath.Join(s.home, "credentials", "alice.json"))
	tx, _ = client.BallotTx("tabella-dev", alice.Private, "harbour-poll", cred, []uint32{1}, 1)
	if _, err := s.c.Broadcast(s.ctx, tx, true); !isCode(err, ledger.CodeWrongSecrecy) {
		t.Fatalf("credential ballot: %v", client.Describe(err))
	}

	// The audit re-executes every block, anonymous ballots included.
	h := regexp.MustCompile(`committed at height (\d+)`).FindStringSubmatch(last)
	n, _ := strconv.ParseInt(h[1], 10, 64)
	waitTip(t, s.ctx, s.c, n+2)
	genesis := filepath.Join(s.home, "config", "genesis.json")
	contains(t, s.ok("audit", "--rpc", s.rpc, "--genesis", genesis), "Audit passed")
	// The election record lists the fresh keys and recounts to the tally.
	record := filepath.Join(dir, "record")
	s.ok("audit", "export", "--rpc", s.rpc, "--genesis", genesis, "--initiative", "harbour-poll", "--out", record)
	if sums := recount(t, filepath.Join(record, "ballots.csv")); sums["yes"] != 2 || sums["no"] != 0 {
		t.Fatalf("recount from ballots.csv = %v", sums)
	}
	csv, _ := os.ReadFile(filepath.Join(record, "ballots.csv"))
	if !strings.Contains(string(csv), fmt.Sprintf("%x", []byte(ann.VoterPublic))) {
		t.Fatalf("ballots.csv lacks ann's fresh key:\n%s", csv)
	}
}

func isCode(err error, code ledger.Code) bool {
	c, ok := client.RejectionCode(err)
	return ok && c == code
}
