package ledger

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/tabella/tabella/ledger/sealed"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// checkCredential runs the credential checks of a ballot, a proposal or a
// candidacy: the credential certifies the signer, comes from an accepted,
// registered and non-revoked issuer, has not expired, verifies, and its
// attributes satisfy the eligibility.
func (c *execCtx) checkCredential(d *DecodedTx, sc *tabellav1.SignedCredential, initiative string, elig *tabellav1.Eligibility, who string) error {
	cred := d.Credential
	if !bytes.Equal(cred.VoterPublicKey, d.Signer) {
		return Errorf(CodeBadCredential, "the credential certifies key %s, the %s is signed by %s", shortKey(cred.VoterPublicKey), who, shortKey(d.Signer))
	}
	if !contains(elig.IssuerIds, cred.IssuerId) {
		return Errorf(CodeIssuerNotAccepted, "initiative %q does not accept credentials from issuer %q", initiative, cred.IssuerId)
	}
	iss, ok, err := c.issuer(cred.IssuerId)
	if err != nil {
		return err
	}
	if !ok {
		return Errorf(CodeUnknownIssuer, "credential issuer %q is not registered", cred.IssuerId)
	}
	if iss.Revoked {
		return Errorf(CodeIssuerRevoked, "credential issuer %q has been revoked", cred.IssuerId)
	}
	if cred.ExpiresAt <= c.time {
		return Errorf(CodeCredentialExpired, "credential expired at %s, block time is %s", fmtTime(cred.ExpiresAt), fmtTime(c.time))
	}
	if !verifyCredential(c.sigs, c.chainID, iss.PublicKey, sc) {
		return Errorf(CodeBadCredential, "credential signature does not verify against issuer %q", cred.IssuerId)
	}
	if ok, why := Eligible(cred.Attributes, elig.Predicates); !ok {
		return Errorf(CodeIneligible, "%s is not eligible: %s", map[string]string{"ballot": "voter", "proposal": "submitter", "candidacy": "candidate"}[who], why)
	}
	return nil
}

// votingOpen checks an initiative accepts ballots (and withdrawals).
func votingOpen(id string, in *tabellav1.Initiative) error {
	switch in.Status {
	case statusVoting:
		return nil
	case statusCancelled:
		return notActive(id, in.Status)
	}
	return Errorf(CodeNotOpen, "initiative %q is not open for voting (status %s; voting %s)", id, statusName(in.Status), windowText(in.Spec.Schedule))
}

