package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// fmtAmount renders a whole amount with thousands separators: 250,000.
func fmtAmount(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func money(n uint64, b *tabellav1.Budget) string {
	if cur := b.GetCurrency(); cur != "" {
		return fmtAmount(n) + " " + cur
	}
	return fmtAmount(n)
}

// optionID names option i of a spec, or "#i" when the spec at hand does
// not list it.
func optionID(s *tabellav1.InitiativeSpec, i uint32) string {
	if int(i) < len(s.Options) {
		return s.Options[i].Id
	}
	return "#" + strconv.FormatUint(uint64(i), 10)
}

func optionIDs(s *tabellav1.InitiativeSpec, idx []uint32) string {
	names := make([]string, len(idx))
	for i, o := range idx {
		names[i] = optionID(s, o)
	}
	return strings.Join(names, ", ")
}

func kindOf(in *tabellav1.Initiative) tabellav1.InitiativeKind { return in.GetSpec().GetKind() }

// scheduleText describes an initiative's windows in block time.
func scheduleText(s *tabellav1.InitiativeSpec) string {
	sc := s.Schedule
	var parts []string
	if s.Proposals != nil {
		what := "proposals"
		if s.Kind == tabellav1.InitiativeKind_INITIATIVE_KIND_ELECTION {
			what = "candidacies"
		}
		parts = append(parts, fmt.Sprintf("%s %s → %s", what, fmtUnix(sc.ProposalsOpensAt), fmtUnix(sc.ProposalsClosesAt)))
		if r := s.Proposals.Review; r == tabellav1.ReviewMode_REVIEW_MODE_DUAL || r == tabellav1.ReviewMode_REVIEW_MODE_ORGANISER {
			parts = append(parts, fmt.Sprintf("review → %s", fmtUnix(sc.VotingOpensAt)))
		}
	}
	what := "voting"
	if s.Kind == tabellav1.InitiativeKind_INITIATIVE_KIND_PETITION {
		what = "signing"
	}
	parts = append(parts, fmt.Sprintf("%s %s → %s", what, fmtUnix(sc.VotingOpensAt), fmtUnix(sc.VotingClosesAt)))
	return strings.Join(parts, "; ") + " (block time)"
}

func ballotText(s *tabellav1.InitiativeSpec) string {
	b := s.Ballot
	var parts []string
	switch s.Kind {
	case tabellav1.InitiativeKind_INITIATIVE_KIND_PETITION:
		parts = append(parts, "sign once")
	case tabellav1.InitiativeKind_INITIATIVE_KIND_BUDGET:
		if b.MaxSelections == 0 {
			parts = append(parts, fmt.Sprintf("choose at least %d project(s)", b.MinSelections))
		} else {
			parts = append(parts, fmt.Sprintf("choose %d to %d projects", b.MinSelections, b.MaxSelections))
		}
		switch s.Budget.BallotRule {
		case tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_WITHIN_BUDGET:
			parts = append(parts, "costing at most the budget")
		case tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_MIN_SHARE:
			parts = append(parts, fmt.Sprintf("costing at least %s of the budget and at most all of it", ledger.FormatBasisPoints(s.Budget.MinShareBp)))
		}
	default:
		parts = append(parts, fmt.Sprintf("choose %d to %d", b.GetMinSelections(), b.GetMaxSelections()))
	}
	if s.Kind != tabellav1.InitiativeKind_INITIATIVE_KIND_PETITION {
		parts = append(parts, "revoting "+map[bool]string{true: "allowed", false: "not allowed"}[b.GetRevotingAllowed()])
	}
	if b.GetWithdrawalAllowed() {
		parts = append(parts, "withdrawal allowed")
	}
	return strings.Join(parts, "; ")
}

func eligibilityText(e *tabellav1.Eligibility) string {
	var rules []string
	for _, p := range e.Predicates {
		rules = append(rules, ledger.FormatPredicate(p))
	}
	s := "credentials from " + strings.Join(e.IssuerIds, ", ")
	if len(rules) > 0 {
		s += "; " + strings.Join(rules, " and ")
	}
	return s
}

func reviewText(p *tabellav1.Proposals) string {
	switch p.Review {
	case tabellav1.ReviewMode_REVIEW_MODE_DUAL:
		return fmt.Sprintf("reviewed by the consortium: %d government and %d civil-society approval(s)", p.GovernmentApprovals, p.CivilSocietyApprovals)
	case tabellav1.ReviewMode_REVIEW_MODE_ORGANISER:
		return "reviewed by the organiser"
	}
	return "no review: every submission is on the ballot"
}

func quorumText(r *tabellav1.ResultRule) string {
	switch {
	case r.GetQuorumShareBp() > 0:
		need := (r.Electorate*uint64(r.QuorumShareBp) + ledger.BasisPoints - 1) / ledger.BasisPoints
		return fmt.Sprintf("%s of a declared electorate of %s (%s voters)", ledger.FormatBasisPoints(r.QuorumShareBp), fmtAmount(r.Electorate), fmtAmount(need))
	case r.GetQuorum() > 0:
		return fmt.Sprintf("%s voters", fmtAmount(r.Quorum))
	}
	return ""
}

// printInitiative prints an initiative: rules, lifecycle, options,
// proposals (when given) and result. tally may be nil.
func printInitiative(w io.Writer, in *tabellav1.Initiative, tally *tabellav1.Tally, proposals []*tabellav1.Proposal, moreProposals bool) {
	s := in.Spec
	fmt.Fprintf(w, "%s — %s\n", s.Id, s.Title)
	kind := trimEnum(s.Kind.String())
	switch s.Kind {
	case tabellav1.InitiativeKind_INITIATIVE_KIND_BUDGET:
		kind += " of " + money(s.Budget.Total, s.Budget)
	case tabellav1.InitiativeKind_INITIATIVE_KIND_ELECTION:
		kind += fmt.Sprintf(" of %d seat(s)", s.ResultRule.GetSeats())
	case tabellav1.InitiativeKind_INITIATIVE_KIND_PETITION:
		kind += fmt.Sprintf(" needing %s signatures", fmtAmount(s.ResultRule.GetSignatureThreshold()))
	}
	fmt.Fprintf(w, "  kind:        %s, by organiser %s\n", kind, in.OrganiserId)
	fmt.Fprintf(w, "  status:      %s\n", trimEnum(in.Status.String()))
	fmt.Fprintf(w, "  schedule:    %s\n", scheduleText(s))
	var steps []string
	for _, h := range in.History {
		steps = append(steps, fmt.Sprintf("%s at height %d (%s)", trimEnum(h.Status.String()), h.Height, fmtUnix(h.Time)))
	}
	if len(steps) > 0 {
		fmt.Fprintf(w, "  lifecycle:   %s\n", strings.Join(steps, " → "))
	}
	if cx := in.Cancellation; cx != nil {
		fmt.Fprintf(w, "  cancelled:   at height %d (%s): %s\n", cx.Height, fmtUnix(cx.Time), cx.Reason)
	}
	if s.Summary != "" {
		fmt.Fprintf(w, "  summary:     %s\n", s.Summary)
	}
	if s.DocumentUri != "" {
		fmt.Fprintf(w, "  document:    %s (sha256 %x)\n", s.DocumentUri, s.DocumentSha256)
	}
	fmt.Fprintf(w, "  ballot:      %s\n", ballotText(s))
	if ledger.Anonymous(s) {
		fmt.Fprintf(w, "  eligibility: anonymous tokens blind-signed by %s, each checking eligibility itself (tabella credential request)\n", strings.Join(s.Eligibility.IssuerIds, ", "))
		fmt.Fprintf(w, "  secrecy:     anonymous: a ballot is signed by a fresh key the issuer cannot link to the person\n")
	} else {
		fmt.Fprintf(w, "  eligibility: %s\n", eligibilityText(s.Eligibility))
	}
	if p := s.Proposals; p != nil {
		what := "proposals:  "
		if s.Kind == tabellav1.InitiativeKind_INITIATIVE_KIND_ELECTION {
			what = "candidacies:"
		}
		line := reviewText(p)
		if p.MaxPerPerson > 0 && s.Kind != tabellav1.InitiativeKind_INITIATIVE_KIND_ELECTION {
			line += fmt.Sprintf("; at most %d per person", p.MaxPerPerson)
		}
		if tally != nil {
			line += fmt.Sprintf("; %d submitted, %d on the ballot", tally.Proposals, tally.OptionCount)
		}
		fmt.Fprintf(w, "  %s %s\n", what, line)
		if p.Eligibility != nil {
			fmt.Fprintf(w, "  submitters:  %s\n", eligibilityText(p.Eligibility))
		}
	}
	if q := quorumText(s.ResultRule); q != "" {
		fmt.Fprintf(w, "  quorum:      %s\n", q)
	}
	if s.ResultRule.GetHideRunningTally() {
		fmt.Fprintf(w, "  counts:      hidden until voting closes\n")
	}
	if len(s.Options) > 0 {
		fmt.Fprintln(w, "  options:")
		for i, o := range s.Options {
			if s.Kind == tabellav1.InitiativeKind_INITIATIVE_KIND_BUDGET {
				fmt.Fprintf(w, "    [%d] %-20s %-36s %16s\n", i, o.Id, o.Title, money(o.Cost, s.Budget))
			} else {
				fmt.Fprintf(w, "    [%d] %-20s %s\n", i, o.Id, o.Title)
			}
			if o.Description != "" {
				fmt.Fprintf(w, "        %s\n", o.Description)
			}
		}
	}
	if len(proposals) > 0 {
		fmt.Fprintln(w, "  submissions:")
		for _, p := range proposals {
			printProposalLine(w, s, in.Status, p)
		}
		if moreProposals {
			fmt.Fprintf(w, "    ... (tabella proposal list --initiative %s shows them all)\n", s.Id)
		}
	}
	if r := in.Result; r != nil {
		printResult(w, s, r)
	} else if in.Status == tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSING {
		fmt.Fprintln(w, "  result:      voting has closed; the count is being completed over the next blocks")
	}
}

// proposalState describes a proposal's status, including one still
// pending after the review window.
func proposalState(st tabellav1.InitiativeStatus, p *tabellav1.Proposal) string {
	switch p.Status {
	case tabellav1.ProposalStatus_PROPOSAL_STATUS_APPROVED:
		return fmt.Sprintf("on the ballot as [%d]", p.OptionIndex)
	case tabellav1.ProposalStatus_PROPOSAL_STATUS_REJECTED:
		return "rejected"
	}
	switch st {
	case tabellav1.InitiativeStatus_INITIATIVE_STATUS_VOTING, tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSING, tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSED:
		return "not approved in time"
	}
	return "pending"
}

func reviewsText(p *tabellav1.Proposal) string {
	var rs []string
	for _, r := range p.Reviews {
		who := r.PartyId
		if who == "" {
			who = "organiser"
		}
		v := map[bool]string{true: "approved", false: "rejected"}[r.Approve]
		if r.Note != "" {
			v += fmt.Sprintf(" (%q)", r.Note)
		}
		rs = append(rs, who+" "+v)
	}
	return strings.Join(rs, ", ")
}

func printProposalLine(w io.Writer, s *tabellav1.InitiativeSpec, st tabellav1.InitiativeStatus, p *tabellav1.Proposal) {
	cost := ""
	if s.Kind == tabellav1.InitiativeKind_INITIATIVE_KIND_BUDGET {
		cost = money(p.Cost, s.Budget)
	}
	line := fmt.Sprintf("    %-20s %-36s %16s  %s", p.Id, p.Title, cost, proposalState(st, p))
	if r := reviewsText(p); r != "" {
		line += "; " + r
	}
	fmt.Fprintln(w, line)
}

func printResult(w io.Writer, s *tabellav1.InitiativeSpec, r *tabellav1.Result) {
	quorum := map[bool]string{true: "met", false: "NOT met"}[r.QuorumMet]
	counted := ""
	if r.TalliedHeight > r.ClosedHeight {
		counted = fmt.Sprintf(" (counted by height %d)", r.TalliedHeight)
	}
	switch s.Kind {
	case tabellav1.InitiativeKind_INITIATIVE_KIND_PETITION:
		if r.Outcome == tabellav1.ResultOutcome_RESULT_OUTCOME_SUCCEEDED {
			fmt.Fprintf(w, "  result:      SUCCEEDED at close (height %d): %s signatures, threshold %s, reached at height %d\n", r.ClosedHeight, fmtAmount(r.Turnout), fmtAmount(s.ResultRule.GetSignatureThreshold()), r.ThresholdReachedHeight)
		} else {
			fmt.Fprintf(w, "  result:      FAILED at close (height %d): %s signatures, threshold %s\n", r.ClosedHeight, fmtAmount(r.Turnout), fmtAmount(s.ResultRule.GetSignatureThreshold()))
		}
	case tabellav1.InitiativeKind_INITIATIVE_KIND_BUDGET:
		fmt.Fprintf(w, "  result:      closed at height %d%s: %d project(s) funded for %s of %s; turnout %d; quorum %s\n", r.ClosedHeight, counted, len(r.Winners), money(r.FundedTotal, s.Budget), money(s.Budget.Total, s.Budget), r.Turnout, quorum)
		fmt.Fprintln(w, "  ranking (most votes first; on equal votes the cheaper, then the lower index):")
		funded := map[uint32]bool{}
		for _, i := range r.Winners {
			funded[i] = true
		}
		for rank, i := range r.Ranking {
			cost := uint64(0)
			if int(i) < len(s.Options) {
				cost = s.Options[i].Cost
			}
			mark := ""
			if funded[i] {
				mark = "FUNDED"
			}
			fmt.Fprintf(w, "    %3d. %-20s %8d votes %16s  %s\n", rank+1, optionID(s, i), r.Counts[i], money(cost, s.Budget), mark)
		}
	case tabellav1.InitiativeKind_INITIATIVE_KIND_ELECTION:
		elected := "nobody"
		if len(r.Winners) > 0 {
			elected = optionIDs(s, r.Winners)
		}
		fmt.Fprintf(w, "  result:      closed at height %d%s: elected %s; turnout %d; quorum %s\n", r.ClosedHeight, counted, elected, r.Turnout, quorum)
		fmt.Fprintf(w, "  tie-break:   among equal votes, the lower SHA-256(seed || index) first; seed %x (hash of block %d)\n", r.TiebreakSeed, r.ClosedHeight)
		won := map[uint32]bool{}
		for _, i := range r.Winners {
			won[i] = true
		}
		for rank, i := range r.Ranking {
			mark := ""
			if won[i] {
				mark = "ELECTED"
			}
			fmt.Fprintf(w, "    %3d. %-20s %8d votes  %s\n", rank+1, optionID(s, i), r.Counts[i], mark)
		}
	default:
		winner := "none"
		if len(r.Winners) > 0 {
			winner = optionIDs(s, r.Winners)
			if len(r.Winners) > 1 {
				winner += " (tie)"
			}
		}
		fmt.Fprintf(w, "  result:      closed at height %d%s: winner %s; turnout %d; quorum %s\n", r.ClosedHeight, counted, winner, r.Turnout, quorum)
	}
}

func printTally(w io.Writer, s *tabellav1.InitiativeSpec, res *tabellav1.GetTallyResponse) {
	t := res.Tally
	fmt.Fprintf(w, "%s — %s (%s, height %d)\n", s.Id, s.Title, trimEnum(res.Status.String()), res.Height)
	switch {
	case s.Kind == tabellav1.InitiativeKind_INITIATIVE_KIND_PETITION:
		fmt.Fprintf(w, "  %s signatures of %s needed", fmtAmount(t.Turnout), fmtAmount(s.ResultRule.GetSignatureThreshold()))
		if t.ThresholdReachedHeight > 0 {
			fmt.Fprintf(w, "; threshold reached at height %d", t.ThresholdReachedHeight)
		}
		fmt.Fprintf(w, "; %d withdrawn\n", t.Withdrawals)
	case res.CountsHidden:
		fmt.Fprintln(w, "  counts are hidden until voting closes (results_during_voting: false)")
	case ledger.Sealed(s) && res.Result == nil:
		sum := sha256.Sum256(t.Encrypted)
		fmt.Fprintf(w, "  counts are sealed: the ballots are added up encrypted (%d bytes, sha256 %x…);\n  the trustees decrypt only the closing tally (tabella initiative show %s)\n", len(t.Encrypted), sum[:8], s.Id)
	default:
		for i, n := range t.Counts {
			fmt.Fprintf(w, "  %-20s %8d\n", optionID(s, uint32(i)), n)
		}
	}
	if s.Kind != tabellav1.InitiativeKind_INITIATIVE_KIND_PETITION {
		fmt.Fprintf(w, "  turnout %d voters, %d ballots cast (revotes included)", t.Turnout, t.BallotsCast)
		if t.Withdrawals > 0 {
			fmt.Fprintf(w, ", %d withdrawn", t.Withdrawals)
		}
		fmt.Fprintln(w)
	}
	if res.Result != nil {
		printResult(w, s, res.Result)
	}
}

// printSealed shows a sealed initiative's trustees, key ceremony and
// decryption progress.
func printSealed(w io.Writer, s *tabellav1.InitiativeSpec, sd *tabellav1.GetSealedResponse) {
	st := sd.State
	ids := s.Sealed.GetTrusteePartyIds()
	fmt.Fprintf(w, "  secrecy:     sealed: ballots are encrypted to the trustees' joint key; any %d of the %d trustees (%s) decrypt the closing tally, fewer learn nothing\n",
		st.Threshold, len(st.TrusteeKeys), strings.Join(ids, ", "))
	name := func(ix []uint32) string {
		var out []string
		for _, i := range ix {
			if int(i) >= 1 && int(i) <= len(ids) {
				out = append(out, ids[i-1])
			}
		}
		if len(out) == 0 {
			return "none"
		}
		return strings.Join(out, ", ")
	}
	switch st.Status {
	case tabellav1.CeremonyStatus_CEREMONY_STATUS_DEALING:
		fmt.Fprintf(w, "  ceremony:    DEALING: deals until %s (in: %s), complaints until %s (upheld against: %s)\n",
			fmtUnix(s.Sealed.DealsCloseAt), name(st.Dealt), fmtUnix(s.Sealed.ComplaintsCloseAt), name(st.Disqualified))
	case tabellav1.CeremonyStatus_CEREMONY_STATUS_READY:
		fmt.Fprintf(w, "  ceremony:    READY at height %d: joint key %x from the deals of %s", st.KeyHeight, st.JointKey, name(st.Qualified))
		if len(st.Disqualified) > 0 {
			fmt.Fprintf(w, " (disqualified: %s)", name(st.Disqualified))
		}
		fmt.Fprintln(w)
	case tabellav1.CeremonyStatus_CEREMONY_STATUS_FAILED:
		fmt.Fprintf(w, "  ceremony:    FAILED at height %d: %s\n", st.KeyHeight, st.Failure)
	}
	if st.Status == tabellav1.CeremonyStatus_CEREMONY_STATUS_READY {
		fmt.Fprintf(w, "  decryption:  %d of %d shares (from %s)\n", len(st.Shared), st.Threshold, name(st.Shared))
	}
}
