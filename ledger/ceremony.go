package ledger

import (
	"errors"
	"fmt"
	"slices"

	"github.com/tabella/tabella/ledger/sealed"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// Sealed ballots (docs/sealed-ballots.md, docs/protocol.md §5.11).
//
// A SEALED (or ANONYMOUS_SEALED) initiative names trustees — consortium
// parties from both sides — and a threshold t. Its key is made on the
// record by a Pedersen DKG whose messages are txs:
//
//   - before the initiative is created, each trustee party registers a
//     long-term ristretto255 transport key (RegisterTrusteeKey, "tk/");
//     creation copies the trustees' keys into the initiative's SealedState,
//     so every deal encrypts to the same keys;
//   - until deals_close_at, each trustee posts one deal (TrusteeDeal);
//   - until complaints_close_at, a trustee whose share does not match the
//     dealer's commitments posts a complaint (TrusteeComplaint), which
//     every node checks; an upheld one disqualifies the dealer;
//   - at complaints_close_at (a queue event, before voting opens) the
//     ledger takes the qualified deals in trustee order and fixes the
//     joint key and every trustee's verification key, or, with fewer than
//     t qualified dealers, marks the ceremony FAILED and cancels the
//     initiative with the reason.
//
// Ballots then carry ciphertexts and proofs (sealedvote.go); at close the
// trustees post decryption shares and t valid ones recover the counts.

// Domain-separation prefixes of the sealed contexts: every proof of a
// sealed initiative hashes one of them with the chain id and the
// initiative id, so no proof can be replayed in another initiative, on
// another chain, or (ballots) by another voter.
const (
	SealedDKGPrefix     = "tabella/v1/sealed-dkg"
	SealedBallotPrefix  = "tabella/v1/sealed-ballot"
	SealedDecryptPrefix = "tabella/v1/sealed-decrypt"
)

// MaxSealedOptions caps the options of a sealed initiative: a ballot
// carries a ciphertext and a proof per option (about 160 bytes and 0.5 ms
// of verification in every node each), so the cap bounds a ballot tx's
// size (MaxSealedBallotTxBytes) and its verification time.
const MaxSealedOptions = 64

// Ceremony status shorthands.
const (
	ceremonyDealing = tabellav1.CeremonyStatus_CEREMONY_STATUS_DEALING
	ceremonyReady   = tabellav1.CeremonyStatus_CEREMONY_STATUS_READY
	ceremonyFailed  = tabellav1.CeremonyStatus_CEREMONY_STATUS_FAILED
)

// Sealed reports whether an initiative's ballots are encrypted.
func Sealed(s *tabellav1.InitiativeSpec) bool {
	return s.GetSecrecy() == secrecySealed || s.GetSecrecy() == secrecyAnonymousSealed
}

func sealedContext(prefix, chainID, initiativeID string) []byte {
	b := make([]byte, 0, len(prefix)+len(chainID)+1+len(initiativeID))
	b = append(b, prefix...)
	b = append(b, chainID...)
	b = append(b, '/')
	return append(b, initiativeID...)
}

// SealedDKGContext is the context of an initiative's key ceremony:
// "tabella/v1/sealed-dkg" || chain_id || "/" || initiative_id.
func SealedDKGContext(chainID, initiativeID string) []byte {
	return sealedContext(SealedDKGPrefix, chainID, initiativeID)
}

// SealedDecryptContext is the context of the decryption shares:
// "tabella/v1/sealed-decrypt" || chain_id || "/" || initiative_id.
func SealedDecryptContext(chainID, initiativeID string) []byte {
	return sealedContext(SealedDecryptPrefix, chainID, initiativeID)
}

// SealedBallotContext is the Fiat–Shamir context of a ballot's proof:
// "tabella/v1/sealed-ballot" || chain_id || "/" || initiative_id || "/" ||
// voter key (32 bytes). Binding the voter key stops ballot copying: a
// proof made for one key does not verify for another, so nobody can cast a
// copy of someone else's encrypted vote and learn it from the tally.
func SealedBallotContext(chainID, initiativeID string, voter []byte) []byte {
	return append(append(sealedContext(SealedBallotPrefix, chainID, initiativeID), '/'), voter...)
}

// SealedRules are the ballot rules the proofs of an initiative are
// checked against, as fixed in its SealedState.
func SealedRules(st *tabellav1.SealedState) sealed.Rules {
	r := sealed.Rules{Options: int(st.Options), Min: int(st.MinSelections), Max: int(st.MaxSelections)}
	if len(st.Costs) > 0 {
		r.Costs = st.Costs
		r.Budget = st.Budget
	}
	return r
}

// DKGParams rebuilds the ceremony's public parameters from its state.
func DKGParams(chainID string, st *tabellav1.SealedState) (sealed.DKGParams, error) {
	keys := make([]sealed.PublicKey, len(st.TrusteeKeys))
	for i, b := range st.TrusteeKeys {
		k, err := sealed.DecodePublicKey(b)
		if err != nil {
			return sealed.DKGParams{}, fmt.Errorf("ledger: trustee %d key of %q: %w", i+1, st.InitiativeId, err)
		}
		keys[i] = k
	}
	return sealed.DKGParams{T: int(st.Threshold), Trustees: keys, Context: SealedDKGContext(chainID, st.InitiativeId)}, nil
}

// validateSealed checks a spec's sealed configuration without state.
func validateSealed(s *tabellav1.InitiativeSpec) error {
	cfg := s.Sealed
	if !Sealed(s) {
		if cfg != nil {
			return fieldErrorf("sealed", "trustees and a key ceremony apply only to a sealed initiative (secrecy: sealed or anonymous_sealed)")
		}
		return nil
	}
	if cfg == nil {
		return fieldErrorf("sealed", "a sealed initiative needs its trustees and key ceremony windows (sealed)")
	}
	switch {
	case s.Kind == kindPetition:
		return fieldErrorf("secrecy", "a petition signature selects nothing, so there is nothing to seal; use public or anonymous")
	case len(s.Options) > MaxSealedOptions:
		return fieldErrorf("options", "a sealed initiative has at most %d options, this one has %d", MaxSealedOptions, len(s.Options))
	case s.Kind == kindBudget && s.GetBudget().GetBallotRule() == tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_MIN_SHARE:
		return codedFieldErrorf(CodeNotSupported, "budget.ballot_rule", "the MIN_SHARE ballot rule is not supported with sealed ballots; use WITHIN_BUDGET or PROJECT_COUNT")
	}
	n := len(cfg.TrusteePartyIds)
	// Four is the smallest set where a threshold above each side is at
	// most n-1 (two per side, threshold 3).
	if n < 4 || n > min(MaxParties, sealed.MaxTrustees) {
		return fieldErrorf("sealed.trustee_party_ids", "a sealed initiative needs 4 to %d trustees (parties from both sides, so that neither side decrypts alone and one may be absent), it names %d", min(MaxParties, sealed.MaxTrustees), n)
	}
	seen := make(map[string]struct{}, n)
	for i, id := range cfg.TrusteePartyIds {
		f := fmt.Sprintf("sealed.trustee_party_ids[%d]", i)
		if !ValidID(id) {
			return fieldErrorf(f, "trustee party id %q is not a valid id", id)
		}
		if _, dup := seen[id]; dup {
			return fieldErrorf(f, "party %q is named twice as a trustee", id)
		}
		seen[id] = struct{}{}
	}
	if t := cfg.Threshold; t != 0 && (t < 2 || int(t) > n-1) {
		return fieldErrorf("sealed.threshold", "threshold %d: with %d trustees it must be 2 to %d (at most n-1, so one absent trustee does not block the result), or 0 for the default", t, n, n-1)
	}
	sc := s.Schedule
	if cfg.DealsCloseAt <= 0 {
		return fieldErrorf("sealed.deals_close_at", "deals_close_at must be a unix time in seconds")
	}
	if cfg.ComplaintsCloseAt <= cfg.DealsCloseAt {
		return fieldErrorf("sealed.complaints_close_at", "the complaint window must close (%d) after the deal window (%d)", cfg.ComplaintsCloseAt, cfg.DealsCloseAt)
	}
	if sc != nil && cfg.ComplaintsCloseAt >= sc.VotingOpensAt {
		return fieldErrorf("sealed.complaints_close_at", "the key ceremony must end (%d) before voting opens (%d)", cfg.ComplaintsCloseAt, sc.VotingOpensAt)
	}
	return nil
}

// setupSealed runs a sealed initiative's creation checks that need state
// (trustees are parties from both sides with registered keys, the
// threshold keeps every side below it) and writes its SealedState and the
// ceremony's closing event.
func (c *execCtx) setupSealed(spec *tabellav1.InitiativeSpec) error {
	cfg := spec.Sealed
	if cfg.DealsCloseAt <= c.time {
		return fieldErrorf("sealed.deals_close_at", "the deal window would close at %s, which is not after the current block time %s", fmtTime(cfg.DealsCloseAt), fmtTime(c.time))
	}
	st := &tabellav1.SealedState{InitiativeId: spec.Id, Status: ceremonyDealing}
	var gov, civ int
	for i, id := range cfg.TrusteePartyIds {
		p, err := c.party(id)
		if err != nil {
			return err
		}
		switch p.Kind {
		case tabellav1.PartyKind_PARTY_KIND_GOVERNMENT:
			gov++
		case tabellav1.PartyKind_PARTY_KIND_CIVIL_SOCIETY:
			civ++
		}
		k, err := c.kv.Get(TrusteeKeyKey(id))
		if err != nil {
			return err
		}
		if k == nil {
			return codedFieldErrorf(CodeNotFound, fmt.Sprintf("sealed.trustee_party_ids[%d]", i), "party %q has not registered a trustee key (`tabella trustee register`)", id)
		}
		st.TrusteeKeys = append(st.TrusteeKeys, k)
	}
	n := len(cfg.TrusteePartyIds)
	if gov == 0 || civ == 0 {
		return fieldErrorf("sealed.trustee_party_ids", "trustees must come from both sides: %d government and %d civil-society parties named", gov, civ)
	}
	t := int(cfg.Threshold)
	if t == 0 {
		t = sealed.SidedThreshold(gov, civ)
	}
	if t <= gov || t <= civ {
		return fieldErrorf("sealed.threshold", "threshold %d lets one side decrypt alone (%d government, %d civil-society trustees): it must be above both", t, gov, civ)
	}
	if t > n-1 {
		return fieldErrorf("sealed.threshold", "threshold %d with %d trustees (%d government, %d civil society) means one absent trustee blocks the result: balance the sides so that a threshold above each side is at most %d", t, n, gov, civ, n-1)
	}
	st.Threshold = uint32(t)
	// The rules every ballot proof is checked against: now for listed
	// options, when voting opens for options from a proposal window.
	if spec.Proposals == nil {
		var costs []uint64
		for _, o := range spec.Options {
			costs = append(costs, o.Cost)
		}
		fixSealedRules(st, spec, costs)
		if err := SealedRules(st).Validate(); err != nil {
			return fieldErrorf("ballot", "the ballot rules cannot be sealed: %v", err)
		}
	}
	c.put(SealedKey(spec.Id), st)
	return c.enqueue(cfg.ComplaintsCloseAt, eventKeyCeremony, spec.Id)
}

// fixSealedRules sets the ballot rules of st from the spec and the
// options' costs (one per option, in option order).
func fixSealedRules(st *tabellav1.SealedState, spec *tabellav1.InitiativeSpec, costs []uint64) {
	st.Options = uint32(len(costs))
	st.MinSelections = spec.Ballot.MinSelections
	st.MaxSelections = min(spec.Ballot.MaxSelections, st.Options)
	if spec.Kind == kindBudget {
		if spec.Ballot.MaxSelections == 0 {
			st.MaxSelections = st.Options
		}
		if spec.Budget.BallotRule == tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_WITHIN_BUDGET {
			st.Costs = costs
			st.Budget = spec.Budget.Total
		}
	}
}

// openSealedVoting fixes the ballot rules of a sealed initiative whose
// options came from a proposal window, when voting opens: the approved
// proposals are the options, in approval order, and the encrypted tally
// starts with one encryption of zero per option.
func (c *execCtx) openSealedVoting(in *tabellav1.Initiative) error {
	if in.Spec.Proposals == nil {
		return nil
	}
	id := in.Spec.Id
	st, err := c.sealedState(id)
	if err != nil {
		return err
	}
	var tally tabellav1.Tally
	if _, err := c.get(TallyKey(id), &tally); err != nil {
		return err
	}
	costs := make([]uint64, tally.OptionCount)
	if in.Spec.Kind == kindBudget {
		for i := range costs {
			o, err := c.option(id, uint32(i))
			if err != nil {
				return err
			}
			costs[i] = o.Cost
		}
	}
	fixSealedRules(st, in.Spec, costs)
	c.put(SealedKey(id), st)
	if tally.OptionCount > 0 {
		tally.Encrypted = emptySealedTally(int(tally.OptionCount))
		c.put(TallyKey(id), &tally)
	}
	return nil
}

// sealedState reads a sealed initiative's state.
func (c *execCtx) sealedState(id string) (*tabellav1.SealedState, error) {
	var st tabellav1.SealedState
	ok, err := c.get(SealedKey(id), &st)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("ledger: sealed initiative %q has no sealed state", id)
	}
	return &st, nil
}

