package ledger

import (
	"bytes"
	"fmt"

	"google.golang.org/protobuf/proto"

	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// Status shorthands.
const (
	statusScheduled = tabellav1.InitiativeStatus_INITIATIVE_STATUS_SCHEDULED
	statusProposals = tabellav1.InitiativeStatus_INITIATIVE_STATUS_PROPOSALS
	statusReview    = tabellav1.InitiativeStatus_INITIATIVE_STATUS_REVIEW
	statusVoting    = tabellav1.InitiativeStatus_INITIATIVE_STATUS_VOTING
	statusClosing   = tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSING
	statusClosed    = tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSED
	statusCancelled = tabellav1.InitiativeStatus_INITIATIVE_STATUS_CANCELLED
)

// terminal reports a status no scheduled transition leaves (CLOSING is
// left only by completing the count).
func terminal(s tabellav1.InitiativeStatus) bool {
	return s == statusClosed || s == statusCancelled || s == statusClosing
}

// reviewed reports whether submissions of spec need a review.
func reviewed(spec *tabellav1.InitiativeSpec) bool {
	r := spec.GetProposals().GetReview()
	return r == tabellav1.ReviewMode_REVIEW_MODE_ORGANISER || r == tabellav1.ReviewMode_REVIEW_MODE_DUAL
}

// PhaseAt is the status an initiative's schedule gives at block time t,
// ignoring cancellation: SCHEDULED, PROPOSALS, REVIEW (only with a review),
// VOTING or CLOSED. It is monotonic in t.
func PhaseAt(spec *tabellav1.InitiativeSpec, t int64) tabellav1.InitiativeStatus {
	sc := spec.Schedule
	if spec.Proposals != nil {
		switch {
		case t < sc.ProposalsOpensAt:
			return statusScheduled
		case t < sc.ProposalsClosesAt:
			return statusProposals
		case t < sc.VotingOpensAt:
			if reviewed(spec) {
				return statusReview
			}
			return statusScheduled
		}
	}
	switch {
	case t < sc.VotingOpensAt:
		return statusScheduled
	case t < sc.VotingClosesAt:
		return statusVoting
	}
	return statusClosed
}

func (c *execCtx) createInitiative(d *DecodedTx, m *tabellav1.CreateInitiative) error {
	org, ok, err := c.organiser(m.OrganiserId)
	if err != nil {
		return err
	}
	if !ok {
		return Errorf(CodeNotFound, "organiser %q is not registered", m.OrganiserId)
	}
	if org.Revoked {
		return Errorf(CodeOrganiserRevoked, "organiser %q has been revoked", m.OrganiserId)
	}
	if !bytes.Equal(org.PublicKey, d.Signer) {
		return Errorf(CodeUnauthorized, "the tx is signed by %s, not by organiser %q's key", shortKey(d.Signer), m.OrganiserId)
	}
	spec := m.Spec
	exists, err := c.kv.Get(InitiativeKey(spec.Id))
	if err != nil {
		return err
	}
	if exists != nil {
		return Errorf(CodeAlreadyExists, "initiative %q already exists", spec.Id)
	}
	issuers := spec.Eligibility.IssuerIds
	if e := spec.GetProposals().GetEligibility(); e != nil {
		issuers = append(append([]string(nil), issuers...), e.IssuerIds...)
	}
	for _, id := range issuers {
		iss, ok, err := c.issuer(id)
		if err != nil {
			return err
		}
		if !ok {
			return Errorf(CodeUnknownIssuer, "eligibility names issuer %q, which is not registered", id)
		}
		if iss.Revoked {
			return Errorf(CodeIssuerRevoked, "eligibility names issuer %q, which has been revoked", id)
		}
	}
	sc := spec.Schedule
	if sc.VotingClosesAt <= c.time {
		return Errorf(CodeInvalidField, "voting would close at %s, which is not after the current block time %s", fmtTime(sc.VotingClosesAt), fmtTime(c.time))
	}
	if spec.Proposals != nil && sc.ProposalsClosesAt <= c.time {
		return Errorf(CodeInvalidField, "the proposal window would close at %s, which is not after the current block time %s", fmtTime(sc.ProposalsClosesAt), fmtTime(c.time))
	}
	if p := spec.Proposals; p.GetReview() == tabellav1.ReviewMode_REVIEW_MODE_DUAL {
		gov, civ, err := c.partyCounts()
		if err != nil {
			return err
		}
		if int(p.GovernmentApprovals) > gov || int(p.CivilSocietyApprovals) > civ {
			return Errorf(CodeInvalidField, "dual review asks for %d government and %d civil-society approvals; the consortium has %d and %d such parties", p.GovernmentApprovals, p.CivilSocietyApprovals, gov, civ)
		}
	}
	if Anonymous(spec) {
		if err := c.checkBlindKeys(spec); err != nil {
			return err
		}
	}
	if Sealed(spec) {
		if err := c.setupSealed(spec); err != nil {
			return err
		}
	}
	status := PhaseAt(spec, c.time)
	in := &tabellav1.Initiative{
		Spec:          spec,
		OrganiserId:   m.OrganiserId,
		Status:        status,
		CreatedHeight: c.height,
		History:       []*tabellav1.StatusChange{{Status: status, Height: c.height, Time: c.time}},
	}
	// Every later boundary of the schedule is an event that advances the
	// status; each runs advance, which derives the status from the block
	// time, so their order within one block does not matter.
	events := []struct {
		at   int64
		kind byte
	}{
		{sc.ProposalsOpensAt, eventOpenProposals},
		{sc.ProposalsClosesAt, eventCloseProposals},
		{sc.VotingOpensAt, eventOpenVoting},
		{sc.VotingClosesAt, eventCloseVoting},
	}
	for _, e := range events {
		if e.at > c.time {
			if err := c.enqueue(e.at, e.kind, spec.Id); err != nil {
				return err
			}
		}
	}
	c.saveInitiative(in)
	tally := &tabellav1.Tally{InitiativeId: spec.Id, Height: c.height, OptionCount: uint32(len(spec.Options))}
	if Sealed(spec) {
		tally.Encrypted = emptySealedTally(len(spec.Options))
	}
	c.put(TallyKey(spec.Id), tally)
	if spec.Kind == kindBudget {
		// Ballots read the cost of each selected project from its
		// option key, never the whole list.
		for i, o := range spec.Options {
			c.put(OptionKey(spec.Id, uint32(i)), o)
		}
	}
	return nil
}

// saveInitiative writes the initiative record and its header: the same
// record without the listed options, the blind keys and the result, which
// is what the frequent txs (ballots, proposals, reviews) read.
func (c *execCtx) saveInitiative(in *tabellav1.Initiative) {
	c.put(InitiativeKey(in.Spec.Id), in)
	h := proto.CloneOf(in)
	h.Spec.Options = nil
	h.Spec.BlindKeys = nil // ballots read the one they need under "bk/"
	h.Result = nil
	c.put(HeaderKey(in.Spec.Id), h)
}

// header reads an initiative's header: the record without listed options
// and result. Initiatives recorded before headers existed fall back to the
// full record.
func (c *execCtx) header(id string) (*tabellav1.Initiative, error) {
	var in tabellav1.Initiative
	ok, err := c.get(HeaderKey(id), &in)
	if err != nil {
		return nil, err
	}
	if ok {
		return &in, nil
	}
	return c.initiative(id)
}

// viewCache keeps initiative headers decoded for reading only, with the
// stored bytes each was decoded from. Every ballot reads its initiative's
// header, once in CheckTx and once in FinalizeBlock, and decoding it each
// time was about 3% of a validator's allocations. A header is served again
// only while the stored bytes are equal to the ones it came from, so a
// status change written in the same scope is seen at once. It lives as
// long as a memo reader's scope and, like it, is not safe for concurrent
// use.
type viewCache struct {
	headers map[string]headerView
}

type headerView struct {
	raw []byte
	in  *tabellav1.Initiative
}

func newViewCache() *viewCache {
	return &viewCache{headers: make(map[string]headerView)}
}

// headerView is header for callers that only read the initiative: the
// returned value may be shared with other txs of the scope and must not be
// modified. Callers that change the initiative use header.
func (c *execCtx) headerView(id string) (*tabellav1.Initiative, error) {
	if c.views == nil {
		return c.header(id)
	}
	key := HeaderKey(id)
	raw, err := c.kv.Get(key)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", key, err)
	}
	if raw == nil {
		return c.header(id)
	}
	if v, ok := c.views.headers[string(key)]; ok && bytes.Equal(v.raw, raw) {
		return v.in, nil
	}
	var in tabellav1.Initiative
	if err := proto.Unmarshal(raw, &in); err != nil {
		return nil, fmt.Errorf("decode %q: %w", key, err)
	}
	c.views.headers[string(key)] = headerView{raw: raw, in: &in}
	return &in, nil
}

