package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/internal/proctest"
	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// scenario is a fresh dev network driven through the tabella binary.
type scenario struct {
	t    *testing.T
	ctx  context.Context
	home string
	node string
	rpc  string
	c    *client.Client
	bin  string
}

func newScenario(t *testing.T) *scenario {
	t.Helper()
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Parallel()
	home := filepath.Join(t.TempDir(), "dev")
	ports := proctest.NewPorts(t)
	_, c := proctest.StartDev(t, home, ports)
	_, bin := proctest.Binaries(t)
	// Phases last tens of seconds of block time so that a loaded machine
	// (the scenarios run in parallel, each with its own node) still fits
	// every step in its window.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	return &scenario{t: t, ctx: ctx, home: home, node: ports.GRPCAddr(), rpc: ports.RPCAddr(), c: c, bin: bin}
}

// run runs the CLI and returns its combined output.
func (s *scenario) run(args ...string) (string, error) {
	cmd := exec.CommandContext(s.ctx, s.bin, append([]string{"--home", s.home, "--node", s.node}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ok runs the CLI and fails the test unless it succeeds.
func (s *scenario) ok(args ...string) string {
	s.t.Helper()
	out, err := s.run(args...)
	if err != nil {
		s.t.Fatalf("tabella %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// refused runs the CLI and fails the test unless it fails with the code.
func (s *scenario) refused(code ledger.Code, args ...string) {
	s.t.Helper()
	out, err := s.run(args...)
	if err == nil || !strings.Contains(out, fmt.Sprintf("(%s, code %d)", code, code)) {
		s.t.Fatalf("tabella %s: err=%v, want rejection %s:\n%s", strings.Join(args, " "), err, code, out)
	}
}

// parallel runs CLI commands concurrently (their txs share blocks).
func (s *scenario) parallel(cmds [][]string) {
	s.t.Helper()
	var wg sync.WaitGroup
	errs := make([]string, len(cmds))
	sem := make(chan struct{}, 8)
	for i, args := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if out, err := s.run(args...); err != nil {
				errs[i] = fmt.Sprintf("tabella %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			s.t.Fatal(e)
		}
	}
}

// spec writes a spec file and creates the initiative with demo-city.
func (s *scenario) create(name, yaml string) {
	s.t.Helper()
	path := filepath.Join(s.t.TempDir(), name+".yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.ok("initiative", "create", "--file", path, "--dry-run")
	s.ok("initiative", "create", "--file", path, "--organiser", "demo-city", "--key", "demo-city")
}

// person creates a key and a demo-registry credential.
func (s *scenario) person(name string, age int64, municipality string) {
	s.t.Helper()
	k, err := client.CreateKey(s.home, name)
	if err != nil {
		s.t.Fatal(err)
	}
	issuer, err := client.LoadKey(s.home, "demo-registry")
	if err != nil {
		s.t.Fatal(err)
	}
	ageAttr, _ := client.ParseAttribute("age=" + strconv.FormatInt(age, 10))
	mun, _ := client.ParseAttribute("municipality=" + municipality)
	sc, err := client.IssueCredential("tabella-dev", issuer.Private, &tabellav1.Credential{
		IssuerId: "demo-registry", VoterPublicKey: k.Public(), Attributes: []*tabellav1.Attribute{ageAttr, mun},
		IssuedAt: time.Now().Unix(), ExpiresAt: time.Now().Add(time.Hour).Unix(),
	})
	if err != nil {
		s.t.Fatal(err)
	}
	if err := client.SaveCredential(filepath.Join(s.home, "credentials", name+".json"), sc); err != nil {
		s.t.Fatal(err)
	}
}

// waitStatus polls until the initiative has the status.
func (s *scenario) waitStatus(id string, want tabellav1.InitiativeStatus) *tabellav1.Initiative {
	s.t.Helper()
	for {
		res, err := s.c.GetInitiative(s.ctx, &tabellav1.GetInitiativeRequest{Id: id})
		if err == nil && res.Initiative.Status == want {
			return res.Initiative
		}
		select {
		case <-s.ctx.Done():
			s.t.Fatalf("%s did not become %s (last: %v %v)", id, want, res.GetInitiative().GetStatus(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func contains(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Fatalf("output lacks %q:\n%s", w, out)
		}
	}
}

// TestBudgetScenarioCLI: a dozen proposals, dual review by a government and
// a civil-society party, votes within the budget, five community projects
// funded from a 250,000 EUR pot.
func TestBudgetScenarioCLI(t *testing.T) {
	s := newScenario(t)
	for i := 0; i < 13; i++ {
		s.person(fmt.Sprintf("resident-%d", i), int64(20+i), "Aarhus")
	}
	s.person("outsider", 40, "Odense")
	s.create("budget", `id: pb-2027
kind: budget
title: Aarhus neighbourhood budget 2027
budget: {total: 250_000, currency: EUR, ballot_rule: within_budget}
proposals: {review: dual, government_approvals: 1, civil_society_approvals: 1, max_per_person: 2}
ballot: {min_selections: 1, revoting: true}
schedule: {proposals_opens: now, proposals_closes: +25s, opens: +50s, closes: +70s}
eligibility:
  issuers: [demo-registry]
  rules: [age >= 16, municipality == "Aarhus"]
`)
	projects := []struct {
		id   string
		cost int
	}{
		{"playground", 60_000}, {"bike-racks", 15_000}, {"library-corner", 120_000}, {"community-garden", 70_000},
		{"benches", 25_000}, {"street-lights", 30_000}, {"mural", 10_000}, {"skate-park", 40_000},
		{"book-swap", 35_000}, {"bee-hotel", 5_000}, {"car-park", 200_000}, {"fountain", 90_000},
	}
	var cmds [][]string
	for i, p := range projects {
		cmds = append(cmds, []string{"proposal", "submit", "--initiative", "pb-2027", "--key", fmt.Sprintf("resident-%d", i/2),
			"--id", p.id, "--title", strings.ReplaceAll(p.id, "-", " "), "--summary", "A project for the neighbourhood.", "--cost", strconv.Itoa(p.cost)})
	}
	s.parallel(cmds)
	s.refused(ledger.CodeOverBudget, "proposal", "submit", "--initiative", "pb-2027", "--key", "resident-7", "--id", "stadium", "--title", "Stadium", "--cost", "300000")
	s.refused(ledger.CodeIneligible, "proposal", "submit", "--initiative", "pb-2027", "--key", "outsider", "--id", "elsewhere", "--title", "Elsewhere", "--cost", "1000")
	s.refused(ledger.CodeLimitReached, "proposal", "submit", "--initiative", "pb-2027", "--key", "resident-0", "--id", "third", "--title", "Third", "--cost", "1000")
	s.refused(ledger.CodeWrongPhase, "proposal", "review", "playground", "--initiative", "pb-2027", "--key", "city-council-admin", "--party", "city-council")

	s.waitStatus("pb-2027", tabellav1.InitiativeStatus_INITIATIVE_STATUS_REVIEW)
	// The first ten are approved by a government and a civil-society
	// party (options are numbered in the order of approval); both
	// government parties reject the car park; the fountain gets one
	// approval only.
	cmds = [][]string{
		{"proposal", "review", "car-park", "--initiative", "pb-2027", "--key", "city-council-admin", "--party", "city-council", "--reject", "--note", "Not a neighbourhood project."},
		{"proposal", "review", "car-park", "--initiative", "pb-2027", "--key", "regional-office-admin", "--party", "regional-office", "--reject"},
		{"proposal", "review", "fountain", "--initiative", "pb-2027", "--key", "regional-office-admin", "--party", "regional-office"},
	}
	for _, p := range projects[:10] {
		cmds = append(cmds,
			[]string{"proposal", "review", p.id, "--initiative", "pb-2027", "--key", "city-council-admin", "--party", "city-council"},
			[]string{"proposal", "review", p.id, "--initiative", "pb-2027", "--key", "residents-union-admin", "--party", "residents-union"})
	}
	s.parallel(cmds)
	// (A note makes it a new tx: the same bytes again would be a harmless
	// rebroadcast of the first review.)
	s.refused(ledger.CodeAlreadyReviewed, "proposal", "review", "fountain", "--initiative", "pb-2027", "--key", "regional-office-admin", "--party", "regional-office", "--note", "again")
	s.refused(ledger.CodeUnauthorized, "proposal", "review", "fountain", "--initiative", "pb-2027", "--key", "alice", "--party", "transparency-ngo")
	out := s.ok("proposal", "list", "--initiative", "pb-2027")
	contains(t, out, "car-park", "rejected", "city-council rejected (\"Not a neighbourhood project.\")", "fountain", "pending")

	s.waitStatus("pb-2027", tabellav1.InitiativeStatus_INITIATIVE_STATUS_VOTING)
	plan := [][]string{
		{"playground", "library-corner", "bike-racks", "benches", "street-lights"},
		{"playground", "library-corner", "bike-racks", "benches", "street-lights"},
		{"playground", "library-corner", "bike-racks", "benches", "street-lights"},
		{"playground", "library-corner", "bike-racks", "benches", "street-lights"},
		{"playground", "library-corner", "bike-racks", "benches", "street-lights"},
		{"playground", "bike-racks", "library-corner", "mural"},
		{"playground", "bike-racks", "community-garden", "mural"},
		{"playground", "community-garden", "mural", "skate-park"},
		{"playground", "bike-racks", "library-corner", "skate-park"},
		{"community-garden", "mural", "book-swap"},
		{"community-garden"}, {"community-garden"}, {"community-garden"},
	}
	cmds = nil
	for i, ids := range plan {
		args := []string{"vote", "--initiative", "pb-2027", "--key", fmt.Sprintf("resident-%d", i), "--no-receipt"}
		for _, id := range ids {
			args = append(args, "--option", id)
		}
		cmds = append(cmds, args)
	}
	s.parallel(cmds)
	s.refused(ledger.CodeOverBudget, "vote", "--initiative", "pb-2027", "--key", "alice", "--no-receipt",
		"--option", "playground", "--option", "library-corner", "--option", "community-garden", "--option", "bike-racks")
	if out, err := s.run("vote", "--initiative", "pb-2027", "--key", "alice", "--option", "fountain"); err == nil || !strings.Contains(out, "not an option") {
		t.Fatalf("vote for an unapproved proposal: %v\n%s", err, out)
	}

	s.waitStatus("pb-2027", tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSED)
	out = s.ok("initiative", "show", "pb-2027")
	contains(t, out,
		"lifecycle:   PROPOSALS at height", "→ REVIEW at height", "→ VOTING at height", "→ CLOSED at height",
		"5 project(s) funded for 250,000 EUR of 250,000 EUR; turnout 13",
		"car-park", "rejected", "fountain", "not approved in time")
	funded := regexp.MustCompile(`(?m)^\s+\d+\. (\S+)\s+(\d+) votes\s+([\d,]+ EUR)\s+FUNDED$`).FindAllStringSubmatch(out, -1)
	var names []string
	for _, m := range funded {
		names = append(names, m[1])
	}
	if want := []string{"playground", "bike-racks", "library-corner", "benches", "street-lights"}; !slices.Equal(names, want) {
		t.Fatalf("funded %v, want %v:\n%s", names, want, out)
	}
	if !strings.Contains(out, "4. community-garden") || strings.Contains(out, "community-garden      6 votes       70,000 EUR  FUNDED") {
		t.Fatalf("the garden ranks fourth and is not funded:\n%s", out)
	}
}

// TestElectionScenarioCLI: a seniors' council where voters and candidates
// must be 60 or over and live in Aarhus; running counts hidden; a tie for
// the last seat broken by the closing block's hash; turnout published.
func TestElectionScenarioCLI(t *testing.T) {
	s := newScenario(t)
	for name, age := range map[string]int64{"anna": 71, "bent": 64, "carl": 80, "dora": 59, "v1": 60, "v2": 75, "v3": 68} {
		s.person(name, age, "Aarhus")
	}
	s.person("erik", 66, "Odense")
	s.create("election", `id: seniors-2027
kind: election
title: Aarhus seniors' council 2027
candidacy:
  review: none
schedule: {proposals_opens: now, proposals_closes: +15s, opens: +17s, closes: +40s}
eligibility:
  issuers: [demo-registry]
  rules: [age >= 60, municipality == "Aarhus"]
result:
  seats: 2
  results_during_voting: false
`)
	s.parallel([][]string{
		{"candidate", "register", "--initiative", "seniors-2027", "--key", "anna", "--id", "anna", "--name", "Anna Holm", "--statement", "Benches at every bus stop."},
		{"candidate", "register", "--initiative", "seniors-2027", "--key", "bent", "--id", "bent", "--name", "Bent Lund"},
		{"candidate", "register", "--initiative", "seniors-2027", "--key", "carl", "--id", "carl", "--name", "Carl Friis"},
	})
	s.refused(ledger.CodeIneligible, "candidate", "register", "--initiative", "seniors-2027", "--key", "dora", "--id", "dora", "--name", "Dora Berg")
	s.refused(ledger.CodeIneligible, "candidate", "register", "--initiative", "seniors-2027", "--key", "erik", "--id", "erik", "--name", "Erik Dahl")
	s.refused(ledger.CodeLimitReached, "candidate", "register", "--initiative", "seniors-2027", "--key", "anna", "--id", "anna-2", "--name", "Anna again")
	contains(t, s.ok("candidate", "list", "--initiative", "seniors-2027"), "anna", "Anna Holm", "on the ballot as [0]")

	s.waitStatus("seniors-2027", tabellav1.InitiativeStatus_INITIATIVE_STATUS_VOTING)
	// anna 3, bent 2, carl 2: bent and carl tie for the second seat.
	s.parallel([][]string{
		{"vote", "--initiative", "seniors-2027", "--key", "v1", "--option", "anna", "--option", "bent", "--no-receipt"},
		{"vote", "--initiative", "seniors-2027", "--key", "v2", "--option", "anna", "--option", "carl", "--no-receipt"},
		{"vote", "--initiative", "seniors-2027", "--key", "v3", "--option", "anna", "--no-receipt"},
		{"vote", "--initiative", "seniors-2027", "--key", "bob", "--option", "bent", "--option", "carl"},
	})
	s.refused(ledger.CodeIneligible, "vote", "--initiative", "seniors-2027", "--key", "alice", "--option", "anna")
	s.refused(ledger.CodeSelectionCount, "vote", "--initiative", "seniors-2027", "--key", "v3", "--option", "anna", "--option", "bent", "--option", "carl")
	out := s.ok("tally", "seniors-2027")
	contains(t, out, "counts are hidden until voting closes", "turnout 4 voters")
	var js struct {
		CountsHidden bool `json:"countsHidden"`
		Tally        struct {
			Counts []string `json:"counts"`
		} `json:"tally"`
	}
	if err := json.Unmarshal([]byte(s.ok("-o", "json", "tally", "seniors-2027")), &js); err != nil || !js.CountsHidden || len(js.Tally.Counts) != 0 {
		t.Fatalf("json tally while hidden: %+v %v", js, err)
	}

	s.waitStatus("seniors-2027", tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSED)
	res, err := s.c.GetInitiative(s.ctx, &tabellav1.GetInitiativeRequest{Id: "seniors-2027"})
	if err != nil {
		t.Fatal(err)
	}
	in := res.Initiative
	// Candidacies registered in one block: their option numbers follow
	// the order of the txs in it.
	idx := func(id string) uint32 {
		i := slices.IndexFunc(in.Spec.Options, func(o *tabellav1.Option) bool { return o.Id == id })
		if i < 0 {
			t.Fatalf("no candidate %s in %v", id, in.Spec.Options)
		}
		return uint32(i)
	}
	r := in.Result
	if r.Counts[idx("anna")] != 3 || r.Counts[idx("bent")] != 2 || r.Counts[idx("carl")] != 2 || r.Turnout != 4 || len(r.TiebreakSeed) != 32 {
		t.Fatalf("result %v", r)
	}
	second := ledger.RankElection(r.Counts, r.TiebreakSeed)[1]
	if second != idx("bent") && second != idx("carl") {
		t.Fatalf("second place %d is not one of the tied candidates", second)
	}
	want := []uint32{idx("anna"), second}
	slices.Sort(want)
	if !slices.Equal(r.Winners, want) {
		t.Fatalf("elected %v, the documented tie-break gives %v", r.Winners, want)
	}
	out = s.ok("initiative", "show", "seniors-2027")
	contains(t, out, "elected "+optionIDs(in.Spec, want)+"; turnout 4",
		fmt.Sprintf("seed %x (hash of block %d)", r.TiebreakSeed, r.ClosedHeight), "ELECTED")
	if out := s.ok("tally", "seniors-2027"); !regexp.MustCompile(`anna\s+3\n`).MatchString(out) {
		t.Fatalf("tally after close:\n%s", out)
	}
}

// TestPetitionScenarioCLI: signatures, signing twice, withdrawal, the
// threshold's height, success at close; a cancelled petition refuses
// signatures.
func TestPetitionScenarioCLI(t *testing.T) {
	s := newScenario(t)
	for _, n := range []string{"p1", "p2", "p3", "p4"} {
		s.person(n, 30, "Aarhus")
	}
	s.create("petition", `id: sea-bath
kind: petition
title: Keep the harbour bath open all year
ballot: {withdrawal: true}
schedule: {opens: now, closes: +30s}
eligibility:
  issuers: [demo-registry]
  rules: [age >= 16]
result: {threshold: 3}
`)
	s.create("other", `id: ferry
kind: petition
title: A night ferry to Mols
schedule: {opens: now, closes: +1d}
eligibility: {issuers: [demo-registry]}
result: {threshold: 1000}
`)
	s.parallel([][]string{
		{"petition", "sign", "--initiative", "sea-bath", "--key", "p1", "--no-receipt"},
		{"petition", "sign", "--initiative", "sea-bath", "--key", "p2", "--no-receipt"},
	})
	out := s.ok("petition", "sign", "--initiative", "sea-bath", "--key", "p3")
	contains(t, out, "Signature recorded for sea-bath", "receipt:")
	contains(t, s.ok("tally", "sea-bath"), "3 signatures of 3 needed; threshold reached at height")
	s.refused(ledger.CodeAlreadySigned, "petition", "sign", "--initiative", "sea-bath", "--key", "p1")
	s.refused(ledger.CodeIneligible, "petition", "sign", "--initiative", "sea-bath", "--key", "carol")
	contains(t, s.ok("petition", "withdraw", "--initiative", "sea-bath", "--key", "p2"), "Withdrawn from sea-bath")
	out = s.ok("tally", "sea-bath")
	contains(t, out, "2 signatures of 3 needed; 1 withdrawn")
	s.refused(ledger.CodeNotFound, "petition", "withdraw", "--initiative", "sea-bath", "--key", "p2")
	s.refused(ledger.CodeWithdrawalDisabled, "petition", "withdraw", "--initiative", "ferry", "--key", "p1")
	out = s.ok("petition", "sign", "--initiative", "sea-bath", "--key", "p4", "--no-receipt")
	reached := regexp.MustCompile(`committed at height (\d+)`).FindStringSubmatch(out)
	if reached == nil {
		t.Fatalf("no height:\n%s", out)
	}
	// The organiser cancels the other petition; it refuses signatures.
	contains(t, s.ok("initiative", "cancel", "ferry", "--key", "demo-city", "--reason", "Merged into the harbour petition."), "Initiative ferry cancelled")
	s.refused(ledger.CodeInitiativeNotActive, "petition", "sign", "--initiative", "ferry", "--key", "p1")
	s.refused(ledger.CodeInitiativeNotActive, "initiative", "cancel", "ferry", "--key", "demo-city", "--reason", "Again.")
	s.refused(ledger.CodeUnauthorized, "initiative", "cancel", "sea-bath", "--key", "alice", "--reason", "Mine.")
	contains(t, s.ok("initiative", "show", "ferry"), "status:      CANCELLED", "cancelled:   at height", "Merged into the harbour petition.")

	s.waitStatus("sea-bath", tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSED)
	out = s.ok("initiative", "show", "sea-bath")
	contains(t, out, "result:      SUCCEEDED at close", "3 signatures, threshold 3, reached at height "+reached[1])
	// The withdrawn signature and the withdrawal are both in the ledger.
	p2, _ := client.LoadKey(s.home, "p2")
	b, err := s.c.GetBallot(s.ctx, &tabellav1.GetBallotRequest{InitiativeId: "sea-bath", Voter: p2.Public()})
	if err != nil || !b.Ballot.Withdrawn {
		t.Fatalf("p2's live record: %v %v", b, err)
	}
	if err := client.VerifyBallot("tabella-dev", "sea-bath", p2.Public(), nil, b.Ballot); err != nil {
		t.Fatalf("withdrawal record does not verify: %v", err)
	}
}

// TestConsultationScenarioCLI: option descriptions, a quorum as a share of
// a declared electorate, and a running tally hidden until close.
func TestConsultationScenarioCLI(t *testing.T) {
	s := newScenario(t)
	s.create("consultation", `id: cycle-lanes
kind: consultation
title: Which street gets a protected cycle lane first?
options:
  - {id: north, title: Nørrebrogade, description: Both directions between Nørreport and Ringgaden.}
  - {id: west, title: Vesterbrogade, description: Eastbound only.}
ballot: {min_selections: 1, max_selections: 1}
schedule: {opens: now, closes: +20s}
eligibility: {issuers: [demo-registry], rules: [age >= 16]}
result:
  quorum: 50%
  electorate: 4
  results_during_voting: false
`)
	out := s.ok("initiative", "show", "cycle-lanes")
	contains(t, out, "quorum:      50% of a declared electorate of 4 (2 voters)", "counts:      hidden until voting closes", "status:      VOTING",
		"[0] north                Nørrebrogade\n        Both directions between Nørreport and Ringgaden.")
	s.parallel([][]string{
		{"vote", "--initiative", "cycle-lanes", "--key", "alice", "--option", "west", "--no-receipt"},
		{"vote", "--initiative", "cycle-lanes", "--key", "bob", "--option", "west", "--no-receipt"},
	})
	contains(t, s.ok("tally", "cycle-lanes"), "counts are hidden until voting closes", "turnout 2 voters")
	in := s.waitStatus("cycle-lanes", tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSED)
	if !in.Result.QuorumMet || !slices.Equal(in.Result.Winners, []uint32{1}) {
		t.Fatalf("result %v", in.Result)
	}
	out = s.ok("tally", "cycle-lanes")
	contains(t, out, "winner west; turnout 2; quorum met")
	if !regexp.MustCompile(`west\s+2\n`).MatchString(out) {
		t.Fatalf("tally after close:\n%s", out)
	}
	s.refused(ledger.CodeNotOpen, "vote", "--initiative", "cycle-lanes", "--key", "carol", "--option", "north")
}