// trusteeIndex authorises the signer for a trustee party of a sealed
// initiative and returns the party's trustee index (from 1).
func (c *execCtx) trusteeIndex(d *DecodedTx, spec *tabellav1.InitiativeSpec, partyID string) (int, error) {
	if _, err := c.authorizeParty(d, partyID); err != nil {
		return 0, err
	}
	i := slices.Index(spec.Sealed.GetTrusteePartyIds(), partyID)
	if i < 0 {
		return 0, Errorf(CodeNotTrustee, "party %q is not a trustee of initiative %q", partyID, spec.Id)
	}
	return i + 1, nil
}

// sealedHeader reads the header of an initiative that must be sealed.
func (c *execCtx) sealedHeader(id string) (*tabellav1.Initiative, error) {
	in, err := c.header(id)
	if err != nil {
		return nil, err
	}
	if !Sealed(in.Spec) {
		return nil, Errorf(CodeWrongSecrecy, "initiative %q is not sealed: it has no trustees", id)
	}
	return in, nil
}

func (c *execCtx) registerTrusteeKey(d *DecodedTx, m *tabellav1.RegisterTrusteeKey) error {
	if _, err := c.authorizeParty(d, m.PartyId); err != nil {
		return err
	}
	if _, err := sealed.DecodePublicKey(m.PublicKey); err != nil {
		return Errorf(CodeInvalidField, "trustee key: %v", err)
	}
	c.kv.Set(TrusteeKeyKey(m.PartyId), m.PublicKey)
	return nil
}