// setStatus records a status change in the initiative and its history.
func (c *execCtx) setStatus(in *tabellav1.Initiative, s tabellav1.InitiativeStatus) {
	in.Status = s
	in.History = append(in.History, &tabellav1.StatusChange{Status: s, Height: c.height, Time: c.time})
}

// advance is every scheduled event of an initiative: it moves the status
// to the phase the block time gives, and starts the count when voting has
// ended. Cancelled, closing and closed initiatives do not move.
func (c *execCtx) advance(id string) error {
	h, err := c.header(id)
	if err != nil {
		return err
	}
	if terminal(h.Status) {
		return nil
	}
	target := PhaseAt(h.Spec, c.time)
	if target == h.Status {
		return nil
	}
	in, err := c.initiative(id)
	if err != nil {
		return err
	}
	if target == statusClosed {
		return c.beginCount(in)
	}
	if target == statusVoting && Sealed(in.Spec) {
		if err := c.openSealedVoting(in); err != nil {
			return err
		}
	}
	c.setStatus(in, target)
	c.saveInitiative(in)
	return nil
}

func (c *execCtx) cancelInitiative(d *DecodedTx, m *tabellav1.CancelInitiative) error {
	in, err := c.initiative(m.InitiativeId)
	if err != nil {
		return err
	}
	org, ok, err := c.organiser(in.OrganiserId)
	if err != nil {
		return err
	}
	if !ok || !bytes.Equal(org.PublicKey, d.Signer) {
		return Errorf(CodeUnauthorized, "only organiser %q can cancel initiative %q; the tx is signed by %s", in.OrganiserId, m.InitiativeId, shortKey(d.Signer))
	}
	if org.Revoked {
		return Errorf(CodeOrganiserRevoked, "organiser %q has been revoked", in.OrganiserId)
	}
	if terminal(in.Status) {
		return Errorf(CodeInitiativeNotActive, "initiative %q is %s; only an initiative whose voting has not closed can be cancelled", m.InitiativeId, statusName(in.Status))
	}
	c.setStatus(in, statusCancelled)
	in.Cancellation = &tabellav1.Cancellation{Reason: m.Reason, Height: c.height, Time: c.time}
	c.saveInitiative(in)
	return nil
}

