package ledger_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

const (
	kBudget      = tabellav1.InitiativeKind_INITIATIVE_KIND_BUDGET
	kElection    = tabellav1.InitiativeKind_INITIATIVE_KIND_ELECTION
	kPetition    = tabellav1.InitiativeKind_INITIATIVE_KIND_PETITION
	sScheduled   = tabellav1.InitiativeStatus_INITIATIVE_STATUS_SCHEDULED
	sProposals   = tabellav1.InitiativeStatus_INITIATIVE_STATUS_PROPOSALS
	sReview      = tabellav1.InitiativeStatus_INITIATIVE_STATUS_REVIEW
	sVoting      = tabellav1.InitiativeStatus_INITIATIVE_STATUS_VOTING
	sClosing     = tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSING
	sClosed      = tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSED
	sCancelled   = tabellav1.InitiativeStatus_INITIATIVE_STATUS_CANCELLED
	reviewDual   = tabellav1.ReviewMode_REVIEW_MODE_DUAL
	reviewNone   = tabellav1.ReviewMode_REVIEW_MODE_NONE
	reviewOrg    = tabellav1.ReviewMode_REVIEW_MODE_ORGANISER
	withinBudget = tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_WITHIN_BUDGET
)

func residents() *tabellav1.Eligibility {
	return &tabellav1.Eligibility{
		IssuerIds: []string{"registry"},
		Predicates: []*tabellav1.Predicate{
			{Attribute: "municipality", Op: tabellav1.Operator_OPERATOR_EQ, Values: []*tabellav1.AttributeValue{textVal("Aarhus")}},
			{Attribute: "age", Op: tabellav1.Operator_OPERATOR_GE, Values: []*tabellav1.AttributeValue{intVal(16)}},
		},
	}
}

func seniors() *tabellav1.Eligibility {
	return &tabellav1.Eligibility{
		IssuerIds: []string{"registry"},
		Predicates: []*tabellav1.Predicate{
			{Attribute: "age", Op: tabellav1.Operator_OPERATOR_GE, Values: []*tabellav1.AttributeValue{intVal(60)}},
			{Attribute: "municipality", Op: tabellav1.Operator_OPERATOR_EQ, Values: []*tabellav1.AttributeValue{textVal("Aarhus")}},
		},
	}
}

func senior(age int64) []*tabellav1.Attribute {
	return []*tabellav1.Attribute{intAttr("age", age), textAttr("municipality", "Aarhus")}
}

// budgetSpec is a 250,000 EUR participatory budget: proposals from now
// for 30 s with dual review until +55 s, voting until +90 s.
func (w *world) budgetSpec(id string) *tabellav1.InitiativeSpec {
	now := w.now.Unix()
	return &tabellav1.InitiativeSpec{
		Id:          id,
		Kind:        kBudget,
		Title:       "Neighbourhood budget 2027",
		Budget:      &tabellav1.Budget{Total: 250_000, Currency: "EUR", BallotRule: withinBudget},
		Proposals:   &tabellav1.Proposals{Review: reviewDual, GovernmentApprovals: 1, CivilSocietyApprovals: 1, MaxPerPerson: 2},
		Ballot:      &tabellav1.BallotRules{MinSelections: 1},
		Schedule:    &tabellav1.Schedule{ProposalsOpensAt: now, ProposalsClosesAt: now + 30, VotingOpensAt: now + 55, VotingClosesAt: now + 90},
		Eligibility: residents(),
	}
}

// electionSpec is a three-seat seniors' council: candidacies from now for
// 35 s (no review), voting from +40 s to +70 s.
func (w *world) electionSpec(id string) *tabellav1.InitiativeSpec {
	now := w.now.Unix()
	return &tabellav1.InitiativeSpec{
		Id:          id,
		Kind:        kElection,
		Title:       "Seniors' council 2027",
		Proposals:   &tabellav1.Proposals{Review: reviewNone},
		Ballot:      &tabellav1.BallotRules{MinSelections: 1, MaxSelections: 3},
		Schedule:    &tabellav1.Schedule{ProposalsOpensAt: now, ProposalsClosesAt: now + 35, VotingOpensAt: now + 40, VotingClosesAt: now + 70},
		Eligibility: seniors(),
		ResultRule:  &tabellav1.ResultRule{Seats: 3},
	}
}

// petitionSpec is a petition open now for 100 s with a threshold.
func (w *world) petitionSpec(id string, threshold uint64) *tabellav1.InitiativeSpec {
	return &tabellav1.InitiativeSpec{
		Id:          id,
		Kind:        kPetition,
		Title:       "Keep the harbour bath open all year",
		Ballot:      &tabellav1.BallotRules{WithdrawalAllowed: true},
		Schedule:    &tabellav1.Schedule{VotingOpensAt: w.now.Unix(), VotingClosesAt: w.now.Unix() + 100},
		Eligibility: residents(),
		ResultRule:  &tabellav1.ResultRule{SignatureThreshold: threshold},
	}
}

func (w *world) submitTx(voter, initiative, id string, cost uint64) []byte {
	w.t.Helper()
	tx, err := client.SubmitProposalTx(testChain, key(voter), initiative, w.cred(voter, resident(voter)...), client.Proposal{ID: id, Title: "Project " + id, Summary: "About " + id, Cost: cost})
	if err != nil {
		w.t.Fatal(err)
	}
	return tx
}

func (w *world) reviewTx(party, initiative, proposal string, approve bool) []byte {
	w.t.Helper()
	signer := party + "-admin"
	if party == "" {
		signer = "city"
	}
	tx, err := client.ReviewProposalTx(testChain, key(signer), initiative, proposal, party, approve, "")
	if err != nil {
		w.t.Fatal(err)
	}
	return tx
}

func (w *world) candidateTx(voter, initiative, id string, age int64) []byte {
	w.t.Helper()
	tx, err := client.RegisterCandidateTx(testChain, key(voter), initiative, w.cred(voter, senior(age)...), id, "Candidate "+id, "")
	if err != nil {
		w.t.Fatal(err)
	}
	return tx
}

func (w *world) seniorBallot(voter, initiative string, sel ...uint32) []byte {
	w.t.Helper()
	tx, err := client.BallotTx(testChain, key(voter), initiative, w.cred(voter, senior(70)...), sel, 1)
	if err != nil {
		w.t.Fatal(err)
	}
	return tx
}

