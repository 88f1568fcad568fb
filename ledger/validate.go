package ledger

import (
	"crypto/ed25519"
	"crypto/sha256"

	"github.com/tabella/tabella/ledger/sealed"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// ValidID reports whether s is a well-formed identifier: 1 to MaxIDLen
// characters of [a-z0-9._-], starting with a letter or digit. Ids never
// contain '/', which separates key segments in state.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '-' || c == '.' || c == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}

// ValidChainID reports whether s can be a chain id: 1 to MaxChainIDLen
// characters of [A-Za-z0-9._-].
func ValidChainID(s string) bool {
	if len(s) == 0 || len(s) > MaxChainIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

func checkID(field, s string) error {
	if !ValidID(s) {
		return Errorf(CodeInvalidField, "%s %q is not a valid id (1-%d characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit)", field, s, MaxIDLen)
	}
	return nil
}

// ValidAttributeName reports whether s can name a credential attribute:
// 1 to MaxAttributeNameLen characters of [A-Za-z0-9_.-], starting with a
// letter or '_'.
func ValidAttributeName(s string) bool {
	if len(s) == 0 || len(s) > MaxAttributeNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case (c >= '0' && c <= '9' || c == '.' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

func checkText(field, s string, max int, required bool) error {
	if required && s == "" {
		return Errorf(CodeInvalidField, "%s is required", field)
	}
	if len(s) > max {
		return Errorf(CodeInvalidField, "%s is %d bytes, the limit is %d", field, len(s), max)
	}
	return nil
}

func checkKey(field string, k []byte) error {
	if len(k) != ed25519.PublicKeySize {
		return Errorf(CodeInvalidField, "%s is %d bytes, an ed25519 public key is %d", field, len(k), ed25519.PublicKeySize)
	}
	return nil
}

// validateBody checks a decoded body without state.
func validateBody(d *DecodedTx) error {
	b := d.Body
	if err := checkText("memo", b.Memo, MaxMemoLen, false); err != nil {
		return err
	}
	switch m := b.Msg.(type) {
	case *tabellav1.TxBody_CastBallot:
		c, err := validateCastBallot(m.CastBallot)
		if err != nil {
			return err
		}
		d.Credential = c
		return nil
	case *tabellav1.TxBody_CreateInitiative:
		if err := checkID("organiser_id", m.CreateInitiative.OrganiserId); err != nil {
			return err
		}
		return ValidateInitiativeSpec(m.CreateInitiative.Spec)
	case *tabellav1.TxBody_GovPropose:
		return validateGovPropose(m.GovPropose)
	case *tabellav1.TxBody_GovVote:
		if err := checkID("party_id", m.GovVote.PartyId); err != nil {
			return err
		}
		return checkID("proposal_id", m.GovVote.ProposalId)
	case *tabellav1.TxBody_SubmitProposal:
		c, err := validateSubmitProposal(m.SubmitProposal)
		if err != nil {
			return err
		}
		d.Credential = c
		return nil
	case *tabellav1.TxBody_RegisterCandidate:
		c, err := validateRegisterCandidate(m.RegisterCandidate)
		if err != nil {
			return err
		}
		d.Credential = c
		return nil
	case *tabellav1.TxBody_ReviewProposal:
		r := m.ReviewProposal
		if err := checkID("initiative_id", r.InitiativeId); err != nil {
			return err
		}
		if err := checkID("proposal_id", r.ProposalId); err != nil {
			return err
		}
		if r.PartyId != "" {
			if err := checkID("party_id", r.PartyId); err != nil {
				return err
			}
		}
		return checkText("review note", r.Note, MaxNoteLen, false)
	case *tabellav1.TxBody_WithdrawBallot:
		if err := checkID("initiative_id", m.WithdrawBallot.InitiativeId); err != nil {
			return err
		}
		if m.WithdrawBallot.Sequence == 0 {
			return Errorf(CodeInvalidField, "withdrawal sequence must be above the live ballot's")
		}
		return nil
	case *tabellav1.TxBody_CancelInitiative:
		if err := checkID("initiative_id", m.CancelInitiative.InitiativeId); err != nil {
			return err
		}
		return checkText("cancellation reason", m.CancelInitiative.Reason, MaxNoteLen, true)
	case *tabellav1.TxBody_RegisterTrusteeKey:
		if err := checkID("party_id", m.RegisterTrusteeKey.PartyId); err != nil {
			return err
		}
		if len(m.RegisterTrusteeKey.PublicKey) != sealed.ElementSize {
			return Errorf(CodeInvalidField, "trustee key is %d bytes, a ristretto255 key is %d", len(m.RegisterTrusteeKey.PublicKey), sealed.ElementSize)
		}
		return nil
	case *tabellav1.TxBody_TrusteeDeal:
		return validateTrusteeMsg(m.TrusteeDeal.InitiativeId, m.TrusteeDeal.PartyId, "deal", m.TrusteeDeal.Deal)
	case *tabellav1.TxBody_TrusteeComplaint:
		return validateTrusteeMsg(m.TrusteeComplaint.InitiativeId, m.TrusteeComplaint.PartyId, "complaint", m.TrusteeComplaint.Complaint)
	case *tabellav1.TxBody_DecryptionShare:
		return validateTrusteeMsg(m.DecryptionShare.InitiativeId, m.DecryptionShare.PartyId, "decryption share", m.DecryptionShare.Share)
	case nil:
		return Errorf(CodeMalformedTx, "tx body carries no message")
	default:
		return Errorf(CodeMalformedTx, "unknown message type %T", m)
	}
}

func validateCastBallot(m *tabellav1.CastBallot) (*tabellav1.Credential, error) {
	if err := checkID("initiative_id", m.InitiativeId); err != nil {
		return nil, err
	}
	if m.Sequence == 0 {
		return nil, Errorf(CodeInvalidField, "ballot sequence must start at 1")
	}
	if len(m.Selections) > MaxOptions {
		return nil, Errorf(CodeSelectionCount, "ballot has %d selections, the limit is %d", len(m.Selections), MaxOptions)
	}
	for i := 1; i < len(m.Selections); i++ {
		if m.Selections[i] <= m.Selections[i-1] {
			return nil, Errorf(CodeInvalidField, "selections must be distinct option indexes in increasing order")
		}
	}
	if len(m.SealedBallot) != 0 && len(m.Selections) != 0 {
		return nil, Errorf(CodeInvalidField, "a sealed ballot carries its selections encrypted: selections must be empty")
	}
	if m.Token != nil {
		// An anonymous ballot: the token replaces the credential, and
		// whether the initiative takes tokens is decided with state.
		if m.Credential != nil {
			return nil, Errorf(CodeWrongSecrecy, "a ballot carries either a credential (public initiatives) or an anonymous token (anonymous initiatives), not both")
		}
		return nil, validateToken(m.Token)
	}
	if m.Credential == nil {
		return nil, Errorf(CodeBadCredential, "ballot carries neither a credential (public initiatives) nor an anonymous token (anonymous initiatives)")
	}
	return DecodeCredential(m.Credential)
}

// validateTrusteeMsg checks the ids of a trustee's key ceremony or
// decryption message and that it carries its payload; the payload itself
// is decoded and checked with state.
func validateTrusteeMsg(initiative, party, what string, payload []byte) error {
	if err := checkID("initiative_id", initiative); err != nil {
		return err
	}
	if err := checkID("party_id", party); err != nil {
		return err
	}
	if len(payload) == 0 {
		return Errorf(CodeInvalidField, "the %s is missing", what)
	}
	return nil
}

func validateSubmitProposal(m *tabellav1.SubmitProposal) (*tabellav1.Credential, error) {
	if err := checkID("initiative_id", m.InitiativeId); err != nil {
		return nil, err
	}
	if err := checkID("proposal_id", m.ProposalId); err != nil {
		return nil, err
	}
	if err := checkText("proposal title", m.Title, MaxTitleLen, true); err != nil {
		return nil, err
	}
	if err := checkText("proposal summary", m.Summary, MaxOptionDescriptionLen, false); err != nil {
		return nil, err
	}
	if m.Cost == 0 || m.Cost > MaxAmount {
		return nil, Errorf(CodeInvalidField, "proposal cost must be 1 to %d", uint64(MaxAmount))
	}
	if err := checkText("proposal document_uri", m.DocumentUri, MaxURILen, false); err != nil {
		return nil, err
	}
	if n := len(m.DocumentSha256); n != 0 && n != sha256.Size {
		return nil, Errorf(CodeInvalidField, "proposal document_sha256 must be the %d-byte SHA-256 of the document", sha256.Size)
	}
	if m.DocumentUri != "" && len(m.DocumentSha256) == 0 {
		return nil, Errorf(CodeInvalidField, "proposal document_uri needs the document's SHA-256")
	}
	return DecodeCredential(m.Credential)
}

func validateRegisterCandidate(m *tabellav1.RegisterCandidate) (*tabellav1.Credential, error) {
	if err := checkID("initiative_id", m.InitiativeId); err != nil {
		return nil, err
	}
	if err := checkID("candidate_id", m.CandidateId); err != nil {
		return nil, err
	}
	if err := checkText("candidate name", m.Name, MaxTitleLen, true); err != nil {
		return nil, err
	}
	if err := checkText("candidate statement", m.Statement, MaxOptionDescriptionLen, false); err != nil {
		return nil, err
	}
	return DecodeCredential(m.Credential)
}

func validateCredential(c *tabellav1.Credential) error {
	if err := checkID("credential issuer_id", c.IssuerId); err != nil {
		return Errorf(CodeBadCredential, "%v", err.(*Error).Msg)
	}
	if len(c.VoterPublicKey) != ed25519.PublicKeySize {
		return Errorf(CodeBadCredential, "credential voter key is %d bytes, want %d", len(c.VoterPublicKey), ed25519.PublicKeySize)
	}
	if c.ExpiresAt <= c.IssuedAt {
		return Errorf(CodeBadCredential, "credential expires (%d) before it is issued (%d)", c.ExpiresAt, c.IssuedAt)
	}
	if len(c.Attributes) > MaxAttributes {
		return Errorf(CodeBadCredential, "credential has %d attributes, the limit is %d", len(c.Attributes), MaxAttributes)
	}
	for i, a := range c.Attributes {
		if !ValidAttributeName(a.Name) {
			return Errorf(CodeBadCredential, "credential attribute %d has an invalid name %q (1-%d characters of A-Z, a-z, 0-9, '_', '.', '-', starting with a letter or '_')", i, a.Name, MaxAttributeNameLen)
		}
		if i > 0 && a.Name <= c.Attributes[i-1].Name {
			return Errorf(CodeBadCredential, "credential attributes must be sorted by name and unique (%q after %q)", a.Name, c.Attributes[i-1].Name)
		}
		if err := checkValue(a.Value); err != nil {
			return Errorf(CodeBadCredential, "credential attribute %q: %s", a.Name, err.(*Error).Msg)
		}
	}
	return nil
}

func checkValue(v *tabellav1.AttributeValue) error {
	if v == nil {
		return Errorf(CodeInvalidField, "value is missing")
	}
	switch x := v.Value.(type) {
	case *tabellav1.AttributeValue_Text:
		if len(x.Text) > MaxAttributeTextLen {
			return Errorf(CodeInvalidField, "text value is %d bytes, the limit is %d", len(x.Text), MaxAttributeTextLen)
		}
	case *tabellav1.AttributeValue_Integer:
	default:
		return Errorf(CodeInvalidField, "value is neither text nor integer")
	}
	return nil
}

// ValidatePredicate checks an eligibility predicate's shape.
func ValidatePredicate(p *tabellav1.Predicate) error {
	if p == nil {
		return Errorf(CodeInvalidField, "predicate is missing")
	}
	if !ValidAttributeName(p.Attribute) {
		return Errorf(CodeInvalidField, "predicate attribute name %q is invalid (1-%d characters of A-Z, a-z, 0-9, '_', '.', '-', starting with a letter or '_')", p.Attribute, MaxAttributeNameLen)
	}
	switch p.Op {
	case tabellav1.Operator_OPERATOR_IN:
		if len(p.Values) < 1 || len(p.Values) > MaxPredicateValues {
			return Errorf(CodeInvalidField, "predicate on %q: 'in' takes 1 to %d values, got %d", p.Attribute, MaxPredicateValues, len(p.Values))
		}
	case tabellav1.Operator_OPERATOR_EQ, tabellav1.Operator_OPERATOR_NE:
		if len(p.Values) != 1 {
			return Errorf(CodeInvalidField, "predicate on %q: %s takes exactly one value", p.Attribute, OperatorSymbol(p.Op))
		}
	case tabellav1.Operator_OPERATOR_LT, tabellav1.Operator_OPERATOR_LE, tabellav1.Operator_OPERATOR_GT, tabellav1.Operator_OPERATOR_GE:
		if len(p.Values) != 1 {
			return Errorf(CodeInvalidField, "predicate on %q: %s takes exactly one value", p.Attribute, OperatorSymbol(p.Op))
		}
		if _, ok := p.Values[0].GetValue().(*tabellav1.AttributeValue_Integer); !ok {
			return Errorf(CodeInvalidField, "predicate on %q: %s compares integers only", p.Attribute, OperatorSymbol(p.Op))
		}
	default:
		return Errorf(CodeInvalidField, "predicate on %q has unknown operator %d", p.Attribute, p.Op)
	}
	for _, v := range p.Values {
		if err := checkValue(v); err != nil {
			return Errorf(CodeInvalidField, "predicate on %q: %s", p.Attribute, err.(*Error).Msg)
		}
	}
	return nil
}

func validateGovPropose(m *tabellav1.GovPropose) error {
	if err := checkID("party_id", m.PartyId); err != nil {
		return err
	}
	if err := checkID("proposal_id", m.ProposalId); err != nil {
		return err
	}
	if m.Deadline <= 0 {
		return Errorf(CodeInvalidField, "proposal deadline must be a unix time in seconds")
	}
	return ValidateGovAction(m.Action)
}

// ValidateGovAction checks a governance action without state.
func ValidateGovAction(a *tabellav1.GovAction) error {
	if a == nil {
		return Errorf(CodeInvalidField, "governance action is missing")
	}
	switch x := a.Action.(type) {
	case *tabellav1.GovAction_RegisterOrganiser:
		r := x.RegisterOrganiser
		if err := checkID("organiser id", r.Id); err != nil {
			return err
		}
		if err := checkText("organiser name", r.Name, MaxNameLen, true); err != nil {
			return err
		}
		return checkKey("organiser public key", r.PublicKey)
	case *tabellav1.GovAction_RevokeOrganiser:
		return checkID("organiser id", x.RevokeOrganiser.Id)
	case *tabellav1.GovAction_RegisterIssuer:
		r := x.RegisterIssuer
		if err := checkID("issuer id", r.Id); err != nil {
			return err
		}
		if err := checkText("issuer name", r.Name, MaxNameLen, true); err != nil {
			return err
		}
		return checkKey("issuer public key", r.PublicKey)
	case *tabellav1.GovAction_RevokeIssuer:
		return checkID("issuer id", x.RevokeIssuer.Id)
	case *tabellav1.GovAction_SetValidator:
		v := x.SetValidator
		if err := checkID("party id", v.PartyId); err != nil {
			return err
		}
		if err := checkKey("validator public key", v.PublicKey); err != nil {
			return err
		}
		if v.Power < 0 || v.Power > MaxValidatorPower {
			return Errorf(CodeInvalidField, "validator power %d is outside 0..%d", v.Power, MaxValidatorPower)
		}
		return nil
	default:
		return Errorf(CodeInvalidField, "governance action is empty or unknown")
	}
}