func (c *execCtx) trusteeDeal(d *DecodedTx, m *tabellav1.TrusteeDeal) error {
	in, err := c.sealedHeader(m.InitiativeId)
	if err != nil {
		return err
	}
	if in.Status == statusCancelled {
		return notActive(m.InitiativeId, in.Status)
	}
	j, err := c.trusteeIndex(d, in.Spec, m.PartyId)
	if err != nil {
		return err
	}
	if end := in.Spec.Sealed.DealsCloseAt; c.time >= end {
		return Errorf(CodeWrongPhase, "the deal window of initiative %q closed at %s", m.InitiativeId, fmtTime(end))
	}
	st, err := c.sealedState(m.InitiativeId)
	if err != nil {
		return err
	}
	if slices.Contains(st.Dealt, uint32(j)) {
		return Errorf(CodeAlreadyExists, "trustee %q has already posted its deal for initiative %q", m.PartyId, m.InitiativeId)
	}
	deal, err := sealed.DecodeDeal(m.Deal)
	if err != nil {
		return Errorf(CodeBadDeal, "deal does not decode: %v", err)
	}
	if deal.Dealer() != j {
		return Errorf(CodeBadDeal, "deal is for trustee index %d; party %q is trustee %d of initiative %q", deal.Dealer(), m.PartyId, j, m.InitiativeId)
	}
	params, err := DKGParams(c.chainID, st)
	if err != nil {
		return err
	}
	if err := sealed.VerifyDeal(params, deal); err != nil {
		return Errorf(CodeBadDeal, "deal of trustee %q is invalid: %v", m.PartyId, err)
	}
	c.kv.Set(DealKey(m.InitiativeId, uint32(j)), m.Deal)
	st.Dealt = insertSorted(st.Dealt, uint32(j))
	c.put(SealedKey(m.InitiativeId), st)
	return nil
}