func (w *world) signTx(voter, initiative string, seq uint64) []byte {
	w.t.Helper()
	tx, err := client.BallotTx(testChain, key(voter), initiative, w.cred(voter, resident(voter)...), nil, seq)
	if err != nil {
		w.t.Fatal(err)
	}
	return tx
}

func (w *world) withdrawTx(voter, initiative string, seq uint64) []byte {
	w.t.Helper()
	tx, err := client.WithdrawBallotTx(testChain, key(voter), initiative, seq)
	if err != nil {
		w.t.Fatal(err)
	}
	return tx
}

// code runs txs in one block and returns the first tx's code.
func (w *world) code(txs ...[]byte) ledger.Code {
	w.t.Helper()
	r := w.block(txs...)
	return r.TxResults[0].Code
}

// until commits empty blocks until the last block time is at or past t.
func (w *world) until(t int64) {
	w.t.Helper()
	for w.now.Unix() < t {
		w.block()
	}
}

func (w *world) initiative(id string) *tabellav1.Initiative {
	w.t.Helper()
	in, err := w.view().Initiative(id)
	if err != nil || in == nil {
		w.t.Fatalf("initiative %s: %v %v", id, in, err)
	}
	return in
}

func (w *world) status(id string) tabellav1.InitiativeStatus { return w.initiative(id).Status }

func (w *world) proposal(initiative, id string) *tabellav1.Proposal {
	w.t.Helper()
	p, err := w.view().Proposal(initiative, id)
	if err != nil || p == nil {
		w.t.Fatalf("proposal %s/%s: %v %v", initiative, id, p, err)
	}
	return p
}

// budgetProjects are the dozen proposals of TestBudgetScenario: id, cost,
// and the votes it will get.
var budgetProjects = []struct {
	id    string
	cost  uint64
	votes int
}{
	{"playground", 60_000, 9},
	{"bike-racks", 15_000, 8},
	{"library-corner", 120_000, 7},
	{"community-garden", 70_000, 6},
	{"benches", 25_000, 5},
	{"street-lights", 30_000, 5},
	{"mural", 10_000, 4},
	{"skate-park", 40_000, 2},
	{"book-swap", 35_000, 1},
	{"bee-hotel", 5_000, 0},
	{"car-park", 200_000, 0}, // rejected in review
	{"fountain", 90_000, 0},  // approved by one side only
}

// TestBudgetScenario runs a participatory budget end to end: a dozen
// proposals, dual review, a ballot under the budget rule, and five
// community projects funded from a 250,000 EUR pot.
func TestBudgetScenario(t *testing.T) {
	w := newWorld(t)
	spec := w.budgetSpec("pb")
	w.mustOK(w.createTx(spec))
	if s := w.status("pb"); s != sProposals {
		t.Fatalf("status %s, want PROPOSALS", s)
	}
	var subs [][]byte
	for i, p := range budgetProjects {
		subs = append(subs, w.submitTx(fmt.Sprintf("citizen-%d", i/2), "pb", p.id, p.cost))
	}
	w.mustOK(subs...)
	// A third proposal from the same citizen is over max_per_person.
	if c := w.code(w.submitTx("citizen-0", "pb", "third", 1000)); c != ledger.CodeLimitReached {
		t.Fatalf("third submission: %s", c)
	}
	// A project above the whole budget.
	if c := w.code(w.submitTx("citizen-9", "pb", "stadium", 300_000)); c != ledger.CodeOverBudget {
		t.Fatalf("expensive submission: %s", c)
	}
	// Reviews before the review window are refused.
	if c := w.code(w.reviewTx("gov-a", "pb", "playground", true)); c != ledger.CodeWrongPhase {
		t.Fatalf("early review: %s", c)
	}
	w.until(spec.Schedule.ProposalsClosesAt)
	if s := w.status("pb"); s != sReview {
		t.Fatalf("status %s, want REVIEW", s)
	}
	if c := w.code(w.submitTx("citizen-9", "pb", "late", 1000)); c != ledger.CodeWrongPhase {
		t.Fatalf("late submission: %s", c)
	}
	// The first ten are approved by a government and a civil-society
	// party, in order; the car park is rejected by both government
	// parties; the fountain gets only a government approval.
	var reviews [][]byte
	for _, p := range budgetProjects[:10] {
		reviews = append(reviews, w.reviewTx("gov-a", "pb", p.id, true))
		reviews = append(reviews, w.reviewTx("civ-b", "pb", p.id, true))
	}
	reviews = append(reviews, w.reviewTx("gov-a", "pb", "car-park", false), w.reviewTx("gov-b", "pb", "car-park", false), w.reviewTx("gov-b", "pb", "fountain", true))
	w.mustOK(reviews...)
	for i, p := range budgetProjects[:10] {
		pr := w.proposal("pb", p.id)
		if pr.Status != tabellav1.ProposalStatus_PROPOSAL_STATUS_APPROVED || pr.OptionIndex != uint32(i) {
			t.Fatalf("%s: %s option %d, want APPROVED option %d", p.id, pr.Status, pr.OptionIndex, i)
		}
	}
	if s := w.proposal("pb", "car-park").Status; s != tabellav1.ProposalStatus_PROPOSAL_STATUS_REJECTED {
		t.Fatalf("car-park is %s", s)
	}
	if s := w.proposal("pb", "fountain").Status; s != tabellav1.ProposalStatus_PROPOSAL_STATUS_PENDING {
		t.Fatalf("fountain is %s", s)
	}
	if c := w.code(w.reviewTx("civ-a", "pb", "car-park", true)); c != ledger.CodeProposalClosed {
		t.Fatalf("review of a rejected proposal: %s", c)
	}
	if c := w.code(w.reviewTx("gov-b", "pb", "fountain", true)); c != ledger.CodeAlreadyReviewed {
		t.Fatalf("second review by a party: %s", c)
	}

	w.until(spec.Schedule.VotingOpensAt)
	in := w.initiative("pb")
	if in.Status != sVoting || len(in.Spec.Options) != 10 {
		t.Fatalf("status %s with %d options, want VOTING with 10", in.Status, len(in.Spec.Options))
	}
	// Ballots, each within the budget; the i-th project gets its votes.
	sel := func(ids ...string) []uint32 {
		var out []uint32
		for _, id := range ids {
			out = append(out, uint32(slices.IndexFunc(budgetProjects, func(p struct {
				id    string
				cost  uint64
				votes int
			}) bool {
				return p.id == id
			})))
		}
		return out
	}
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
		{"community-garden"},
		{"community-garden"},
		{"community-garden"},
	}
	var ballots [][]byte
	for i, ids := range plan {
		ballots = append(ballots, w.ballot(fmt.Sprintf("voter-%d", i), "pb", 1, sel(ids...)...))
	}
	w.mustOK(ballots...)
	// Over the budget: 60k + 120k + 70k + 15k.
	if c := w.code(w.ballot("voter-99", "pb", 1, sel("playground", "library-corner", "community-garden", "bike-racks")...)); c != ledger.CodeOverBudget {
		t.Fatalf("over-budget ballot: %s", c)
	}
	// The fountain was never approved: there is no option 10.
	if c := w.code(w.ballot("voter-99", "pb", 1, 10)); c != ledger.CodeUnknownOption {
		t.Fatalf("vote for an unapproved proposal: %s", c)
	}
	tl := w.tally("pb")
	for i, p := range budgetProjects[:10] {
		if tl.Counts[i] != uint64(p.votes) {
			t.Fatalf("%s has %d votes, want %d", p.id, tl.Counts[i], p.votes)
		}
	}

	w.until(spec.Schedule.VotingClosesAt)
	in = w.initiative("pb")
	r := in.Result
	if in.Status != sClosed || r == nil {
		t.Fatalf("status %s result %v", in.Status, r)
	}
	// Ranked by votes; benches and street-lights tie at 5 and the cheaper
	// ranks first. Funded greedily: the garden (70k) no longer fits after
	// 195k and is skipped, benches and lights fill the pot exactly.
	wantRanking := sel("playground", "bike-racks", "library-corner", "community-garden", "benches", "street-lights", "mural", "skate-park", "book-swap", "bee-hotel")
	if !slices.Equal(r.Ranking, wantRanking) {
		t.Fatalf("ranking %v, want %v", r.Ranking, wantRanking)
	}
	funded := sel("playground", "bike-racks", "library-corner", "benches", "street-lights")
	slices.Sort(funded)
	if !slices.Equal(r.Winners, funded) || r.FundedTotal != 250_000 || len(r.Winners) != 5 {
		t.Fatalf("funded %v for %d, want %v for 250000", r.Winners, r.FundedTotal, funded)
	}
	if r.Turnout != uint64(len(plan)) || r.TalliedHeight != r.ClosedHeight {
		t.Fatalf("turnout %d tallied at %d closed at %d", r.Turnout, r.TalliedHeight, r.ClosedHeight)
	}
	var seen []tabellav1.InitiativeStatus
	for _, h := range in.History {
		seen = append(seen, h.Status)
	}
	if !slices.Equal(seen, []tabellav1.InitiativeStatus{sProposals, sReview, sVoting, sClosed}) {
		t.Fatalf("history %v", seen)
	}
}

