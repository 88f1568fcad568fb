package ledger

import (
	"bytes"

	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

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
	for _, id := range spec.Eligibility.IssuerIds {
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
	in := &tabellav1.Initiative{
		Spec:          spec,
		OrganiserId:   m.OrganiserId,
		Status:        tabellav1.InitiativeStatus_INITIATIVE_STATUS_SCHEDULED,
		CreatedHeight: c.height,
	}
	if sc.VotingOpensAt <= c.time {
		in.Status = tabellav1.InitiativeStatus_INITIATIVE_STATUS_VOTING
	} else if err := c.enqueue(sc.VotingOpensAt, eventOpenVoting, spec.Id); err != nil {
		return err
	}
	if err := c.enqueue(sc.VotingClosesAt, eventCloseVoting, spec.Id); err != nil {
		return err
	}
	c.put(InitiativeKey(spec.Id), in)
	c.put(TallyKey(spec.Id), &tabellav1.Tally{InitiativeId: spec.Id, Height: c.height})
	return nil
}

// openVoting is the scheduled transition SCHEDULED -> VOTING.
func (c *execCtx) openVoting(id string) error {
	in, err := c.initiative(id)
	if err != nil {
		return err
	}
	if in.Status != tabellav1.InitiativeStatus_INITIATIVE_STATUS_SCHEDULED {
		return nil
	}
	in.Status = tabellav1.InitiativeStatus_INITIATIVE_STATUS_VOTING
	c.put(InitiativeKey(id), in)
	return nil
}

// closeVoting freezes the result. Reading every option's count is bounded
// by MaxOptions.
func (c *execCtx) closeVoting(id string) error {
	in, err := c.initiative(id)
	if err != nil {
		return err
	}
	switch in.Status {
	case tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSED, tabellav1.InitiativeStatus_INITIATIVE_STATUS_CANCELLED:
		return nil
	}
	var tally tabellav1.Tally
	if _, err := c.get(TallyKey(id), &tally); err != nil {
		return err
	}
	counts := make([]uint64, len(in.Spec.Options))
	for i := range counts {
		if counts[i], err = readCount(c.kv, CountKey(id, uint32(i))); err != nil {
			return err
		}
	}
	in.Status = tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSED
	in.Result = &tabellav1.Result{
		Turnout:      tally.Turnout,
		QuorumMet:    tally.Turnout >= in.Spec.GetResultRule().GetQuorum(),
		Winners:      pluralityWinners(counts),
		Counts:       counts,
		ClosedHeight: c.height,
		ClosedTime:   c.time,
	}
	c.put(InitiativeKey(id), in)
	return nil
}

// pluralityWinners returns every option index holding the highest count, in
// increasing order; nobody wins when no option has a vote.
func pluralityWinners(counts []uint64) []uint32 {
	var best uint64
	for _, n := range counts {
		if n > best {
			best = n
		}
	}
	if best == 0 {
		return nil
	}
	var w []uint32
	for i, n := range counts {
		if n == best {
			w = append(w, uint32(i))
		}
	}
	return w
}