// castBallot records a ballot and moves the running tally. The checks run
// from the cheapest to the dearest; every one happens before any write.
// It reads the initiative's header, its tally, the voter's live ballot
// and, per selection, a count (and a budget project's cost): its cost
// grows with the selections, not with the options.
func (c *execCtx) castBallot(d *DecodedTx, m *tabellav1.CastBallot) error {
	in, err := c.headerView(m.InitiativeId) // read only: castBallot never changes the initiative
	if err != nil {
		return err
	}
	if err := votingOpen(m.InitiativeId, in); err != nil {
		return err
	}
	spec := in.Spec
	var issuerID string
	switch anon := Anonymous(spec); {
	case anon && m.Token == nil:
		return Errorf(CodeWrongSecrecy, "initiative %q is anonymous: a ballot carries an anonymous token from `tabella credential request`, not a credential", m.InitiativeId)
	case !anon && m.Token != nil:
		return Errorf(CodeWrongSecrecy, "initiative %q is public: a ballot carries a credential, not an anonymous token", m.InitiativeId)
	case anon:
		if err := c.checkToken(d, m.Token, m.InitiativeId, spec.Eligibility); err != nil {
			return err
		}
		issuerID = m.Token.IssuerId
	default:
		if err := c.checkCredential(d, m.Credential, m.InitiativeId, spec.Eligibility, "ballot"); err != nil {
			return err
		}
		issuerID = d.Credential.IssuerId
	}
	rules := spec.Ballot
	var sealedBallot *sealed.Ballot
	switch sealedMode := Sealed(spec); {
	case sealedMode && len(m.SealedBallot) == 0:
		return Errorf(CodeWrongSecrecy, "initiative %q is sealed: a ballot carries encrypted selections with their proofs (`tabella vote` encrypts automatically), not plain selections", m.InitiativeId)
	case !sealedMode && len(m.SealedBallot) != 0:
		return Errorf(CodeWrongSecrecy, "initiative %q is not sealed: a ballot carries plain selections, not an encrypted ballot", m.InitiativeId)
	case sealedMode:
		// The proofs replace every selection check below: the number of
		// selections and the budget are proven, not seen.
		if sealedBallot, err = c.checkSealedBallot(d, m); err != nil {
			return err
		}
	}
	n := uint32(len(m.Selections))
	switch {
	case sealedBallot != nil:
	case spec.Kind == kindPetition:
		if n != 0 {
			return Errorf(CodeSelectionCount, "a petition signature selects nothing; this one selects %d options", n)
		}
	case spec.Kind == kindBudget && rules.MaxSelections == 0:
		// No upper bound besides the number of projects.
		if n < rules.MinSelections {
			return Errorf(CodeSelectionCount, "ballot selects %d projects, this initiative needs at least %d", n, rules.MinSelections)
		}
	case n < rules.MinSelections || n > rules.MaxSelections:
		return Errorf(CodeSelectionCount, "ballot selects %d options, this initiative needs %d to %d", n, rules.MinSelections, rules.MaxSelections)
	}
	var tally tabellav1.Tally
	if _, err := c.get(TallyKey(m.InitiativeId), &tally); err != nil {
		return err
	}
	options := optionCount(in, &tally)
	for _, s := range m.Selections {
		if s >= options {
			if spec.Proposals != nil {
				return Errorf(CodeUnknownOption, "option index %d is not on the ballot: the initiative has %d options, the approved proposals", s, options)
			}
			return Errorf(CodeUnknownOption, "option index %d does not exist (the initiative has %d options)", s, options)
		}
	}
	if spec.Kind == kindBudget && sealedBallot == nil {
		if err := c.checkBudgetRule(m.InitiativeId, spec.Budget, m.Selections); err != nil {
			return err
		}
	}

	voter := []byte(d.Signer)
	var prev tabellav1.BallotRecord
	hasPrev, err := c.get(BallotKey(m.InitiativeId, voter), &prev)
	if err != nil {
		return err
	}
	if hasPrev {
		if bytes.Equal(prev.BallotHash, d.Hash) {
			return Errorf(CodeReplay, "this exact ballot is already recorded (sequence %d)", prev.Sequence)
		}
		if !rules.GetRevotingAllowed() {
			switch {
			case spec.Kind == kindPetition && prev.Withdrawn:
				return Errorf(CodeAlreadySigned, "this person signed petition %q and withdrew the signature; it cannot be signed again", m.InitiativeId)
			case spec.Kind == kindPetition:
				return Errorf(CodeAlreadySigned, "this person has already signed petition %q", m.InitiativeId)
			case prev.Withdrawn:
				return Errorf(CodeRevotingDisabled, "this voter withdrew a ballot and initiative %q does not allow voting again", m.InitiativeId)
			}
			return Errorf(CodeRevotingDisabled, "this voter has already voted and initiative %q does not allow revoting", m.InitiativeId)
		}
		if m.Sequence <= prev.Sequence {
			return Errorf(CodeReplay, "a ballot with sequence %d is already recorded for this voter; a new ballot needs a higher sequence", prev.Sequence)
		}
	}

	live := hasPrev && !prev.Withdrawn
	if hasPrev {
		c.put(HistoryKey(m.InitiativeId, voter, prev.Sequence), &prev)
		for _, s := range prev.Selections {
			if err := c.addCount(m.InitiativeId, s, -1); err != nil {
				return err
			}
		}
	}
	if sealedBallot != nil {
		// A revote divides the superseded ciphertexts out of the tally.
		var old *sealed.Ballot
		if live && prev.Sealed {
			if old, err = recordedSealedBallot(&prev); err != nil {
				return err
			}
		}
		if err := moveSealed(&tally, options, old, sealedBallot); err != nil {
			return err
		}
	}
	if !live {
		tally.Turnout++
	}
	for _, s := range m.Selections {
		if err := c.addCount(m.InitiativeId, s, +1); err != nil {
			return err
		}
	}
	if spec.Kind == kindPetition && tally.ThresholdReachedHeight == 0 && tally.Turnout >= spec.GetResultRule().GetSignatureThreshold() {
		tally.ThresholdReachedHeight = c.height
	}
	tally.InitiativeId = m.InitiativeId
	tally.BallotsCast++
	tally.Height = c.height
	c.put(TallyKey(m.InitiativeId), &tally)
	c.put(BallotKey(m.InitiativeId, voter), &tabellav1.BallotRecord{
		InitiativeId: m.InitiativeId,
		Voter:        voter,
		Sequence:     m.Sequence,
		Selections:   m.Selections,
		IssuerId:     issuerID,
		BallotHash:   d.Hash,
		Height:       c.height,
		Tx:           d.Raw,
		Sealed:       sealedBallot != nil,
	})
	return nil
}

// checkBudgetRule checks a budget ballot's selection against the budget's
// ballot rule, reading the cost of each selected project.
func (c *execCtx) checkBudgetRule(id string, b *tabellav1.Budget, sel []uint32) error {
	if b.BallotRule == tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_PROJECT_COUNT {
		return nil
	}
	var sum uint64 // at most MaxOptions costs of at most MaxAmount each: no overflow
	for _, s := range sel {
		o, err := c.option(id, s)
		if err != nil {
			return err
		}
		sum += o.Cost
	}
	if sum > b.Total {
		return Errorf(CodeOverBudget, "the selected projects cost %d %s, over the budget of %d", sum, b.Currency, b.Total)
	}
	if b.BallotRule == tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_MIN_SHARE && sum*BasisPoints < uint64(b.MinShareBp)*b.Total {
		return Errorf(CodeBelowMinShare, "the selected projects cost %d %s; this budget asks for at least %s of %d", sum, b.Currency, FormatBasisPoints(b.MinShareBp), b.Total)
	}
	return nil
}