// TestElectionScenario: a seniors' council with candidacies, an ineligible
// candidate, up to three selections, and a tie for the last seat broken by
// the closing block's hash.
func TestElectionScenario(t *testing.T) {
	w := newWorld(t)
	spec := w.electionSpec("council")
	w.mustOK(w.createTx(spec))
	w.mustOK(
		w.candidateTx("anna", "council", "anna", 71),
		w.candidateTx("bent", "council", "bent", 64),
		w.candidateTx("carl", "council", "carl", 80),
		w.candidateTx("dora", "council", "dora", 66),
		w.candidateTx("erik", "council", "erik", 62),
	)
	if c := w.code(w.candidateTx("finn", "council", "finn", 55)); c != ledger.CodeIneligible {
		t.Fatalf("55-year-old candidate: %s", c)
	}
	if c := w.code(w.candidateTx("anna", "council", "anna-again", 71)); c != ledger.CodeLimitReached {
		t.Fatalf("second candidacy: %s", c)
	}
	if c := w.code(w.candidateTx("gert", "council", "anna", 71)); c != ledger.CodeAlreadyExists {
		t.Fatalf("taken candidate id: %s", c)
	}
	if c := w.code(w.submitTx("gert", "council", "park", 100)); c != ledger.CodeWrongKind {
		t.Fatalf("project in an election: %s", c)
	}
	w.until(spec.Schedule.VotingOpensAt)
	if c := w.code(w.candidateTx("hans", "council", "hans", 70)); c != ledger.CodeWrongPhase {
		t.Fatalf("late candidacy: %s", c)
	}
	// anna 4, bent 3, carl 2, dora 2, erik 1: carl and dora tie for the
	// third seat.
	w.mustOK(
		w.seniorBallot("v1", "council", 0, 1, 2),
		w.seniorBallot("v2", "council", 0, 1, 3),
		w.seniorBallot("v3", "council", 0, 1, 4),
		w.seniorBallot("v4", "council", 0, 2, 3),
	)
	if c := w.code(w.seniorBallot("v5", "council", 0, 1, 2, 3)); c != ledger.CodeSelectionCount {
		t.Fatalf("four selections: %s", c)
	}
	young, _ := client.BallotTx(testChain, key("v6"), "council", w.cred("v6", senior(59)...), []uint32{0}, 1)
	if c := w.code(young); c != ledger.CodeIneligible {
		t.Fatalf("59-year-old voter: %s", c)
	}
	w.until(spec.Schedule.VotingClosesAt)
	in := w.initiative("council")
	r := in.Result
	if in.Status != sClosed || r.Turnout != 4 {
		t.Fatalf("status %s turnout %d", in.Status, r.Turnout)
	}
	closing := in.History[len(in.History)-1].Height
	if !bytes.Equal(r.TiebreakSeed, blockHash(closing)) || r.ClosedHeight != closing {
		t.Fatalf("seed %x, want the hash of closing block %d", r.TiebreakSeed, closing)
	}
	third := uint32(2) // carl
	if k2, k3 := ledger.ElectionTieKey(r.TiebreakSeed, 2), ledger.ElectionTieKey(r.TiebreakSeed, 3); bytes.Compare(k3[:], k2[:]) < 0 {
		third = 3 // dora
	}
	want := []uint32{0, 1, third}
	if !slices.Equal(r.Winners, want) {
		t.Fatalf("elected %v, want %v", r.Winners, want)
	}
	if !slices.Equal(r.Ranking[:3], []uint32{0, 1, third}) || r.Ranking[4] != 4 {
		t.Fatalf("ranking %v", r.Ranking)
	}
}