func (c *execCtx) trusteeComplaint(d *DecodedTx, m *tabellav1.TrusteeComplaint) error {
	in, err := c.sealedHeader(m.InitiativeId)
	if err != nil {
		return err
	}
	if in.Status == statusCancelled {
		return notActive(m.InitiativeId, in.Status)
	}
	k, err := c.trusteeIndex(d, in.Spec, m.PartyId)
	if err != nil {
		return err
	}
	if end := in.Spec.Sealed.ComplaintsCloseAt; c.time >= end {
		return Errorf(CodeWrongPhase, "the complaint window of initiative %q closed at %s", m.InitiativeId, fmtTime(end))
	}
	st, err := c.sealedState(m.InitiativeId)
	if err != nil {
		return err
	}
	cp, err := sealed.DecodeComplaint(m.Complaint)
	if err != nil {
		return Errorf(CodeComplaintRejected, "complaint does not decode: %v", err)
	}
	if cp.Complainer() != k {
		return Errorf(CodeComplaintRejected, "complaint is by trustee index %d; party %q is trustee %d", cp.Complainer(), m.PartyId, k)
	}
	dealer := cp.Dealer()
	if dealer < 1 || dealer > len(st.TrusteeKeys) || !slices.Contains(st.Dealt, uint32(dealer)) {
		return Errorf(CodeNotFound, "trustee %d has posted no deal in initiative %q to complain about", dealer, m.InitiativeId)
	}
	key := ComplaintKey(m.InitiativeId, uint32(dealer), uint32(k))
	if prev, err := c.kv.Get(key); err != nil {
		return err
	} else if prev != nil {
		return Errorf(CodeAlreadyExists, "trustee %q has already complained about trustee %d", m.PartyId, dealer)
	}
	raw, err := c.kv.Get(DealKey(m.InitiativeId, uint32(dealer)))
	if err != nil {
		return err
	}
	deal, err := sealed.DecodeDeal(raw)
	if err != nil {
		return fmt.Errorf("ledger: stored deal %d of %q: %w", dealer, m.InitiativeId, err)
	}
	params, err := DKGParams(c.chainID, st)
	if err != nil {
		return err
	}
	if err := sealed.CheckComplaint(params, deal, cp); err != nil {
		return Errorf(CodeComplaintRejected, "complaint against trustee %d is not upheld: %v", dealer, err)
	}
	// Upheld: the share the dealer sent is provably wrong, so its deal
	// is left out of the key.
	c.kv.Set(key, m.Complaint)
	st.Disqualified = insertSorted(st.Disqualified, uint32(dealer))
	c.put(SealedKey(m.InitiativeId), st)
	return nil
}

