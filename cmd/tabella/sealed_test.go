package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// TestSealedScenarioCLI runs a sealed consultation on a dev node through
// the CLI: trustee keys, the key ceremony, sealed votes with a revote,
// close, decryption by three of four trustees, the result, a receipt, the
// audit and the exported record.
func TestSealedScenarioCLI(t *testing.T) {
	s := newScenario(t)
	trustees := []string{"city-council", "regional-office", "residents-union", "transparency-ngo"}
	for _, p := range trustees {
		contains(t, s.ok("trustee", "register", "--party", p, "--key", p+"-admin"), "Trustee key of "+p+" registered")
	}
	for i := range 5 {
		s.person(fmt.Sprintf("voter-%d", i), int64(30+i), "Aarhus")
	}
	s.create("sealed", `id: sealed-poll
kind: consultation
title: Which square gets the trees?
options: [{id: north, title: North square}, {id: south, title: South square}, {id: harbour, title: Harbour square}]
ballot: {min_selections: 1, max_selections: 2, revoting: true}
schedule: {opens: +45s, closes: +95s}
eligibility: {issuers: [demo-registry], rules: [age >= 16]}
secrecy: sealed
sealed:
  trustees: [city-council, regional-office, residents-union, transparency-ngo]
  deals_close: +20s
  complaints_close: +40s
`)
	contains(t, s.ok("initiative", "show", "sealed-poll"), "ceremony:    DEALING", "any 3 of the 4 trustees")
	var cmds [][]string
	for _, p := range trustees {
		cmds = append(cmds, []string{"trustee", "deal", "--initiative", "sealed-poll", "--party", p, "--key", p + "-admin"})
	}
	s.parallel(cmds)
	s.refused(ledger.CodeAlreadyExists, "trustee", "deal", "--initiative", "sealed-poll", "--party", "city-council", "--key", "city-council-admin")
	s.refused(ledger.CodeUnauthorized, "trustee", "deal", "--initiative", "sealed-poll", "--party", "city-council", "--key", "residents-union-admin")
	for _, p := range trustees {
		contains(t, s.ok("trustee", "complain", "--initiative", "sealed-poll", "--party", p, "--key", p+"-admin"), "Checked 4 deals", "No complaint")
	}

	s.waitStatus("sealed-poll", tabellav1.InitiativeStatus_INITIATIVE_STATUS_VOTING)
	contains(t, s.ok("initiative", "show", "sealed-poll"), "ceremony:    READY", "decryption:  0 of 3 shares")
	out := s.ok("vote", "--initiative", "sealed-poll", "--key", "voter-0", "--option", "north", "--option", "harbour")
	contains(t, out, "Ballot recorded for sealed-poll (sequence 1)", "sealed:", "receipt:")
	receipt := regexp.MustCompile(`receipt:\s+(\S+)`).FindStringSubmatch(out)[1]
	s.parallel([][]string{
		{"vote", "--initiative", "sealed-poll", "--key", "voter-1", "--option", "south", "--no-receipt"},
		{"vote", "--initiative", "sealed-poll", "--key", "voter-2", "--option", "harbour", "--no-receipt"},
		{"vote", "--initiative", "sealed-poll", "--key", "voter-3", "--option", "north", "--no-receipt"},
	})
	// voter-3 changes their mind: the old ciphertexts leave the tally.
	last := s.ok("vote", "--initiative", "sealed-poll", "--key", "voter-3", "--option", "harbour", "--no-receipt")
	contains(t, last, "sequence 2")
	if out, err := s.run("vote", "--initiative", "sealed-poll", "--key", "voter-4", "--option", "north", "--option", "south", "--option", "harbour"); err == nil {
		t.Fatalf("a three-option sealed ballot was cast:\n%s", out)
	}
	contains(t, s.ok("tally", "sealed-poll"), "counts are sealed", "turnout 4 voters, 5 ballots cast")
	contains(t, s.ok("ballot", "--initiative", "sealed-poll", "--voter", "voter-1"), "sealed (encrypted")
	contains(t, s.ok("receipt", "verify", receipt, "--genesis", filepath.Join(s.home, "config", "genesis.json")), "✔ Your ballot is recorded and unaltered.", "sealed (encrypted) selections")

	s.waitStatus("sealed-poll", tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSING)
	contains(t, s.ok("trustee", "decrypt", "--initiative", "sealed-poll", "--party", "regional-office", "--key", "regional-office-admin"), "1 of 3 needed shares")
	contains(t, s.ok("trustee", "decrypt", "--initiative", "sealed-poll", "--party", "transparency-ngo", "--key", "transparency-ngo-admin"), "2 of 3 needed shares")
	contains(t, s.ok("initiative", "show", "sealed-poll"), "status:      CLOSING", "decryption:  2 of 3 shares (from regional-office, transparency-ngo)")
	s.ok("trustee", "decrypt", "--initiative", "sealed-poll", "--party", "city-council", "--key", "city-council-admin")
	in := s.waitStatus("sealed-poll", tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSED)
	// north: voter-0; south: voter-1; harbour: voter-0, voter-2, voter-3.
	if !slices.Equal(in.Result.Counts, []uint64{1, 1, 3}) || !slices.Equal(in.Result.Winners, []uint32{2}) || in.Result.Turnout != 4 {
		t.Fatalf("result %v", in.Result)
	}
	contains(t, s.ok("initiative", "show", "sealed-poll"), "winner harbour")
	if out, err := s.run("trustee", "decrypt", "--initiative", "sealed-poll", "--party", "residents-union", "--key", "residents-union-admin"); err == nil || !regexp.MustCompile("is CLOSED: trustees decrypt only the closing tally").MatchString(out) {
		t.Fatalf("a fourth share: %v\n%s", err, out)
	}

	tip, err := s.c.GetChainInfo(s.ctx, &tabellav1.GetChainInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitTip(t, s.ctx, s.c, tip.Height+2)
	genesis := filepath.Join(s.home, "config", "genesis.json")
	out = s.ok("audit", "--rpc", s.rpc, "--genesis", genesis)
	contains(t, out, "Audit passed", "re-verified the proofs of 5 sealed ballots", "and 3 decryption shares", "8 key ceremony deals")
	record := filepath.Join(t.TempDir(), "record")
	s.ok("audit", "export", "--rpc", s.rpc, "--genesis", genesis, "--initiative", "sealed-poll", "--out", record)
	b, err := os.ReadFile(filepath.Join(record, "sealed.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Deals    []json.RawMessage `json:"deals"`
		Shares   []json.RawMessage `json:"shares"`
		Verified struct {
			Ballots int      `json:"ballots"`
			Counts  []uint64 `json:"counts"`
		} `json:"verified"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.Deals) != 4 || len(rec.Shares) != 3 || rec.Verified.Ballots != 4 || !slices.Equal(rec.Verified.Counts, []uint64{1, 1, 3}) {
		t.Fatalf("sealed.json: %d deals, %d shares, verified %+v", len(rec.Deals), len(rec.Shares), rec.Verified)
	}
}