// TestElectionListedCandidates: candidates listed by the organiser, no
// candidacy window, fewer votes than seats.
func TestElectionListedCandidates(t *testing.T) {
	w := newWorld(t)
	spec := w.electionSpec("board")
	spec.Proposals = nil
	spec.Schedule = &tabellav1.Schedule{VotingOpensAt: w.now.Unix(), VotingClosesAt: w.now.Unix() + 20}
	spec.Options = []*tabellav1.Option{{Id: "a", Title: "A"}, {Id: "b", Title: "B"}, {Id: "c", Title: "C"}, {Id: "d", Title: "D"}}
	w.mustOK(w.createTx(spec))
	if c := w.code(w.candidateTx("anna", "board", "anna", 71)); c != ledger.CodeWrongKind {
		t.Fatalf("candidacy with listed candidates: %s", c)
	}
	w.mustOK(w.seniorBallot("v1", "board", 1, 3), w.seniorBallot("v2", "board", 3))
	w.until(spec.Schedule.VotingClosesAt)
	r := w.initiative("board").Result
	// Only two candidates have votes: two of the three seats are filled.
	if !slices.Equal(r.Winners, []uint32{1, 3}) || !slices.Equal(r.Ranking[:2], []uint32{3, 1}) {
		t.Fatalf("result %v", r)
	}
}

// TestPetitionScenario: signatures, signing twice, withdrawal, the height
// at which the threshold was reached, success and failure.
func TestPetitionScenario(t *testing.T) {
	w := newWorld(t)
	spec := w.petitionSpec("bath", 3)
	failing := w.petitionSpec("ferry", 5)
	failing.Ballot = nil // no withdrawal
	w.mustOK(w.createTx(spec), w.createTx(failing))
	w.mustOK(w.signTx("a", "bath", 1), w.signTx("b", "bath", 1), w.signTx("a", "ferry", 1))
	if tl := w.tally("bath"); tl.Turnout != 2 || tl.ThresholdReachedHeight != 0 {
		t.Fatalf("tally %v", tl)
	}
	w.mustOK(w.signTx("c", "bath", 1))
	reached := w.height
	if tl := w.tally("bath"); tl.ThresholdReachedHeight != reached {
		t.Fatalf("threshold reached at %d, want %d", tl.ThresholdReachedHeight, reached)
	}
	if c := w.code(w.signTx("a", "bath", 2)); c != ledger.CodeAlreadySigned {
		t.Fatalf("signing twice: %s", c)
	}
	if c := w.code(w.ballot("d", "bath", 1, 0)); c != ledger.CodeSelectionCount {
		t.Fatalf("signature with a selection: %s", c)
	}
	if c := w.code(w.withdrawTx("a", "ferry", 2)); c != ledger.CodeWithdrawalDisabled {
		t.Fatalf("withdrawal where not allowed: %s", c)
	}
	if c := w.code(w.withdrawTx("d", "bath", 2)); c != ledger.CodeNotFound {
		t.Fatalf("withdrawal without a signature: %s", c)
	}
	if c := w.code(w.withdrawTx("a", "bath", 1)); c != ledger.CodeReplay {
		t.Fatalf("withdrawal with the signature's sequence: %s", c)
	}
	// d signs, a withdraws: still at the threshold since c's block.
	w.mustOK(w.signTx("d", "bath", 1), w.withdrawTx("a", "bath", 2))
	if tl := w.tally("bath"); tl.Turnout != 3 || tl.Withdrawals != 1 || tl.ThresholdReachedHeight != reached {
		t.Fatalf("after a withdrawal: %v", tl)
	}
	b, _ := w.view().Ballot("bath", pub("a"))
	if b == nil || !b.Withdrawn || b.Sequence != 2 {
		t.Fatalf("a's live record %v", b)
	}
	if old, _ := w.view().Get(ledger.HistoryKey("bath", pub("a"), 1)); old == nil {
		t.Fatal("a's signature is not in history")
	}
	if c := w.code(w.signTx("a", "bath", 3)); c != ledger.CodeAlreadySigned {
		t.Fatalf("signing again after withdrawing: %s", c)
	}
	// b withdraws: below the threshold; e signs: reached again, later.
	w.mustOK(w.withdrawTx("b", "bath", 2))
	if tl := w.tally("bath"); tl.ThresholdReachedHeight != 0 {
		t.Fatalf("below the threshold but reached at %d", tl.ThresholdReachedHeight)
	}
	w.mustOK(w.signTx("e", "bath", 1))
	again := w.height
	w.until(spec.Schedule.VotingClosesAt)
	r := w.initiative("bath").Result
	if r.Outcome != tabellav1.ResultOutcome_RESULT_OUTCOME_SUCCEEDED || r.ThresholdReachedHeight != again || r.Turnout != 3 {
		t.Fatalf("bath result %v", r)
	}
	if c := w.code(w.withdrawTx("c", "bath", 2)); c != ledger.CodeNotOpen {
		t.Fatalf("withdrawal after close: %s", c)
	}
	r = w.initiative("ferry").Result
	if r.Outcome != tabellav1.ResultOutcome_RESULT_OUTCOME_FAILED || r.ThresholdReachedHeight != 0 || r.Turnout != 1 {
		t.Fatalf("ferry result %v", r)
	}
}

// TestConsultationQuorumShare: a quorum as a share of a declared
// electorate, rounded up.
func TestConsultationQuorumShare(t *testing.T) {
	w := newWorld(t)
	spec := w.consultation("q")
	spec.Options[0].Description = "Benches along the lake path."
	spec.ResultRule = &tabellav1.ResultRule{QuorumShareBp: 2500, Electorate: 9, HideRunningTally: true} // 2.25 -> 3 voters
	spec.Schedule.VotingClosesAt = w.now.Unix() + 20
	other := w.consultation("q2")
	other.ResultRule = &tabellav1.ResultRule{QuorumShareBp: 2500, Electorate: 9}
	other.Schedule.VotingClosesAt = w.now.Unix() + 20
	w.mustOK(w.createTx(spec), w.createTx(other))
	w.mustOK(w.ballot("a", "q", 1, 0), w.ballot("b", "q", 1, 1), w.ballot("c", "q", 1, 1), w.ballot("a", "q2", 1, 0), w.ballot("b", "q2", 1, 0))
	// The ledger counts a hidden tally like any other.
	if tl := w.tally("q"); !slices.Equal(tl.Counts, []uint64{1, 2, 0}) {
		t.Fatalf("counts %v", tl.Counts)
	}
	w.until(spec.Schedule.VotingClosesAt)
	if r := w.initiative("q").Result; !r.QuorumMet || !slices.Equal(r.Winners, []uint32{1}) {
		t.Fatalf("q result %v", r)
	}
	if r := w.initiative("q2").Result; r.QuorumMet {
		t.Fatalf("q2 met its quorum with 2 of 9 voters: %v", r)
	}
	for _, tc := range []struct {
		bp                 uint32
		electorate, turned uint64
		want               bool
	}{
		{5000, 10, 5, true}, {5000, 10, 4, false}, {5000, 11, 5, false}, {5000, 11, 6, true},
		{1, 10_000_000_000, 1_000_000, true}, {1, 10_000_000_000, 999_999, false}, {10000, 7, 7, true}, {10000, 7, 6, false},
		{3333, 3, 1, true}, {3334, 3, 1, false}, {2500, 4, 100, true},
	} {
		if got := ledger.QuorumMet(&tabellav1.ResultRule{QuorumShareBp: tc.bp, Electorate: tc.electorate}, tc.turned); got != tc.want {
			t.Errorf("quorum %d bp of %d with %d voters: %v, want %v", tc.bp, tc.electorate, tc.turned, got, tc.want)
		}
	}
}

