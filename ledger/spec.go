package ledger

import (
	"crypto/sha256"
	"fmt"

	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// Kind shorthands.
const (
	kindConsultation = tabellav1.InitiativeKind_INITIATIVE_KIND_CONSULTATION
	kindBudget       = tabellav1.InitiativeKind_INITIATIVE_KIND_BUDGET
	kindPetition     = tabellav1.InitiativeKind_INITIATIVE_KIND_PETITION
	kindElection     = tabellav1.InitiativeKind_INITIATIVE_KIND_ELECTION
)

// ValidateInitiativeSpec checks an initiative spec without state. A
// rejection is INVALID_FIELD, and its Field names the offending field by
// its protobuf path (see Error.Field).
func ValidateInitiativeSpec(s *tabellav1.InitiativeSpec) error {
	if s == nil {
		return Errorf(CodeInvalidField, "initiative spec is missing")
	}
	if !ValidID(s.Id) {
		return fieldErrorf("id", "initiative id %q is not a valid id (1-%d characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit)", s.Id, MaxIDLen)
	}
	switch s.Kind {
	case kindConsultation, kindBudget, kindPetition, kindElection:
	default:
		return fieldErrorf("kind", "initiative kind %s is not supported; use CONSULTATION, BUDGET, PETITION or ELECTION", s.Kind)
	}
	if err := checkSpecText("title", "title", s.Title, MaxTitleLen, true); err != nil {
		return err
	}
	if err := checkSpecText("summary", "summary", s.Summary, MaxSummaryLen, false); err != nil {
		return err
	}
	if err := checkSpecText("document_uri", "document_uri", s.DocumentUri, MaxURILen, false); err != nil {
		return err
	}
	if s.DocumentUri != "" && len(s.DocumentSha256) != sha256.Size {
		return fieldErrorf("document_sha256", "document_sha256 must be the %d-byte SHA-256 of the document", sha256.Size)
	}
	if s.DocumentUri == "" && len(s.DocumentSha256) != 0 {
		return fieldErrorf("document_sha256", "document_sha256 is set without a document_uri")
	}
	if err := validateOptions(s); err != nil {
		return err
	}
	if err := validateBudget(s); err != nil {
		return err
	}
	if err := validateResultRule(s); err != nil {
		return err
	}
	if err := validateBallotRules(s); err != nil {
		return err
	}
	if err := validateSchedule(s); err != nil {
		return err
	}
	if err := validateProposals(s); err != nil {
		return err
	}
	if err := validateEligibility("eligibility", s.Eligibility); err != nil {
		return err
	}
	return validateSecrecy(s)
}

func checkSpecText(field, name, v string, max int, required bool) error {
	if required && v == "" {
		return fieldErrorf(field, "%s is required", name)
	}
	if len(v) > max {
		return fieldErrorf(field, "%s is %d bytes, the limit is %d", name, len(v), max)
	}
	return nil
}

func kindName(k tabellav1.InitiativeKind) string {
	const p = "INITIATIVE_KIND_"
	n := k.String()
	if len(n) > len(p) && n[:len(p)] == p {
		return n[len(p):]
	}
	return n
}

// validateOptions checks the listed options: their number for the kind,
// ids, texts and costs.
func validateOptions(s *tabellav1.InitiativeSpec) error {
	n := len(s.Options)
	switch s.Kind {
	case kindConsultation:
		if n < 2 || n > MaxOptions {
			return fieldErrorf("options", "an initiative needs 2 to %d options, this one has %d", MaxOptions, n)
		}
	case kindPetition:
		if n != 0 {
			return fieldErrorf("options", "a petition has no options; people sign it")
		}
	case kindBudget, kindElection:
		what := map[tabellav1.InitiativeKind]string{kindBudget: "projects", kindElection: "candidates"}[s.Kind]
		if s.Proposals != nil && n > 0 {
			return fieldErrorf("options", "%s are either listed by the organiser or submitted in the proposal window, not both: remove the options or the proposal window", what)
		}
		if s.Proposals == nil && n == 0 {
			return fieldErrorf("options", "a %s needs listed %s or a proposal window to collect them", kindName(s.Kind), what)
		}
		if n > MaxOptions {
			return fieldErrorf("options", "an initiative has at most %d options, this one has %d", MaxOptions, n)
		}
	}
	seen := make(map[string]struct{}, n)
	for i, o := range s.Options {
		f := fmt.Sprintf("options[%d]", i)
		if o == nil {
			return fieldErrorf(f, "option %d is empty", i)
		}
		if !ValidID(o.Id) {
			return fieldErrorf(f+".id", "option id %q is not a valid id (1-%d characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit)", o.Id, MaxIDLen)
		}
		if _, dup := seen[o.Id]; dup {
			return fieldErrorf(f+".id", "option id %q appears twice", o.Id)
		}
		seen[o.Id] = struct{}{}
		if err := checkSpecText(f+".title", "option "+o.Id+" title", o.Title, MaxTitleLen, true); err != nil {
			return err
		}
		if err := checkSpecText(f+".description", "option "+o.Id+" description", o.Description, MaxOptionDescriptionLen, false); err != nil {
			return err
		}
		if s.Kind == kindBudget {
			if o.Cost == 0 || (s.Budget != nil && o.Cost > s.Budget.Total) || o.Cost > MaxAmount {
				return fieldErrorf(f+".cost", "project %s needs a cost from 1 to the budget total", o.Id)
			}
		} else if o.Cost != 0 {
			return fieldErrorf(f+".cost", "option %s has a cost; only budget projects do", o.Id)
		}
	}
	return nil
}

func validateBudget(s *tabellav1.InitiativeSpec) error {
	b := s.Budget
	if s.Kind != kindBudget {
		if b != nil {
			return fieldErrorf("budget", "only a BUDGET initiative has a budget")
		}
		return nil
	}
	if b == nil {
		return fieldErrorf("budget", "a BUDGET initiative needs a budget")
	}
	if b.Total == 0 || b.Total > MaxAmount {
		return fieldErrorf("budget.total", "budget total must be 1 to %d", uint64(MaxAmount))
	}
	if len(b.Currency) > MaxCurrencyLen {
		return fieldErrorf("budget.currency", "currency is %d bytes, the limit is %d", len(b.Currency), MaxCurrencyLen)
	}
	for i := 0; i < len(b.Currency); i++ {
		if c := b.Currency[i]; c < 'A' || c > 'Z' {
			return fieldErrorf("budget.currency", "currency %q: use capital letters A-Z, e.g. EUR", b.Currency)
		}
	}
	switch b.BallotRule {
	case tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_WITHIN_BUDGET, tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_PROJECT_COUNT:
		if b.MinShareBp != 0 {
			return fieldErrorf("budget.min_share_bp", "min_share_bp applies only to the MIN_SHARE ballot rule")
		}
	case tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_MIN_SHARE:
		if b.MinShareBp < 1 || b.MinShareBp > BasisPoints {
			return fieldErrorf("budget.min_share_bp", "min_share_bp must be 1 to %d basis points (0.01%% to 100%%)", BasisPoints)
		}
	default:
		return fieldErrorf("budget.ballot_rule", "budget ballot rule %s is not one of WITHIN_BUDGET, PROJECT_COUNT, MIN_SHARE", b.BallotRule)
	}
	return nil
}

func validateBallotRules(s *tabellav1.InitiativeSpec) error {
	r := s.Ballot
	if s.Kind == kindPetition {
		if r.GetMinSelections() != 0 || r.GetMaxSelections() != 0 {
			return fieldErrorf("ballot.max_selections", "a petition signature selects nothing: min_selections and max_selections must be 0")
		}
		if r.GetRevotingAllowed() {
			return fieldErrorf("ballot.revoting_allowed", "people sign a petition once: revoting is not allowed")
		}
		return nil
	}
	if r == nil {
		return fieldErrorf("ballot", "ballot rules are missing")
	}
	if r.MinSelections < 1 {
		return fieldErrorf("ballot.min_selections", "min_selections must be at least 1")
	}
	listed := len(s.Options)
	switch s.Kind {
	case kindConsultation:
		if r.MinSelections > r.MaxSelections || int(r.MaxSelections) > listed {
			return fieldErrorf("ballot.max_selections", "ballot rules need 1 <= min_selections (%d) <= max_selections (%d) <= options (%d)", r.MinSelections, r.MaxSelections, listed)
		}
	case kindBudget:
		if r.MaxSelections != 0 && (r.MinSelections > r.MaxSelections || r.MaxSelections > MaxOptions) {
			return fieldErrorf("ballot.max_selections", "ballot rules need 1 <= min_selections (%d) <= max_selections (%d) <= %d, or max_selections 0 for no bound", r.MinSelections, r.MaxSelections, MaxOptions)
		}
		if s.Proposals == nil && int(r.MinSelections) > listed {
			return fieldErrorf("ballot.min_selections", "min_selections (%d) is above the number of projects (%d)", r.MinSelections, listed)
		}
	case kindElection:
		seats := s.GetResultRule().GetSeats()
		if r.MinSelections > r.MaxSelections || r.MaxSelections > seats {
			return fieldErrorf("ballot.max_selections", "an election ballot needs 1 <= min_selections (%d) <= max_selections (%d) <= seats (%d)", r.MinSelections, r.MaxSelections, seats)
		}
		if s.Proposals == nil && int(r.MinSelections) > listed {
			return fieldErrorf("ballot.min_selections", "min_selections (%d) is above the number of candidates (%d)", r.MinSelections, listed)
		}
	}
	return nil
}

func validateSchedule(s *tabellav1.InitiativeSpec) error {
	sc := s.Schedule
	if sc == nil {
		return fieldErrorf("schedule", "schedule is missing")
	}
	if sc.VotingOpensAt <= 0 {
		return fieldErrorf("schedule.voting_opens_at", "voting_opens_at must be a unix time in seconds")
	}
	if sc.VotingClosesAt <= sc.VotingOpensAt {
		return fieldErrorf("schedule.voting_closes_at", "schedule needs 0 < voting_opens_at (%d) < voting_closes_at (%d)", sc.VotingOpensAt, sc.VotingClosesAt)
	}
	if s.Proposals == nil {
		if sc.ProposalsOpensAt != 0 || sc.ProposalsClosesAt != 0 {
			return fieldErrorf("schedule.proposals_opens_at", "a proposal window needs proposal rules (proposals)")
		}
		return nil
	}
	if sc.ProposalsOpensAt <= 0 {
		return fieldErrorf("schedule.proposals_opens_at", "proposals_opens_at must be a unix time in seconds")
	}
	if sc.ProposalsClosesAt <= sc.ProposalsOpensAt {
		return fieldErrorf("schedule.proposals_closes_at", "schedule needs proposals_opens_at (%d) < proposals_closes_at (%d)", sc.ProposalsOpensAt, sc.ProposalsClosesAt)
	}
	if sc.ProposalsClosesAt > sc.VotingOpensAt {
		return fieldErrorf("schedule.voting_opens_at", "voting cannot open (%d) before the proposal window closes (%d)", sc.VotingOpensAt, sc.ProposalsClosesAt)
	}
	if r := s.Proposals.Review; (r == tabellav1.ReviewMode_REVIEW_MODE_ORGANISER || r == tabellav1.ReviewMode_REVIEW_MODE_DUAL) && sc.ProposalsClosesAt == sc.VotingOpensAt {
		return fieldErrorf("schedule.voting_opens_at", "reviewed proposals need a review window: voting must open after the proposal window closes")
	}
	return nil
}

func validateProposals(s *tabellav1.InitiativeSpec) error {
	p := s.Proposals
	if p == nil {
		return nil
	}
	if s.Kind != kindBudget && s.Kind != kindElection {
		return fieldErrorf("proposals", "only a BUDGET (projects) or an ELECTION (candidacies) has a proposal window")
	}
	switch p.Review {
	case tabellav1.ReviewMode_REVIEW_MODE_NONE, tabellav1.ReviewMode_REVIEW_MODE_ORGANISER:
		if p.GovernmentApprovals != 0 || p.CivilSocietyApprovals != 0 {
			return fieldErrorf("proposals.government_approvals", "approval counts apply only to DUAL review")
		}
	case tabellav1.ReviewMode_REVIEW_MODE_DUAL:
		if p.GovernmentApprovals < 1 || p.GovernmentApprovals > MaxParties {
			return fieldErrorf("proposals.government_approvals", "DUAL review needs 1 to %d government approvals", MaxParties)
		}
		if p.CivilSocietyApprovals < 1 || p.CivilSocietyApprovals > MaxParties {
			return fieldErrorf("proposals.civil_society_approvals", "DUAL review needs 1 to %d civil-society approvals", MaxParties)
		}
	default:
		return fieldErrorf("proposals.review", "review mode %s is not one of NONE, ORGANISER, DUAL", p.Review)
	}
	if p.MaxPerPerson > MaxOptions {
		return fieldErrorf("proposals.max_per_person", "max_per_person is at most %d", MaxOptions)
	}
	if s.Kind == kindElection && p.MaxPerPerson > 1 {
		return fieldErrorf("proposals.max_per_person", "a person stands at most once in an election")
	}
	if p.Eligibility != nil {
		return validateEligibility("proposals.eligibility", p.Eligibility)
	}
	return nil
}

func validateResultRule(s *tabellav1.InitiativeSpec) error {
	r := s.ResultRule
	if r.GetQuorum() != 0 && r.GetQuorumShareBp() != 0 {
		return fieldErrorf("result_rule.quorum_share_bp", "set either an absolute quorum or a quorum share, not both")
	}
	if r.GetQuorumShareBp() > BasisPoints {
		return fieldErrorf("result_rule.quorum_share_bp", "quorum_share_bp is at most %d (100%%)", BasisPoints)
	}
	if r.GetQuorumShareBp() != 0 && r.GetElectorate() == 0 {
		return fieldErrorf("result_rule.electorate", "a quorum share needs the electorate size")
	}
	if r.GetElectorate() > MaxElectorate {
		return fieldErrorf("result_rule.electorate", "electorate is at most %d", uint64(MaxElectorate))
	}
	if s.Kind == kindElection {
		if r.GetSeats() < 1 || r.GetSeats() > MaxSeats {
			return fieldErrorf("result_rule.seats", "an election needs 1 to %d seats", MaxSeats)
		}
	} else if r.GetSeats() != 0 {
		return fieldErrorf("result_rule.seats", "only an ELECTION has seats")
	}
	if s.Kind == kindPetition {
		if r.GetSignatureThreshold() < 1 || r.GetSignatureThreshold() > MaxAmount {
			return fieldErrorf("result_rule.signature_threshold", "a petition needs a signature threshold from 1 to %d", uint64(MaxAmount))
		}
		if r.GetQuorum() != 0 || r.GetQuorumShareBp() != 0 {
			return fieldErrorf("result_rule.quorum", "a petition has a signature threshold, not a quorum")
		}
	} else if r.GetSignatureThreshold() != 0 {
		return fieldErrorf("result_rule.signature_threshold", "only a PETITION has a signature threshold")
	}
	return nil
}

func validateEligibility(field string, e *tabellav1.Eligibility) error {
	if e == nil || len(e.IssuerIds) == 0 {
		return fieldErrorf(field+".issuer_ids", "eligibility must accept at least one credential issuer")
	}
	if len(e.IssuerIds) > MaxAcceptedIssuers {
		return fieldErrorf(field+".issuer_ids", "eligibility accepts %d issuers, the limit is %d", len(e.IssuerIds), MaxAcceptedIssuers)
	}
	seen := make(map[string]struct{}, len(e.IssuerIds))
	for i, id := range e.IssuerIds {
		f := fmt.Sprintf("%s.issuer_ids[%d]", field, i)
		if !ValidID(id) {
			return fieldErrorf(f, "eligibility issuer id %q is not a valid id (1-%d characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit)", id, MaxIDLen)
		}
		if _, dup := seen[id]; dup {
			return fieldErrorf(f, "eligibility lists issuer %q twice", id)
		}
		seen[id] = struct{}{}
	}
	if len(e.Predicates) > MaxPredicates {
		return fieldErrorf(field+".predicates", "eligibility has %d predicates, the limit is %d", len(e.Predicates), MaxPredicates)
	}
	for i, p := range e.Predicates {
		if err := ValidatePredicate(p); err != nil {
			le := err.(*Error)
			return fieldErrorf(fmt.Sprintf("%s.predicates[%d]", field, i), "%s", le.Msg)
		}
	}
	return nil
}