// notActive is the rejection for acting on an initiative that was
// cancelled, or whose voting has ended.
func notActive(id string, s tabellav1.InitiativeStatus) error {
	if s == statusCancelled {
		return Errorf(CodeInitiativeNotActive, "initiative %q was cancelled by its organiser", id)
	}
	return Errorf(CodeInitiativeNotActive, "initiative %q is %s: voting has ended", id, statusName(s))
}

// partyCounts returns the number of government and civil-society parties.
func (c *execCtx) partyCounts() (gov, civ int, err error) {
	parties, err := c.parties()
	if err != nil {
		return 0, 0, err
	}
	for _, p := range parties {
		switch p.Kind {
		case tabellav1.PartyKind_PARTY_KIND_GOVERNMENT:
			gov++
		case tabellav1.PartyKind_PARTY_KIND_CIVIL_SOCIETY:
			civ++
		}
	}
	return gov, civ, nil
}

// optionCount is the number of options on an initiative's ballot.
// Tallies recorded before option_count existed fall back to the listed
// options of the full record.
func optionCount(in *tabellav1.Initiative, t *tabellav1.Tally) uint32 {
	if t.OptionCount > 0 || in.Spec.Proposals != nil || in.Spec.Kind == kindPetition {
		return t.OptionCount
	}
	return uint32(len(in.Spec.Options))
}