// TestCancel: the organiser cancels with a reason; everything after is
// refused and the record stays.
func TestCancel(t *testing.T) {
	w := newWorld(t)
	spec := w.budgetSpec("pb")
	w.mustOK(w.createTx(spec), w.createTx(w.consultation("parks")))
	w.mustOK(w.submitTx("anna", "pb", "playground", 1000), w.ballot("anna", "parks", 1, 0))
	mallory, _ := client.CancelInitiativeTx(testChain, key("mallory"), "pb", "no")
	if c := w.code(mallory); c != ledger.CodeUnauthorized {
		t.Fatalf("cancel by a stranger: %s", c)
	}
	cancel, _ := client.CancelInitiativeTx(testChain, key("city"), "pb", "The council withdrew the funds.")
	cancel2, _ := client.CancelInitiativeTx(testChain, key("city"), "parks", "Replaced by a new consultation.")
	w.mustOK(cancel, cancel2)
	at := w.height
	again, _ := client.CancelInitiativeTx(testChain, key("city"), "pb", "Again.")
	for name, tx := range map[string][]byte{
		"submission": w.submitTx("bent", "pb", "library", 1000),
		"ballot":     w.ballot("bent", "parks", 1, 0),
		"revote":     w.ballot("anna", "parks", 2, 1),
		"cancel":     again,
	} {
		if c := w.code(tx); c != ledger.CodeInitiativeNotActive {
			t.Errorf("%s on a cancelled initiative: %s", name, c)
		}
	}
	w.until(spec.Schedule.VotingClosesAt + 5)
	in := w.initiative("pb")
	if in.Status != sCancelled || in.Cancellation.GetReason() != "The council withdrew the funds." || in.Cancellation.Height != at || in.Result != nil {
		t.Fatalf("cancelled initiative %v", in)
	}
	if last := in.History[len(in.History)-1]; last.Status != sCancelled || last.Height != at {
		t.Fatalf("history %v", in.History)
	}
	if w.status("parks") != sCancelled {
		t.Fatal("parks is not cancelled")
	}
	// Closed initiatives cannot be cancelled.
	short := w.consultation("short")
	short.Schedule.VotingClosesAt = w.now.Unix() + 6
	w.mustOK(w.createTx(short))
	w.block()
	late, _ := client.CancelInitiativeTx(testChain, key("city"), "short", "Too late.")
	if c := w.code(late); c != ledger.CodeInitiativeNotActive {
		t.Fatalf("cancel after close: %s", c)
	}
}

// TestOrganiserReview: with organiser review one decision settles a
// proposal; parties may not review.
func TestOrganiserReview(t *testing.T) {
	w := newWorld(t)
	spec := w.budgetSpec("pb")
	spec.Proposals = &tabellav1.Proposals{Review: reviewOrg}
	w.mustOK(w.createTx(spec))
	w.mustOK(w.submitTx("a", "pb", "one", 1000), w.submitTx("b", "pb", "two", 2000))
	w.until(spec.Schedule.ProposalsClosesAt)
	if c := w.code(w.reviewTx("gov-a", "pb", "one", true)); c != ledger.CodeUnauthorized {
		t.Fatalf("party review under organiser review: %s", c)
	}
	w.mustOK(w.reviewTx("", "pb", "two", true), w.reviewTx("", "pb", "one", false))
	if p := w.proposal("pb", "two"); p.Status != tabellav1.ProposalStatus_PROPOSAL_STATUS_APPROVED || p.OptionIndex != 0 {
		t.Fatalf("two: %v", p)
	}
	if p := w.proposal("pb", "one"); p.Status != tabellav1.ProposalStatus_PROPOSAL_STATUS_REJECTED {
		t.Fatalf("one: %v", p)
	}
}

// TestNoReviewLifecycle: without review, submissions are on the ballot at
// once and the status is SCHEDULED between the windows.
func TestNoReviewLifecycle(t *testing.T) {
	w := newWorld(t)
	spec := w.budgetSpec("pb")
	now := w.now.Unix()
	spec.Proposals = &tabellav1.Proposals{Review: reviewNone}
	spec.Schedule = &tabellav1.Schedule{ProposalsOpensAt: now + 7, ProposalsClosesAt: now + 17, VotingOpensAt: now + 27, VotingClosesAt: now + 37}
	w.mustOK(w.createTx(spec))
	want := []tabellav1.InitiativeStatus{sScheduled, sProposals, sProposals, sScheduled, sScheduled, sVoting, sVoting, sClosed}
	for i, s := range want {
		if i > 0 {
			var txs [][]byte
			if s == sProposals && i == 1 {
				txs = append(txs, w.submitTx("a", "pb", "one", 1000))
			}
			w.mustOK(txs...)
		}
		if got := w.status("pb"); got != s {
			t.Fatalf("block %d (time +%d): %s, want %s", i, w.now.Unix()-now, got, s)
		}
	}
	if p := w.proposal("pb", "one"); p.Status != tabellav1.ProposalStatus_PROPOSAL_STATUS_APPROVED {
		t.Fatalf("unreviewed proposal is %s", p.Status)
	}
}