// finishCeremony is the event at complaints_close_at: it fixes the joint
// key from the qualified deals, or fails the ceremony and cancels the
// initiative, which then never opens.
func (c *execCtx) finishCeremony(id string) error {
	h, err := c.header(id)
	if err != nil {
		return err
	}
	if h.Status == statusCancelled {
		return nil
	}
	st, err := c.sealedState(id)
	if err != nil {
		return err
	}
	if st.Status != ceremonyDealing {
		return nil
	}
	params, err := DKGParams(c.chainID, st)
	if err != nil {
		return err
	}
	var deals []*sealed.Deal
	for _, j := range st.Dealt {
		if slices.Contains(st.Disqualified, j) {
			continue
		}
		raw, err := c.kv.Get(DealKey(id, j))
		if err != nil {
			return err
		}
		deal, err := sealed.DecodeDeal(raw)
		if err != nil {
			return fmt.Errorf("ledger: stored deal %d of %q: %w", j, id, err)
		}
		deals = append(deals, deal)
	}
	qualified, err := sealed.Qualify(params, deals, nil)
	if errors.Is(err, sealed.ErrNotEnough) {
		st.Status = ceremonyFailed
		st.Failure = fmt.Sprintf("key ceremony failed: %d of %d trustees qualified (%d posted a deal, %d disqualified by upheld complaints), the threshold is %d", len(deals), len(st.TrusteeKeys), len(st.Dealt), len(st.Disqualified), st.Threshold)
		st.KeyHeight = c.height
		c.put(SealedKey(id), st)
		in, err := c.initiative(id)
		if err != nil {
			return err
		}
		c.setStatus(in, statusCancelled)
		in.Cancellation = &tabellav1.Cancellation{Reason: st.Failure, Height: c.height, Time: c.time}
		c.saveInitiative(in)
		return nil
	}
	if err != nil {
		return fmt.Errorf("ledger: qualify deals of %q: %w", id, err)
	}
	y, err := sealed.JointKey(qualified)
	if err != nil {
		return fmt.Errorf("ledger: joint key of %q: %w", id, err)
	}
	st.Qualified = nil
	for _, d := range qualified {
		st.Qualified = append(st.Qualified, uint32(d.Dealer()))
	}
	st.JointKey = y.Bytes()
	st.VerificationKeys = make([][]byte, len(st.TrusteeKeys))
	for i := range st.VerificationKeys {
		vk, err := sealed.VerificationKey(qualified, i+1)
		if err != nil {
			return fmt.Errorf("ledger: verification key %d of %q: %w", i+1, id, err)
		}
		st.VerificationKeys[i] = vk.Bytes()
	}
	st.Status = ceremonyReady
	st.KeyHeight = c.height
	c.put(SealedKey(id), st)
	return nil
}

// insertSorted inserts v into the increasing list s if it is not there.
func insertSorted(s []uint32, v uint32) []uint32 {
	i, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	return slices.Insert(s, i, v)
}
