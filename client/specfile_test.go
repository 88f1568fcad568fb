package client

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// TestExampleSpecs parses every example in docs/examples: each must be
// valid, and of its kind.
func TestExampleSpecs(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for name, kind := range map[string]tabellav1.InitiativeKind{
		"consultation.yaml": tabellav1.InitiativeKind_INITIATIVE_KIND_CONSULTATION,
		"budget.yaml":       tabellav1.InitiativeKind_INITIATIVE_KIND_BUDGET,
		"election.yaml":     tabellav1.InitiativeKind_INITIATIVE_KIND_ELECTION,
		"petition.yaml":     tabellav1.InitiativeKind_INITIATIVE_KIND_PETITION,
		"sealed.yaml":       tabellav1.InitiativeKind_INITIATIVE_KIND_BUDGET,
	} {
		b, err := os.ReadFile(filepath.Join("..", "docs", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		spec, err := ParseSpec(b, now)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if spec.Kind != kind {
			t.Errorf("%s: kind %s", name, spec.Kind)
		}
	}
}

const budgetSpec = `id: pb
kind: budget
title: Neighbourhood budget
budget:
  total: 250_000
  currency: EUR
proposals:
  review: dual
schedule:
  proposals_opens: now
  proposals_closes: +1d
  opens: +2d
  closes: +3d
eligibility:
  issuers: [registry]
`

const electionSpec = `id: council
kind: election
title: Seniors' council
candidates:
  - {id: anna, title: Anna}
  - {id: bent, title: Bent}
  - {id: carl, title: Carl}
schedule:
  opens: now
  closes: +2d
eligibility:
  issuers: [registry]
  rules: [age >= 60]
result:
  seats: 2
`

const petitionSpec = `id: bath
kind: petition
title: Harbour bath
ballot: {withdrawal: true}
schedule: {opens: now, closes: +30d}
eligibility: {issuers: [registry]}
result: {threshold: 5000}
`

func TestParseSpecKinds(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	b, err := ParseSpec([]byte(budgetSpec), now)
	if err != nil {
		t.Fatal(err)
	}
	if b.Budget.Total != 250000 || b.Budget.BallotRule != tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_WITHIN_BUDGET ||
		b.Proposals.Review != tabellav1.ReviewMode_REVIEW_MODE_DUAL || b.Proposals.GovernmentApprovals != 1 || b.Proposals.CivilSocietyApprovals != 1 ||
		b.Ballot.MinSelections != 1 || b.Ballot.MaxSelections != 0 || b.Schedule.ProposalsClosesAt != now.Add(24*time.Hour).Unix() {
		t.Fatalf("budget = %v", b)
	}
	e, err := ParseSpec([]byte(electionSpec), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Options) != 3 || e.ResultRule.Seats != 2 || e.Ballot.MaxSelections != 2 || e.Ballot.MinSelections != 1 {
		t.Fatalf("election = %v", e)
	}
	p, err := ParseSpec([]byte(petitionSpec), now)
	if err != nil {
		t.Fatal(err)
	}
	if p.ResultRule.SignatureThreshold != 5000 || !p.Ballot.WithdrawalAllowed || p.Ballot.MinSelections != 0 || p.Ballot.MaxSelections != 0 {
		t.Fatalf("petition = %v", p)
	}
	share := strings.Replace(budgetSpec, "  currency: EUR\n", "  currency: EUR\n  min_share: 62.5%\n", 1)
	if b, err := ParseSpec([]byte(share), now); err != nil || b.Budget.MinShareBp != 6250 || b.Budget.BallotRule != tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_MIN_SHARE {
		t.Fatalf("min share: %v %v", b.GetBudget(), err)
	}
	hidden := goodSpec + "result:\n  quorum: 12.5%\n  electorate: 800\n  results_during_voting: false\n"
	if c, err := ParseSpec([]byte(hidden), now); err != nil || c.ResultRule.QuorumShareBp != 1250 || c.ResultRule.Electorate != 800 || !c.ResultRule.HideRunningTally {
		t.Fatalf("consultation result: %v %v", c.GetResultRule(), err)
	}
}

// TestParseSpecLines checks that errors, the parser's and the ledger's,
// name the line they are about.
func TestParseSpecLines(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, file, want string
	}{
		{"zero budget", strings.Replace(budgetSpec, "total: 250_000", "total: 0", 1), "line 5: budget total must be"},
		{"budget missing", strings.Replace(budgetSpec, "budget:\n  total: 250_000\n  currency: EUR\n", "", 1), "line 2: a BUDGET initiative needs a budget"},
		{"bad currency", strings.Replace(budgetSpec, "currency: EUR", "currency: euro", 1), "line 6: currency \"euro\""},
		{"bad share", strings.Replace(budgetSpec, "  currency: EUR\n", "  currency: EUR\n  min_share: 150%\n", 1), "line 7: budget.min_share \"150%\""},
		{"unknown review", strings.Replace(budgetSpec, "review: dual", "review: council", 1), "line 8: proposals.review \"council\": use one of dual, none, organiser, organizer"},
		{"zero approvals", strings.Replace(budgetSpec, "review: dual", "review: dual\n  civil_society_approvals: 0", 1), "line 9: DUAL review needs 1 to"},
		{"no review window", strings.Replace(budgetSpec, "opens: +2d", "opens: +1d", 1), "line 12: reviewed proposals need a review window"},
		{"voting before proposals close", strings.Replace(budgetSpec, "proposals_closes: +1d", "proposals_closes: +5d", 1), "line 12: voting cannot open"},
		{"unknown nested field", strings.Replace(budgetSpec, "  currency: EUR", "  currancy: EUR", 1), "line 6: unknown field \"currancy\" in budget"},
		{"budget and candidates", budgetSpec + "candidates:\n  - {id: a, title: A}\n", "line 16: projects are either listed by the organiser or submitted"},
		{"listed project without cost", strings.Replace(strings.Replace(budgetSpec, "proposals:\n  review: dual\n", "projects:\n  - {id: a, title: A}\n", 1), "  proposals_opens: now\n  proposals_closes: +1d\n", "", 1), "line 8: project a needs a cost"},
		{"too many selections", electionSpec + "ballot: {max_selections: 3}\n", "line 16: an election ballot needs"},
		{"no seats", strings.Replace(electionSpec, "  seats: 2", "  quorum: 3", 1), "line 14: an election needs 1 to"},
		{"duplicate candidate", strings.Replace(electionSpec, "{id: carl, title: Carl}", "{id: anna, title: Carl}", 1), "line 7: option id \"anna\" appears twice"},
		{"candidacy and candidates", electionSpec + "candidacy: {review: none}\n", "line 4: candidates are either listed"},
		{"both candidates and options", electionSpec + "options: []\n", "give either \"options\" or \"candidates\""},
		{"petition with options", petitionSpec + "options:\n  - {id: a, title: A}\n", "line 8: a petition has no options"},
		{"petition without threshold", strings.Replace(petitionSpec, "result: {threshold: 5000}", "result: {quorum: 4}", 1), "line 7: a petition needs a signature threshold"},
		{"petition with revoting", strings.Replace(petitionSpec, "{withdrawal: true}", "{withdrawal: true, revoting: true}", 1), "line 4: people sign a petition once"},
		{"share quorum without electorate", goodSpec + "result:\n  quorum: 10%\n", "line 15: a quorum share needs the electorate"},
		{"both quorum forms", goodSpec + "result:\n  quorum: 10%\n  electorate: 10\n", ""},
		{"bad rule", strings.Replace(petitionSpec, "eligibility: {issuers: [registry]}", "eligibility:\n  issuers: [registry]\n  rules:\n    - age >= old", 1), "line 9: "},
		{"long option title", strings.Replace(goodSpec, "{id: b, title: B}", "{id: b, title: "+strings.Repeat("x", 201)+"}", 1), "line 6: option b title is 201 bytes"},
		{"bad issuer id", strings.Replace(petitionSpec, "[registry]", "[Registry]", 1), "line 6: eligibility issuer id \"Registry\""},
		{"yaml syntax", "id: x\nkind: petition\ntitle: [unclosed\n", "line "},
		{"two documents", petitionSpec + "---\nid: other\n", "line 8: one initiative per file"},
		{"kind missing", strings.Replace(petitionSpec, "kind: petition\n", "", 1), "line 1: kind is required"},
		{"not a mapping", "- just\n- a list\n", "line 1: the initiative must be a mapping"},
		{"bad boolean", strings.Replace(petitionSpec, "{withdrawal: true}", "{withdrawal: maybe}", 1), "line 4: ballot.withdrawal \"maybe\""},
		{"negative total", strings.Replace(budgetSpec, "total: 250_000", "total: -5", 1), "line 5: budget.total \"-5\""},
	} {
		_, err := ParseSpec([]byte(tc.file), now)
		if err == nil {
			if tc.want != "" {
				t.Errorf("%s: accepted, want %q", tc.name, tc.want)
			}
			continue
		}
		if tc.want == "" {
			if !strings.Contains(err.Error(), "line ") {
				t.Errorf("%s: %v has no line", tc.name, err)
			}
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}