// FormatBasisPoints renders basis points as a percentage: 2500 is "25%",
// 1250 "12.5%", 1 "0.01%".
func FormatBasisPoints(bp uint32) string {
	s := fmt.Sprintf("%d.%02d", bp/100, bp%100)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}

// withdrawBallot withdraws the signer's live ballot: the ballot moves to
// history, its selections leave the counts, and the live record becomes a
// withdrawal carrying the signed WithdrawBallot.
func (c *execCtx) withdrawBallot(d *DecodedTx, m *tabellav1.WithdrawBallot) error {
	in, err := c.header(m.InitiativeId)
	if err != nil {
		return err
	}
	if err := votingOpen(m.InitiativeId, in); err != nil {
		return err
	}
	if !in.Spec.GetBallot().GetWithdrawalAllowed() {
		return Errorf(CodeWithdrawalDisabled, "initiative %q does not allow withdrawing a ballot", m.InitiativeId)
	}
	voter := []byte(d.Signer)
	var prev tabellav1.BallotRecord
	ok, err := c.get(BallotKey(m.InitiativeId, voter), &prev)
	if err != nil {
		return err
	}
	if !ok || prev.Withdrawn {
		return Errorf(CodeNotFound, "this key has no live ballot in initiative %q to withdraw", m.InitiativeId)
	}
	if m.Sequence <= prev.Sequence {
		return Errorf(CodeReplay, "the live ballot has sequence %d; a withdrawal needs a higher sequence", prev.Sequence)
	}
	var tally tabellav1.Tally
	if _, err := c.get(TallyKey(m.InitiativeId), &tally); err != nil {
		return err
	}
	c.put(HistoryKey(m.InitiativeId, voter, prev.Sequence), &prev)
	for _, s := range prev.Selections {
		if err := c.addCount(m.InitiativeId, s, -1); err != nil {
			return err
		}
	}
	if prev.Sealed {
		old, err := recordedSealedBallot(&prev)
		if err != nil {
			return err
		}
		if err := moveSealed(&tally, optionCount(in, &tally), old, nil); err != nil {
			return err
		}
	}
	tally.Turnout--
	tally.Withdrawals++
	tally.Height = c.height
	if in.Spec.Kind == kindPetition && tally.Turnout < in.Spec.GetResultRule().GetSignatureThreshold() {
		tally.ThresholdReachedHeight = 0
	}
	c.put(TallyKey(m.InitiativeId), &tally)
	c.put(BallotKey(m.InitiativeId, voter), &tabellav1.BallotRecord{
		InitiativeId: m.InitiativeId,
		Voter:        voter,
		Sequence:     m.Sequence,
		IssuerId:     prev.IssuerId,
		BallotHash:   d.Hash,
		Height:       c.height,
		Tx:           d.Raw,
		Withdrawn:    true,
	})
	return nil
}

// addCount moves one option's count by delta. Counts are 8-byte big-endian
// values under CountKey; a missing key is zero.
func (c *execCtx) addCount(initiative string, option uint32, delta int64) error {
	k := CountKey(initiative, option)
	cur, err := readCount(c.kv, k)
	if err != nil {
		return err
	}
	if delta < 0 && cur < uint64(-delta) {
		return fmt.Errorf("ledger: count of option %d in %q would go negative", option, initiative)
	}
	c.kv.Set(k, be64(uint64(int64(cur)+delta)))
	return nil
}

func readCount(r reader, k []byte) (uint64, error) {
	b, err := r.Get(k)
	if err != nil {
		return 0, fmt.Errorf("read count %q: %w", k, err)
	}
	if b == nil {
		return 0, nil
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("count %q has %d bytes, want 8", k, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func shortKey(k []byte) string {
	h := hex.EncodeToString(k)
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}

func statusName(s tabellav1.InitiativeStatus) string {
	const p = "INITIATIVE_STATUS_"
	n := s.String()
	if len(n) > len(p) && n[:len(p)] == p {
		return n[len(p):]
	}
	return n
}

func windowText(s *tabellav1.Schedule) string {
	return fmt.Sprintf("from %s to %s in block time", fmtTime(s.VotingOpensAt), fmtTime(s.VotingClosesAt))
}

// fmtTime renders unix seconds as RFC 3339 in UTC, so messages are the same
// on every node.
func fmtTime(unix int64) string {
	return time.Unix(unix, 0).UTC().Format(time.RFC3339)
}