// TestCloseSpreadsOverBlocks: 10,000 options are counted over several
// blocks, ballots stop at the closing block, and the result equals the
// counts.
func TestCloseSpreadsOverBlocks(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000-option initiatives")
	}
	w := newWorld(t)
	big := w.consultation("big")
	big.Options = nil
	for i := 0; i < ledger.MaxOptions; i++ {
		big.Options = append(big.Options, &tabellav1.Option{Id: fmt.Sprintf("o%d", i), Title: fmt.Sprintf("Option %d", i)})
	}
	big.Schedule.VotingClosesAt = w.now.Unix() + 12
	pb := w.budgetSpec("pb")
	pb.Proposals = nil
	pb.Schedule = &tabellav1.Schedule{VotingOpensAt: w.now.Unix(), VotingClosesAt: w.now.Unix() + 12}
	for i := 0; i < 3000; i++ {
		pb.Options = append(pb.Options, &tabellav1.Option{Id: fmt.Sprintf("p%d", i), Title: fmt.Sprintf("Project %d", i), Cost: uint64(1000 + i)})
	}
	w.mustOK(w.createTx(big), w.createTx(pb))
	w.mustOK(w.ballot("a", "big", 1, 9999), w.ballot("b", "big", 1, 9999, 17), w.ballot("a", "pb", 1, 2999, 5), w.ballot("b", "pb", 1, 5))
	// The closing block: both stop taking ballots; neither count fits in
	// one block's budget (10,000 + 2 * 3,000 reads).
	r := w.block(w.ballot("c", "big", 1, 3))
	if r.TxResults[0].Code != ledger.CodeNotOpen {
		t.Fatalf("ballot in the closing block: %s", r.TxResults[0].Code)
	}
	closedAt := w.height
	blocks := 1
	for w.status("big") != sClosed || w.status("pb") != sClosed {
		if s := w.status("big"); s != sClosing && s != sClosed {
			t.Fatalf("big is %s while counting", s)
		}
		w.block()
		blocks++
		if blocks > 10 {
			t.Fatal("counting does not end")
		}
	}
	want := (ledger.MaxOptions + 2*3000 + ledger.TallyReadsPerBlock - 1) / ledger.TallyReadsPerBlock
	if blocks != want {
		t.Fatalf("counted in %d blocks, want %d", blocks, want)
	}
	res := w.initiative("big").Result
	if res.ClosedHeight != closedAt || res.TalliedHeight <= closedAt || len(res.Counts) != ledger.MaxOptions || res.Counts[9999] != 2 || !slices.Equal(res.Winners, []uint32{9999}) {
		t.Fatalf("big result: closed %d tallied %d, %d counts, winners %v", res.ClosedHeight, res.TalliedHeight, len(res.Counts), res.Winners)
	}
	res = w.initiative("pb").Result
	if !slices.Equal(res.Winners, []uint32{5, 2999}) || res.FundedTotal != 1005+3999 || res.Ranking[0] != 5 {
		t.Fatalf("pb result: winners %v funded %d ranking %v", res.Winners, res.FundedTotal, res.Ranking[:3])
	}
}

// TestBudgetRules: the three ballot rules.
func TestBudgetRules(t *testing.T) {
	w := newWorld(t)
	mk := func(id string, rule tabellav1.BudgetBallotRule, share uint32, min, max uint32) *tabellav1.InitiativeSpec {
		s := w.budgetSpec(id)
		s.Proposals = nil
		s.Schedule = &tabellav1.Schedule{VotingOpensAt: w.now.Unix(), VotingClosesAt: w.now.Unix() + 100}
		s.Budget = &tabellav1.Budget{Total: 100, BallotRule: rule, MinShareBp: share}
		s.Ballot = &tabellav1.BallotRules{MinSelections: min, MaxSelections: max}
		for i, c := range []uint64{50, 30, 20, 60} {
			s.Options = append(s.Options, &tabellav1.Option{Id: fmt.Sprintf("p%d", i), Title: "P", Cost: c})
		}
		return s
	}
	w.mustOK(
		w.createTx(mk("within", withinBudget, 0, 1, 0)),
		w.createTx(mk("count", tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_PROJECT_COUNT, 0, 2, 3)),
		w.createTx(mk("share", tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_MIN_SHARE, 7500, 1, 0)),
	)
	for _, tc := range []struct {
		id   string
		sel  []uint32
		want ledger.Code
	}{
		{"within", []uint32{0, 1, 2}, ledger.CodeOK},            // 100
		{"within", []uint32{0, 3}, ledger.CodeOverBudget},       // 110
		{"within", []uint32{0, 1, 2, 3}, ledger.CodeOverBudget}, // no count bound, but 160
		{"count", []uint32{0, 3}, ledger.CodeOK},                // cost does not matter
		{"count", []uint32{0, 1, 2, 3}, ledger.CodeSelectionCount},
		{"count", []uint32{3}, ledger.CodeSelectionCount},
		{"share", []uint32{0, 1}, ledger.CodeOK},            // 80 >= 75
		{"share", []uint32{0, 2}, ledger.CodeBelowMinShare}, // 70
		{"share", []uint32{1, 2, 3}, ledger.CodeOverBudget}, // 110
		{"share", []uint32{3, 2}, ledger.CodeOK},            // 80
	} {
		v := fmt.Sprintf("v-%s-%v", tc.id, tc.sel)
		if c := w.code(w.ballot(v, tc.id, 1, tc.sel...)); c != tc.want {
			t.Errorf("%s %v: %s, want %s", tc.id, tc.sel, c, tc.want)
		}
	}
}

