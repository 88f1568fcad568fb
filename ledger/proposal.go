package ledger

import (
	"bytes"
	"encoding/binary"
	"fmt"

	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// Proposal status shorthands.
const (
	proposalPending  = tabellav1.ProposalStatus_PROPOSAL_STATUS_PENDING
	proposalApproved = tabellav1.ProposalStatus_PROPOSAL_STATUS_APPROVED
	proposalRejected = tabellav1.ProposalStatus_PROPOSAL_STATUS_REJECTED
)

// submissionWindow checks an initiative takes submissions of the given
// kind now.
func submissionWindow(id string, in *tabellav1.Initiative, kind tabellav1.InitiativeKind, what string) error {
	if in.Spec.Kind != kind {
		return Errorf(CodeWrongKind, "initiative %q is a %s; %s are submitted only to a %s", id, kindName(in.Spec.Kind), what, kindName(kind))
	}
	if in.Spec.Proposals == nil {
		return Errorf(CodeWrongKind, "initiative %q takes no %s: its options are listed by the organiser", id, what)
	}
	switch in.Status {
	case statusProposals:
		return nil
	case statusCancelled, statusClosing, statusClosed:
		return notActive(id, in.Status)
	}
	sc := in.Spec.Schedule
	return Errorf(CodeWrongPhase, "initiative %q is %s; %s are accepted only while it is PROPOSALS (from %s to %s in block time)", id, statusName(in.Status), what, fmtTime(sc.ProposalsOpensAt), fmtTime(sc.ProposalsClosesAt))
}

// submission is what SubmitProposal and RegisterCandidate have in common.
type submission struct {
	initiative, id, title, summary, uri string
	cost                                uint64
	sha                                 []byte
	cred                                *tabellav1.SignedCredential
}

func (c *execCtx) submitProposal(d *DecodedTx, m *tabellav1.SubmitProposal) error {
	in, err := c.header(m.InitiativeId)
	if err != nil {
		return err
	}
	if err := submissionWindow(m.InitiativeId, in, kindBudget, "projects"); err != nil {
		return err
	}
	return c.submit(d, in, &submission{
		initiative: m.InitiativeId, id: m.ProposalId, title: m.Title, summary: m.Summary,
		uri: m.DocumentUri, cost: m.Cost, sha: m.DocumentSha256, cred: m.Credential,
	}, "proposal")
}

func (c *execCtx) registerCandidate(d *DecodedTx, m *tabellav1.RegisterCandidate) error {
	in, err := c.header(m.InitiativeId)
	if err != nil {
		return err
	}
	if err := submissionWindow(m.InitiativeId, in, kindElection, "candidacies"); err != nil {
		return err
	}
	return c.submit(d, in, &submission{
		initiative: m.InitiativeId, id: m.CandidateId, title: m.Name, summary: m.Statement, cred: m.Credential,
	}, "candidacy")
}

// submit checks and records a proposal or a candidacy. Its cost does not
// grow with the number of proposals: it reads the header, the tally, the
// proposal key and the submitter's counter.
func (c *execCtx) submit(d *DecodedTx, in *tabellav1.Initiative, s *submission, who string) error {
	p := in.Spec.Proposals
	elig := p.Eligibility
	if elig == nil {
		elig = in.Spec.Eligibility
	}
	if err := c.checkCredential(d, s.cred, s.initiative, elig, who); err != nil {
		return err
	}
	if b := in.Spec.Budget; b != nil && s.cost > b.Total {
		return Errorf(CodeOverBudget, "the project costs %d %s, more than the whole budget of %d", s.cost, b.Currency, b.Total)
	}
	if exists, err := c.kv.Get(ProposalKey(s.initiative, s.id)); err != nil {
		return err
	} else if exists != nil {
		return Errorf(CodeAlreadyExists, "initiative %q already has a %s with id %q", s.initiative, who, s.id)
	}
	var tally tabellav1.Tally
	if _, err := c.get(TallyKey(s.initiative), &tally); err != nil {
		return err
	}
	if tally.Proposals >= MaxOptions {
		return Errorf(CodeLimitReached, "initiative %q has reached the limit of %d submissions", s.initiative, MaxOptions)
	}
	limit := p.MaxPerPerson
	if in.Spec.Kind == kindElection {
		limit = 1
	}
	sk := SubmitterKey(s.initiative, d.Signer)
	mine, err := c.kv.Get(sk)
	if err != nil {
		return err
	}
	var made uint32
	if mine != nil {
		if len(mine) != 4 {
			return fmt.Errorf("ledger: submitter counter %q has %d bytes, want 4", sk, len(mine))
		}
		made = binary.BigEndian.Uint32(mine)
	}
	if limit > 0 && made >= limit {
		if in.Spec.Kind == kindElection {
			return Errorf(CodeLimitReached, "this person is already a candidate in election %q", s.initiative)
		}
		return Errorf(CodeLimitReached, "this person has made %d submissions to initiative %q, the limit is %d", made, s.initiative, limit)
	}

	prop := &tabellav1.Proposal{
		InitiativeId:    s.initiative,
		Id:              s.id,
		Number:          tally.Proposals,
		Title:           s.title,
		Summary:         s.summary,
		Cost:            s.cost,
		DocumentUri:     s.uri,
		DocumentSha256:  s.sha,
		Submitter:       []byte(d.Signer),
		IssuerId:        d.Credential.IssuerId,
		Status:          proposalPending,
		SubmittedHeight: c.height,
		TxHash:          d.Hash,
	}
	tally.Proposals++
	if !reviewed(in.Spec) {
		if Sealed(in.Spec) && tally.OptionCount >= MaxSealedOptions {
			return Errorf(CodeLimitReached, "sealed initiative %q has its %d options: every submission goes on the ballot, and a sealed ballot has at most %d", s.initiative, MaxSealedOptions, MaxSealedOptions)
		}
		c.approve(prop, &tally)
	}
	tally.Height = c.height
	c.kv.Set(sk, be32(made+1))
	c.put(TallyKey(s.initiative), &tally)
	c.put(ProposalKey(s.initiative, s.id), prop)
	return nil
}

// approve puts a proposal on the ballot: it becomes the next option.
// Options are numbered in the order proposals are approved.
func (c *execCtx) approve(p *tabellav1.Proposal, tally *tabellav1.Tally) {
	p.Status = proposalApproved
	p.DecidedHeight = c.height
	p.OptionIndex = tally.OptionCount
	tally.OptionCount++
	c.put(OptionKey(p.InitiativeId, p.OptionIndex), &tabellav1.Option{Id: p.Id, Title: p.Title, Cost: p.Cost})
}

func (c *execCtx) reviewProposal(d *DecodedTx, m *tabellav1.ReviewProposal) error {
	in, err := c.header(m.InitiativeId)
	if err != nil {
		return err
	}
	if in.Spec.Proposals == nil {
		return Errorf(CodeWrongKind, "initiative %q has no proposals to review", m.InitiativeId)
	}
	switch in.Status {
	case statusReview:
	case statusCancelled, statusClosing, statusClosed:
		return notActive(m.InitiativeId, in.Status)
	default:
		if !reviewed(in.Spec) {
			return Errorf(CodeWrongPhase, "initiative %q does not review its proposals: every submission is on the ballot", m.InitiativeId)
		}
		return Errorf(CodeWrongPhase, "initiative %q is %s; reviews are accepted only while it is REVIEW (from %s to %s in block time)", m.InitiativeId, statusName(in.Status), fmtTime(in.Spec.Schedule.ProposalsClosesAt), fmtTime(in.Spec.Schedule.VotingOpensAt))
	}
	byOrganiser := true
	switch in.Spec.Proposals.Review {
	case tabellav1.ReviewMode_REVIEW_MODE_ORGANISER:
		if m.PartyId != "" {
			return Errorf(CodeUnauthorized, "initiative %q is reviewed by its organiser, not by consortium parties", m.InitiativeId)
		}
		org, ok, err := c.organiser(in.OrganiserId)
		if err != nil {
			return err
		}
		if !ok || !bytes.Equal(org.PublicKey, d.Signer) {
			return Errorf(CodeUnauthorized, "only organiser %q reviews the proposals of %q; the tx is signed by %s", in.OrganiserId, m.InitiativeId, shortKey(d.Signer))
		}
		if org.Revoked {
			return Errorf(CodeOrganiserRevoked, "organiser %q has been revoked", in.OrganiserId)
		}
	case tabellav1.ReviewMode_REVIEW_MODE_DUAL:
		if m.PartyId == "" {
			return Errorf(CodeUnauthorized, "initiative %q is reviewed by consortium parties: name your party", m.InitiativeId)
		}
		if _, err := c.authorizeParty(d, m.PartyId); err != nil {
			return err
		}
		byOrganiser = false
	}
	var prop tabellav1.Proposal
	ok, err := c.get(ProposalKey(m.InitiativeId, m.ProposalId), &prop)
	if err != nil {
		return err
	}
	if !ok {
		return Errorf(CodeNotFound, "initiative %q has no proposal %q", m.InitiativeId, m.ProposalId)
	}
	if prop.Status != proposalPending {
		return Errorf(CodeProposalClosed, "proposal %q is already decided (%s)", m.ProposalId, proposalStatusName(prop.Status))
	}
	for _, r := range prop.Reviews {
		if r.PartyId == m.PartyId {
			if m.PartyId == "" {
				return Errorf(CodeAlreadyReviewed, "the organiser has already reviewed proposal %q", m.ProposalId)
			}
			return Errorf(CodeAlreadyReviewed, "party %q has already reviewed proposal %q", m.PartyId, m.ProposalId)
		}
	}
	prop.Reviews = append(prop.Reviews, &tabellav1.ProposalReview{PartyId: m.PartyId, Approve: m.Approve, Note: m.Note, Height: c.height})

	approved, rejected := false, false
	if byOrganiser {
		approved, rejected = m.Approve, !m.Approve
	} else if approved, rejected, err = c.dualReview(in.Spec.Proposals, &prop); err != nil {
		return err
	}
	switch {
	case approved:
		var tally tabellav1.Tally
		if _, err := c.get(TallyKey(m.InitiativeId), &tally); err != nil {
			return err
		}
		if Sealed(in.Spec) && tally.OptionCount >= MaxSealedOptions {
			return Errorf(CodeLimitReached, "sealed initiative %q already has %d approved options, the most a sealed ballot can carry", m.InitiativeId, MaxSealedOptions)
		}
		c.approve(&prop, &tally)
		tally.Height = c.height
		c.put(TallyKey(m.InitiativeId), &tally)
	case rejected:
		prop.Status = proposalRejected
		prop.DecidedHeight = c.height
	}
	c.put(ProposalKey(m.InitiativeId, m.ProposalId), &prop)
	return nil
}

// dualReview applies DUAL review to a proposal's reviews: approved once
// government_approvals government parties and civil_society_approvals
// civil-society parties approve; rejected as soon as either side can no
// longer reach its count.
func (c *execCtx) dualReview(rules *tabellav1.Proposals, p *tabellav1.Proposal) (approved, rejected bool, err error) {
	parties, err := c.parties()
	if err != nil {
		return false, false, err
	}
	kind := make(map[string]tabellav1.PartyKind, len(parties))
	total := map[tabellav1.PartyKind]int{}
	for _, pt := range parties {
		kind[pt.Id] = pt.Kind
		total[pt.Kind]++
	}
	yes := map[tabellav1.PartyKind]int{}
	no := map[tabellav1.PartyKind]int{}
	for _, r := range p.Reviews {
		if r.Approve {
			yes[kind[r.PartyId]]++
		} else {
			no[kind[r.PartyId]]++
		}
	}
	need := map[tabellav1.PartyKind]int{
		tabellav1.PartyKind_PARTY_KIND_GOVERNMENT:    int(rules.GovernmentApprovals),
		tabellav1.PartyKind_PARTY_KIND_CIVIL_SOCIETY: int(rules.CivilSocietyApprovals),
	}
	approved = true
	for _, k := range []tabellav1.PartyKind{tabellav1.PartyKind_PARTY_KIND_GOVERNMENT, tabellav1.PartyKind_PARTY_KIND_CIVIL_SOCIETY} {
		if yes[k] < need[k] {
			approved = false
		}
		if total[k]-no[k] < need[k] {
			rejected = true
		}
	}
	return approved, rejected && !approved, nil
}

func proposalStatusName(s tabellav1.ProposalStatus) string {
	const p = "PROPOSAL_STATUS_"
	n := s.String()
	if len(n) > len(p) {
		return n[len(p):]
	}
	return n
}
