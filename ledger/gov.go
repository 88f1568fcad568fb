package ledger

import (
	"bytes"

	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// authorizeParty checks the signer holds one of the party's admin keys.
func (c *execCtx) authorizeParty(d *DecodedTx, partyID string) (*tabellav1.Party, error) {
	p, err := c.party(partyID)
	if err != nil {
		return nil, err
	}
	for _, k := range p.AdminKeys {
		if bytes.Equal(k, d.Signer) {
			return p, nil
		}
	}
	return nil, Errorf(CodeUnauthorized, "key %s is not an admin key of party %q", shortKey(d.Signer), partyID)
}

func (c *execCtx) govPropose(d *DecodedTx, m *tabellav1.GovPropose) error {
	if _, err := c.authorizeParty(d, m.PartyId); err != nil {
		return err
	}
	if exists, err := c.kv.Get(GovKey(m.ProposalId)); err != nil {
		return err
	} else if exists != nil {
		return Errorf(CodeAlreadyExists, "governance proposal %q already exists", m.ProposalId)
	}
	if m.Deadline <= c.time {
		return Errorf(CodeInvalidField, "proposal deadline %s is not after the current block time %s", fmtTime(m.Deadline), fmtTime(c.time))
	}
	if err := c.checkActionApplies(m.Action); err != nil {
		return err
	}
	p := &tabellav1.GovProposal{
		Id:              m.ProposalId,
		ProposerPartyId: m.PartyId,
		Action:          m.Action,
		Deadline:        m.Deadline,
		Status:          tabellav1.GovStatus_GOV_STATUS_OPEN,
		Votes:           []*tabellav1.GovVoteRecord{{PartyId: m.PartyId, Approve: true, Height: c.height}},
		CreatedHeight:   c.height,
	}
	if err := c.enqueue(m.Deadline, eventGovDeadline, m.ProposalId); err != nil {
		return err
	}
	return c.decide(p)
}

func (c *execCtx) govVote(d *DecodedTx, m *tabellav1.GovVote) error {
	if _, err := c.authorizeParty(d, m.PartyId); err != nil {
		return err
	}
	var p tabellav1.GovProposal
	ok, err := c.get(GovKey(m.ProposalId), &p)
	if err != nil {
		return err
	}
	if !ok {
		return Errorf(CodeNotFound, "governance proposal %q does not exist", m.ProposalId)
	}
	if p.Status != tabellav1.GovStatus_GOV_STATUS_OPEN {
		return Errorf(CodeProposalClosed, "governance proposal %q is already decided (%s)", m.ProposalId, govStatusName(p.Status))
	}
	for _, v := range p.Votes {
		if v.PartyId == m.PartyId {
			return Errorf(CodeAlreadyVoted, "party %q has already voted on proposal %q", m.PartyId, m.ProposalId)
		}
	}
	p.Votes = append(p.Votes, &tabellav1.GovVoteRecord{PartyId: m.PartyId, Approve: m.Approve, Height: c.height})
	return c.decide(&p)
}

// checkActionApplies checks an action against current state: a registration
// needs a fresh id, a revocation a live entry.
func (c *execCtx) checkActionApplies(a *tabellav1.GovAction) error {
	switch x := a.Action.(type) {
	case *tabellav1.GovAction_RegisterOrganiser:
		if _, ok, err := c.organiser(x.RegisterOrganiser.Id); err != nil {
			return err
		} else if ok {
			return Errorf(CodeAlreadyExists, "organiser %q is already registered", x.RegisterOrganiser.Id)
		}
	case *tabellav1.GovAction_RevokeOrganiser:
		o, ok, err := c.organiser(x.RevokeOrganiser.Id)
		if err != nil {
			return err
		}
		if !ok || o.Revoked {
			return Errorf(CodeNotFound, "organiser %q is not registered or already revoked", x.RevokeOrganiser.Id)
		}
	case *tabellav1.GovAction_RegisterIssuer:
		if _, ok, err := c.issuer(x.RegisterIssuer.Id); err != nil {
			return err
		} else if ok {
			return Errorf(CodeAlreadyExists, "issuer %q is already registered", x.RegisterIssuer.Id)
		}
	case *tabellav1.GovAction_RevokeIssuer:
		is, ok, err := c.issuer(x.RevokeIssuer.Id)
		if err != nil {
			return err
		}
		if !ok || is.Revoked {
			return Errorf(CodeNotFound, "issuer %q is not registered or already revoked", x.RevokeIssuer.Id)
		}
	case *tabellav1.GovAction_SetValidator:
		return c.checkSetValidator(x.SetValidator)
	}
	return nil
}

// checkSetValidator: the party exists, no other party uses the key, and
// the consortium keeps at least one validator.
func (c *execCtx) checkSetValidator(v *tabellav1.SetValidator) error {
	parties, err := c.parties()
	if err != nil {
		return err
	}
	var target *tabellav1.Party
	remaining := 0
	for _, p := range parties {
		if p.Id == v.PartyId {
			target = p
			continue
		}
		if p.Validator != nil {
			remaining++
			if bytes.Equal(p.Validator.PublicKey, v.PublicKey) {
				return Errorf(CodeAlreadyExists, "validator key %s already belongs to party %q", shortKey(v.PublicKey), p.Id)
			}
		}
	}
	if target == nil {
		return Errorf(CodeNotFound, "party %q is not in the consortium", v.PartyId)
	}
	if v.Power == 0 {
		if target.Validator == nil {
			return Errorf(CodeNotFound, "party %q runs no validator to remove", v.PartyId)
		}
		if remaining == 0 {
			return Errorf(CodeInvalidField, "removing party %q's validator would leave the network without validators", v.PartyId)
		}
	}
	return nil
}

// decide applies the dual-majority rule and stores the proposal. A proposal
// passes once more than half of the government parties AND more than half
// of the civil-society parties approve; it is rejected as soon as either
// side can no longer reach its majority.
func (c *execCtx) decide(p *tabellav1.GovProposal) error {
	parties, err := c.parties()
	if err != nil {
		return err
	}
	kind := make(map[string]tabellav1.PartyKind, len(parties))
	total := map[tabellav1.PartyKind]int{}
	for _, pt := range parties {
		kind[pt.Id] = pt.Kind
		total[pt.Kind]++
	}
	yes := map[tabellav1.PartyKind]int{}
	no := map[tabellav1.PartyKind]int{}
	for _, v := range p.Votes {
		if v.Approve {
			yes[kind[v.PartyId]]++
		} else {
			no[kind[v.PartyId]]++
		}
	}
	passed, rejected := true, false
	for _, k := range []tabellav1.PartyKind{tabellav1.PartyKind_PARTY_KIND_GOVERNMENT, tabellav1.PartyKind_PARTY_KIND_CIVIL_SOCIETY} {
		need := total[k]/2 + 1
		if yes[k] < need {
			passed = false
		}
		if total[k]-no[k] < need {
			rejected = true
		}
	}
	switch {
	case passed:
		p.Status = tabellav1.GovStatus_GOV_STATUS_PASSED
		p.DecidedHeight = c.height
		if err := c.checkActionApplies(p.Action); err != nil {
			// A competing proposal got there first; nothing to apply.
			p.Status = tabellav1.GovStatus_GOV_STATUS_REJECTED
		} else {
			c.applyAction(p.Id, p.Action)
		}
	case rejected:
		p.Status = tabellav1.GovStatus_GOV_STATUS_REJECTED
		p.DecidedHeight = c.height
	}
	c.put(GovKey(p.Id), p)
	return nil
}

func (c *execCtx) applyAction(proposalID string, a *tabellav1.GovAction) {
	switch x := a.Action.(type) {
	case *tabellav1.GovAction_RegisterOrganiser:
		r := x.RegisterOrganiser
		c.put(OrganiserKey(r.Id), &tabellav1.Organiser{Id: r.Id, Name: r.Name, PublicKey: r.PublicKey, ProposalId: proposalID})
	case *tabellav1.GovAction_RevokeOrganiser:
		o, _, _ := c.organiser(x.RevokeOrganiser.Id)
		o.Revoked, o.ProposalId = true, proposalID
		c.put(OrganiserKey(o.Id), o)
	case *tabellav1.GovAction_RegisterIssuer:
		r := x.RegisterIssuer
		c.put(IssuerKey(r.Id), &tabellav1.Issuer{Id: r.Id, Name: r.Name, PublicKey: r.PublicKey, ProposalId: proposalID})
	case *tabellav1.GovAction_RevokeIssuer:
		is, _, _ := c.issuer(x.RevokeIssuer.Id)
		is.Revoked, is.ProposalId = true, proposalID
		c.put(IssuerKey(is.Id), is)
	case *tabellav1.GovAction_SetValidator:
		v := x.SetValidator
		p, err := c.party(v.PartyId)
		if err != nil {
			return
		}
		if old := p.Validator; old != nil && (v.Power == 0 || !bytes.Equal(old.PublicKey, v.PublicKey)) {
			// A removal or a key rotation: the old key leaves the set.
			c.valUpdates = append(c.valUpdates, ValidatorUpdate{PubKey: old.PublicKey, Power: 0})
		}
		if v.Power == 0 {
			p.Validator = nil
		} else {
			c.valUpdates = append(c.valUpdates, ValidatorUpdate{PubKey: v.PublicKey, Power: v.Power})
			p.Validator = &tabellav1.Validator{PublicKey: v.PublicKey, Power: v.Power}
		}
		c.put(PartyKey(p.Id), p)
	}
}

// expireProposal is the scheduled deadline of a proposal.
func (c *execCtx) expireProposal(id string) error {
	var p tabellav1.GovProposal
	ok, err := c.get(GovKey(id), &p)
	if err != nil || !ok || p.Status != tabellav1.GovStatus_GOV_STATUS_OPEN {
		return err
	}
	p.Status = tabellav1.GovStatus_GOV_STATUS_EXPIRED
	p.DecidedHeight = c.height
	c.put(GovKey(id), &p)
	return nil
}

// parties lists the consortium from the party index kept at genesis.
func (c *execCtx) parties() ([]*tabellav1.Party, error) {
	var idx tabellav1.PartyIndex
	if _, err := c.get(keyPartyIndex, &idx); err != nil {
		return nil, err
	}
	out := make([]*tabellav1.Party, 0, len(idx.PartyIds))
	for _, id := range idx.PartyIds {
		p, err := c.party(id)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func govStatusName(s tabellav1.GovStatus) string {
	const p = "GOV_STATUS_"
	n := s.String()
	if len(n) > len(p) {
		return n[len(p):]
	}
	return n
}

// validatorKeys returns the consensus keys of the parties in r.
func validatorKeys(r reader) (map[string]bool, error) {
	c := &execCtx{kv: newOverlay(r)}
	parties, err := c.parties()
	if err != nil {
		return nil, err
	}
	keys := make(map[string]bool, len(parties))
	for _, p := range parties {
		if p.Validator != nil {
			keys[string(p.Validator.PublicKey)] = true
		}
	}
	return keys, nil
}

// normalizeValidatorUpdates collapses a block's updates to one per key (the
// last wins, in order of first appearance) and drops removals of keys that
// were not validators when the block began: CometBFT refuses duplicates and
// removals of unknown validators, and either would halt the chain.
func normalizeValidatorUpdates(start map[string]bool, ups []ValidatorUpdate) []ValidatorUpdate {
	last := make(map[string]int64, len(ups))
	var order []string
	for _, u := range ups {
		k := string(u.PubKey)
		if _, seen := last[k]; !seen {
			order = append(order, k)
		}
		last[k] = u.Power
	}
	out := make([]ValidatorUpdate, 0, len(order))
	for _, k := range order {
		if last[k] == 0 && !start[k] {
			continue
		}
		out = append(out, ValidatorUpdate{PubKey: []byte(k), Power: last[k]})
	}
	return out
}