// TestTieBreakDeterminism: the same counts and seed give the same ranking
// whatever the order ballots came in, two ledgers agree, and the election
// tie-break really depends on the seed.
func TestTieBreakDeterminism(t *testing.T) {
	counts := []uint64{3, 5, 5, 0, 3, 5, 1}
	costs := []uint64{10, 20, 20, 5, 10, 15, 1}
	r1 := ledger.RankBudget(counts, costs)
	if !slices.Equal(r1, []uint32{5, 1, 2, 0, 4, 6, 3}) {
		t.Fatalf("budget ranking %v", r1)
	}
	seed := []byte("a block hash")
	e1 := ledger.RankElection(counts, seed)
	for i := 0; i < 20; i++ {
		if !slices.Equal(ledger.RankElection(slices.Clone(counts), slices.Clone(seed)), e1) || !slices.Equal(ledger.RankBudget(counts, costs), r1) {
			t.Fatal("a ranking changed between calls")
		}
	}
	orders := map[string]bool{}
	for i := 0; i < 64; i++ {
		r := ledger.RankElection(counts, []byte{byte(i)})
		orders[fmt.Sprint(r[:3])] = true
		if !slices.Equal(r[3:], []uint32{0, 4, 6, 3}) && !slices.Equal(r[3:], []uint32{4, 0, 6, 3}) {
			t.Fatalf("seed %d: ranking %v breaks vote order", i, r)
		}
	}
	if len(orders) < 2 {
		t.Fatal("the election tie-break does not depend on the seed")
	}

	// Through the ledger: the same ballots in two orders, in two worlds.
	results := make([]*tabellav1.Result, 2)
	for k := range results {
		w := newWorld(t)
		spec := w.electionSpec("e")
		spec.Proposals = nil
		spec.Schedule = &tabellav1.Schedule{VotingOpensAt: w.now.Unix(), VotingClosesAt: w.now.Unix() + 20}
		spec.ResultRule.Seats = 1
		spec.Ballot.MaxSelections = 1
		spec.Options = []*tabellav1.Option{{Id: "x", Title: "X"}, {Id: "y", Title: "Y"}, {Id: "z", Title: "Z"}}
		w.mustOK(w.createTx(spec))
		ballots := [][]byte{w.seniorBallot("v1", "e", 0), w.seniorBallot("v2", "e", 1), w.seniorBallot("v3", "e", 2)}
		if k == 1 {
			slices.Reverse(ballots)
		}
		w.mustOK(ballots...)
		w.until(spec.Schedule.VotingClosesAt)
		results[k] = w.initiative("e").Result
	}
	if !slices.Equal(results[0].Ranking, results[1].Ranking) || !slices.Equal(results[0].Winners, results[1].Winners) || len(results[0].Winners) != 1 {
		t.Fatalf("same ballots, different results: %v vs %v", results[0], results[1])
	}
	want := ledger.RankElection([]uint64{1, 1, 1}, results[0].TiebreakSeed)
	if !slices.Equal(results[0].Ranking, want) {
		t.Fatalf("ranking %v, the documented rule gives %v", results[0].Ranking, want)
	}
}

// TestKindRejections checks every rejection of the new kinds and
// messages: the code in CheckTx and FinalizeBlock, and that the app hash
// equals an empty block's.
func TestKindRejections(t *testing.T) {
	w := newWorld(t)
	now := w.now.Unix()
	// "pb-open": proposals open; "pb-review": in review with a pending
	// proposal; "pb-vote": voting with two approved projects; "council":
	// candidacies open; "bath": a petition with a's signature; "gone":
	// cancelled; "ended": closed.
	open := w.budgetSpec("pb-open")
	open.Schedule = &tabellav1.Schedule{ProposalsOpensAt: now, ProposalsClosesAt: now + 1000, VotingOpensAt: now + 2000, VotingClosesAt: now + 3000}
	review := w.budgetSpec("pb-review")
	review.Schedule = &tabellav1.Schedule{ProposalsOpensAt: now, ProposalsClosesAt: now + 12, VotingOpensAt: now + 1000, VotingClosesAt: now + 2000}
	vote := w.budgetSpec("pb-vote")
	vote.Proposals.Review = reviewNone
	vote.Proposals.GovernmentApprovals, vote.Proposals.CivilSocietyApprovals = 0, 0
	vote.Schedule = &tabellav1.Schedule{ProposalsOpensAt: now, ProposalsClosesAt: now + 12, VotingOpensAt: now + 12, VotingClosesAt: now + 1000}
	council := w.electionSpec("council")
	council.Schedule = &tabellav1.Schedule{ProposalsOpensAt: now, ProposalsClosesAt: now + 1000, VotingOpensAt: now + 2000, VotingClosesAt: now + 3000}
	bath := w.petitionSpec("bath", 10)
	bath.Schedule.VotingClosesAt = now + 1000
	gone := w.petitionSpec("gone", 10)
	pbGone := w.budgetSpec("pb-gone")
	ended := w.petitionSpec("ended", 10)
	ended.Schedule.VotingClosesAt = now + 12
	w.mustOK(w.createTx(open), w.createTx(review), w.createTx(vote), w.createTx(council), w.createTx(bath), w.createTx(gone), w.createTx(ended), w.createTx(pbGone))
	cancel, _ := client.CancelInitiativeTx(testChain, key("city"), "gone", "Duplicate.")
	cancelPB, _ := client.CancelInitiativeTx(testChain, key("city"), "pb-gone", "No funds.")
	w.mustOK(cancel, cancelPB, w.submitTx("a", "pb-review", "pending", 1000), w.submitTx("a", "pb-vote", "cheap", 100_000), w.submitTx("b", "pb-vote", "dear", 200_000),
		w.submitTx("c", "pb-open", "taken", 1000), w.signTx("a", "bath", 1), w.candidateTx("anna", "council", "anna", 70))
	w.block()
	for id, want := range map[string]tabellav1.InitiativeStatus{"pb-open": sProposals, "pb-review": sReview, "pb-vote": sVoting, "council": sProposals, "bath": sVoting, "gone": sCancelled, "ended": sClosed} {
		if s := w.status(id); s != want {
			t.Fatalf("%s is %s, want %s", id, s, want)
		}
	}

	sign := func(signer string, msg *tabellav1.TxBody) func(w *world) []byte {
		return func(w *world) []byte {
			tx, err := client.SignTx(testChain, key(signer), msg)
			if err != nil {
				w.t.Fatal(err)
			}
			return tx
		}
	}
	fix := func(tx []byte) func(w *world) []byte { return func(*world) []byte { return tx } }
	cancelBy := func(signer, id, reason string) func(w *world) []byte {
		return sign(signer, &tabellav1.TxBody{Msg: &tabellav1.TxBody_CancelInitiative{CancelInitiative: &tabellav1.CancelInitiative{InitiativeId: id, Reason: reason}}})
	}
	submit := func(voter, id, pid string, cost uint64, attrs []*tabellav1.Attribute) func(w *world) []byte {
		return func(w *world) []byte {
			tx, _ := client.SubmitProposalTx(testChain, key(voter), id, w.cred(voter, attrs...), client.Proposal{ID: pid, Title: "T", Cost: cost})
			return tx
		}
	}
	res := resident("x")
	cases := []rejectionCase{
		// Budgets.
		{"over-budget ballot", fix(w.ballot("v", "pb-vote", 1, 0, 1)), ledger.CodeOverBudget},
		{"vote for an unapproved proposal", fix(w.ballot("v", "pb-vote", 1, 2)), ledger.CodeUnknownOption},
		{"project costing more than the budget", submit("d", "pb-open", "castle", 250_001, res), ledger.CodeOverBudget},
		{"project without cost", submit("d", "pb-open", "free", 0, res), ledger.CodeInvalidField},
		{"project by an ineligible citizen", submit("d", "pb-open", "young", 10, []*tabellav1.Attribute{intAttr("age", 12), textAttr("municipality", "Aarhus")}), ledger.CodeIneligible},
		{"project with a taken id", submit("d", "pb-open", "taken", 10, res), ledger.CodeAlreadyExists},
		{"project in review", submit("d", "pb-review", "late", 10, res), ledger.CodeWrongPhase},
		{"project to a petition", submit("d", "bath", "p", 10, res), ledger.CodeWrongKind},
		{"project to a cancelled initiative", submit("d", "pb-gone", "p", 10, res), ledger.CodeInitiativeNotActive},
		{"review by a non-admin", fix(func() []byte {
			tx, _ := client.ReviewProposalTx(testChain, key("mallory"), "pb-review", "pending", "gov-a", true, "")
			return tx
		}()), ledger.CodeUnauthorized},
		{"review without a party", fix(w.reviewTx("", "pb-review", "pending", true)), ledger.CodeUnauthorized},
		{"review of an unknown proposal", fix(w.reviewTx("gov-a", "pb-review", "nope", true)), ledger.CodeNotFound},
		{"review during proposals", fix(w.reviewTx("gov-a", "pb-open", "taken", true)), ledger.CodeWrongPhase},
		{"review of an election without review", fix(w.reviewTx("gov-a", "council", "anna", true)), ledger.CodeWrongPhase},
		{"review with a long note", fix(func() []byte {
			tx, _ := client.ReviewProposalTx(testChain, key("gov-a-admin"), "pb-review", "pending", "gov-a", false, string(make([]byte, ledger.MaxNoteLen+1)))
			return tx
		}()), ledger.CodeInvalidField},
		// Elections.
		{"ineligible candidate", fix(w.candidateTx("old", "council", "young-one", 59)), ledger.CodeIneligible},
		{"second candidacy", fix(w.candidateTx("anna", "council", "anna-2", 70)), ledger.CodeLimitReached},
		{"candidate in a budget", fix(w.candidateTx("bo", "pb-open", "bo", 70)), ledger.CodeWrongKind},
		{"candidate without name", sign("bo", &tabellav1.TxBody{Msg: &tabellav1.TxBody_RegisterCandidate{RegisterCandidate: &tabellav1.RegisterCandidate{InitiativeId: "council", CandidateId: "bo", Credential: w.cred("bo", senior(70)...)}}}), ledger.CodeInvalidField},
		// Petitions.
		{"signing twice", fix(w.signTx("a", "bath", 2)), ledger.CodeAlreadySigned},
		{"signature with selections", fix(w.ballot("b", "bath", 1, 0)), ledger.CodeSelectionCount},
		{"withdrawal without a signature", fix(w.withdrawTx("b", "bath", 2)), ledger.CodeNotFound},
		{"withdrawal, sequence zero", fix(w.withdrawTx("a", "bath", 0)), ledger.CodeInvalidField},
		{"withdrawal where not allowed", fix(w.withdrawTx("v", "pb-vote", 2)), ledger.CodeWithdrawalDisabled},
		{"withdrawal after close", fix(w.withdrawTx("a", "ended", 2)), ledger.CodeNotOpen},
		// Cancelled and closed.
		{"signing a cancelled petition", fix(w.signTx("a", "gone", 1)), ledger.CodeInitiativeNotActive},
		{"withdrawing from a cancelled petition", fix(w.withdrawTx("a", "gone", 2)), ledger.CodeInitiativeNotActive},
		{"cancelling twice", cancelBy("city", "gone", "Again."), ledger.CodeInitiativeNotActive},
		{"cancelling a closed initiative", cancelBy("city", "ended", "Late."), ledger.CodeInitiativeNotActive},
		{"cancel by a stranger", cancelBy("mallory", "bath", "Mine now."), ledger.CodeUnauthorized},
		{"cancel without a reason", cancelBy("city", "bath", ""), ledger.CodeInvalidField},
		{"cancel an unknown initiative", cancelBy("city", "nope", "Why."), ledger.CodeNotFound},
		{"ballot in the proposal window", fix(w.ballot("v", "pb-open", 1, 0)), ledger.CodeNotOpen},
		// Specs of the new kinds.
		{"budget without a budget", func(w *world) []byte {
			s := w.budgetSpec("x1")
			s.Budget = nil
			return w.createTx(s)
		}, ledger.CodeInvalidField},
		{"budget with listed projects and proposals", func(w *world) []byte {
			s := w.budgetSpec("x2")
			s.Options = []*tabellav1.Option{{Id: "a", Title: "A", Cost: 1}}
			return w.createTx(s)
		}, ledger.CodeInvalidField},
		{"dual review asking for three government parties", func(w *world) []byte {
			s := w.budgetSpec("x3")
			s.Proposals.GovernmentApprovals = 3
			return w.createTx(s)
		}, ledger.CodeInvalidField},
		{"election with more selections than seats", func(w *world) []byte {
			s := w.electionSpec("x4")
			s.Ballot.MaxSelections = 4
			return w.createTx(s)
		}, ledger.CodeInvalidField},
		{"petition without threshold", func(w *world) []byte {
			s := w.petitionSpec("x5", 0)
			return w.createTx(s)
		}, ledger.CodeInvalidField},
		{"proposal window already closed", func(w *world) []byte {
			s := w.budgetSpec("x6")
			s.Schedule.ProposalsOpensAt, s.Schedule.ProposalsClosesAt = 1, w.now.Unix()-1
			return w.createTx(s)
		}, ledger.CodeInvalidField},
		{"quorum share without electorate", func(w *world) []byte {
			s := w.consultation("x7")
			s.ResultRule = &tabellav1.ResultRule{QuorumShareBp: 1000}
			return w.createTx(s)
		}, ledger.CodeInvalidField},
		{"proposal eligibility naming an unknown issuer", func(w *world) []byte {
			s := w.budgetSpec("x8")
			s.Proposals.Eligibility = &tabellav1.Eligibility{IssuerIds: []string{"nobody"}}
			return w.createTx(s)
		}, ledger.CodeUnknownIssuer},
	}
	for _, tc := range cases {
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
