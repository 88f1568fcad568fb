package ledger

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"fmt"

	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// Anonymous eligibility (docs/anonymous-voting.md, docs/protocol.md §5.10).
//
// An ANONYMOUS initiative accepts ballots that carry, instead of a
// credential, an RFC 9474 blind RSA signature (a token) over the voter's
// fresh per-initiative key. The issuer checks a person's eligibility off the
// ledger and blind-signs at most once per person; blinding keeps it from
// linking the token to the key. The ledger verifies the token with the RSA
// key the issuer attested for this initiative and uses the voter key as the
// nullifier: one live ballot per key, as for public ballots.
//
// The variant is RSABSSA-SHA384-PSS-Deterministic: the message is used as
// is (no random prefix), which RFC 9474 allows when the message has high
// entropy; ours holds a fresh ed25519 key, 256 bits chosen by the voter.
// The PSS salt (48 bytes, chosen by the voter when blinding) still makes
// every token different, and the token stays as small as the modulus.

// Domain-separation prefixes of the blind-key attestation and the token
// message. Both continue "tabella/v1" with '/', which a tx's sign bytes
// never do (chain ids cannot contain '/'), and differ from each other and
// from the credential prefix in the next byte.
const (
	BlindKeySignPrefix = "tabella/v1/blind-key"
	TokenMessagePrefix = "tabella/v1/anonymous-token"
)

// Token parameters (RFC 9474 §5, RSABSSA-SHA384-PSS-Deterministic).
var tokenPSS = &rsa.PSSOptions{SaltLength: sha512.Size384, Hash: crypto.SHA384}

// Secrecy shorthands.
const (
	secrecyUnspecified     = tabellav1.Secrecy_SECRECY_UNSPECIFIED
	secrecyPublic          = tabellav1.Secrecy_SECRECY_PUBLIC
	secrecyAnonymous       = tabellav1.Secrecy_SECRECY_ANONYMOUS
	secrecySealed          = tabellav1.Secrecy_SECRECY_SEALED
	secrecyAnonymousSealed = tabellav1.Secrecy_SECRECY_ANONYMOUS_SEALED
)

// Anonymous reports whether an initiative spec takes anonymous tokens.
func Anonymous(s *tabellav1.InitiativeSpec) bool {
	return s.GetSecrecy() == secrecyAnonymous || s.GetSecrecy() == secrecyAnonymousSealed
}

// BlindKeySignBytes returns the bytes an issuer signs with its registered
// ed25519 key to attest its RSA blind-signing key for an initiative. The
// '/' separators make the encoding unambiguous: chain ids and initiative
// ids never contain '/'.
func BlindKeySignBytes(chainID, initiativeID string, rsaPublicKey []byte) []byte {
	b := make([]byte, 0, len(BlindKeySignPrefix)+len(chainID)+len(initiativeID)+2+len(rsaPublicKey))
	b = append(b, BlindKeySignPrefix...)
	b = append(b, chainID...)
	b = append(b, '/')
	b = append(b, initiativeID...)
	b = append(b, '/')
	return append(b, rsaPublicKey...)
}

// TokenMessage returns the message an anonymous token signs: it binds the
// token to the chain, the initiative and the voter key, so a token is
// worthless for another key, another initiative or another chain.
func TokenMessage(chainID, initiativeID string, voterKey []byte) []byte {
	b := make([]byte, 0, len(TokenMessagePrefix)+len(chainID)+len(initiativeID)+2+len(voterKey))
	b = append(b, TokenMessagePrefix...)
	b = append(b, chainID...)
	b = append(b, '/')
	b = append(b, initiativeID...)
	b = append(b, '/')
	return append(b, voterKey...)
}

// ParseBlindKey decodes and checks an RSA blind-signing public key: DER
// SubjectPublicKeyInfo of at most MaxBlindKeyDERBytes, an RSA key of
// MinBlindKeyBits to MaxBlindKeyBits with public exponent 65537.
func ParseBlindKey(der []byte) (*rsa.PublicKey, error) {
	if len(der) == 0 {
		return nil, fmt.Errorf("the RSA public key is missing")
	}
	if len(der) > MaxBlindKeyDERBytes {
		return nil, fmt.Errorf("the RSA public key is %d bytes, the limit is %d", len(der), MaxBlindKeyDERBytes)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("the RSA public key is not a DER SubjectPublicKeyInfo: %v", err)
	}
	pk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the key is a %T, not an RSA key", k)
	}
	if n := pk.N.BitLen(); n < MinBlindKeyBits || n > MaxBlindKeyBits {
		return nil, fmt.Errorf("the RSA key has %d bits; blind keys have %d to %d", n, MinBlindKeyBits, MaxBlindKeyBits)
	}
	if pk.E != 65537 {
		return nil, fmt.Errorf("the RSA key's public exponent is %d; blind keys use 65537", pk.E)
	}
	return pk, nil
}

// VerifyToken reports whether sig is a valid token over msg under the
// blind key der (RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte
// salt: RFC 9474's Verify). The signature must be exactly as long as the
// modulus and below it, so a token has one encoding only. It uses Go's
// crypto/rsa rather than circl's verifier, which accepts s + n as well.
func VerifyToken(der, msg, sig []byte) bool {
	pk, err := ParseBlindKey(der)
	if err != nil || len(sig) != pk.Size() {
		return false
	}
	h := sha512.Sum384(msg)
	return rsa.VerifyPSS(pk, crypto.SHA384, h[:], sig, tokenPSS) == nil
}

// validateSecrecy checks an initiative's secrecy mode and blind keys
// without state. Anonymous initiatives take no attribute predicates: a
// token carries no attributes, the issuer checks eligibility before it
// blind-signs.
func validateSecrecy(s *tabellav1.InitiativeSpec) error {
	switch s.Secrecy {
	case secrecyUnspecified, secrecyPublic, secrecySealed:
		if len(s.BlindKeys) != 0 {
			return fieldErrorf("blind_keys", "blind keys apply only to an anonymous initiative (secrecy: anonymous or anonymous_sealed)")
		}
		return validateSealed(s)
	case secrecyAnonymous, secrecyAnonymousSealed:
		// Sealing is independent of who may cast: an ANONYMOUS_SEALED
		// initiative passes both sets of checks.
		if err := validateSealed(s); err != nil {
			return err
		}
	default:
		return fieldErrorf("secrecy", "secrecy %d is not one of PUBLIC, ANONYMOUS, SEALED, ANONYMOUS_SEALED", s.Secrecy)
	}
	e := s.Eligibility
	if len(e.GetPredicates()) > 0 {
		return fieldErrorf("eligibility.predicates", "an anonymous initiative has no eligibility rules: a token carries no attributes, so the issuer checks eligibility before it blind-signs; remove the rules and have the issuers apply them")
	}
	if s.Proposals != nil && s.Proposals.Eligibility == nil {
		return fieldErrorf("proposals.eligibility", "an anonymous initiative's proposal window needs its own eligibility: submitters and candidates act in public, with credentials, not with anonymous tokens")
	}
	if len(s.BlindKeys) != len(e.GetIssuerIds()) {
		return fieldErrorf("blind_keys", "an anonymous initiative needs one blind key per accepted issuer: %d issuers, %d blind keys", len(e.GetIssuerIds()), len(s.BlindKeys))
	}
	seen := make(map[string]struct{}, len(s.BlindKeys))
	for i, bk := range s.BlindKeys {
		f := fmt.Sprintf("blind_keys[%d]", i)
		if bk == nil {
			return fieldErrorf(f, "blind key %d is empty", i)
		}
		if !contains(e.GetIssuerIds(), bk.IssuerId) {
			return fieldErrorf(f+".issuer_id", "blind key %d is for issuer %q, which the eligibility does not accept", i, bk.IssuerId)
		}
		if _, dup := seen[bk.IssuerId]; dup {
			return fieldErrorf(f+".issuer_id", "issuer %q has two blind keys", bk.IssuerId)
		}
		seen[bk.IssuerId] = struct{}{}
		if _, err := ParseBlindKey(bk.RsaPublicKey); err != nil {
			return fieldErrorf(f+".rsa_public_key", "blind key of issuer %q: %v", bk.IssuerId, err)
		}
		if len(bk.Attestation) != ed25519.SignatureSize {
			return fieldErrorf(f+".attestation", "blind key of issuer %q: the attestation must be the issuer's %d-byte ed25519 signature", bk.IssuerId, ed25519.SignatureSize)
		}
	}
	return nil
}

func secrecyName(s tabellav1.Secrecy) string {
	const p = "SECRECY_"
	n := s.String()
	if len(n) > len(p) && n[:len(p)] == p {
		return n[len(p):]
	}
	return n
}

// validateToken checks an anonymous token's shape without state.
func validateToken(t *tabellav1.AnonymousToken) error {
	if !ValidID(t.IssuerId) {
		return Errorf(CodeBadToken, "token issuer id %q is not a valid id", t.IssuerId)
	}
	if n := len(t.Signature); n < MinBlindKeyBits/8 || n > MaxBlindKeyBits/8 {
		return Errorf(CodeBadToken, "token signature is %d bytes; a blind signature is %d to %d bytes, the size of the issuer's RSA modulus", n, MinBlindKeyBits/8, MaxBlindKeyBits/8)
	}
	return nil
}

// checkBlindKeys verifies, at creation, that every blind key is attested
// by its issuer's registered key, and writes each under BlindKeyKey. The
// issuers were checked registered and not revoked before.
func (c *execCtx) checkBlindKeys(spec *tabellav1.InitiativeSpec) error {
	for i, bk := range spec.BlindKeys {
		iss, ok, err := c.issuer(bk.IssuerId)
		if err != nil {
			return err
		}
		if !ok {
			return Errorf(CodeUnknownIssuer, "blind key names issuer %q, which is not registered", bk.IssuerId)
		}
		if !c.sigs.Verify(iss.PublicKey, BlindKeySignBytes(c.chainID, spec.Id, bk.RsaPublicKey), bk.Attestation) {
			return codedFieldErrorf(CodeBadBlindKey, fmt.Sprintf("blind_keys[%d].attestation", i), "the blind key given for issuer %q is not attested by that issuer's registered key for initiative %q on chain %q", bk.IssuerId, spec.Id, c.chainID)
		}
	}
	for _, bk := range spec.BlindKeys {
		c.put(BlindKeyKey(spec.Id, bk.IssuerId), bk)
	}
	return nil
}

// checkToken runs the checks of an anonymous ballot: the token comes from
// an accepted, registered, non-revoked issuer and verifies, under that
// issuer's blind key for this initiative, over the signer's key.
func (c *execCtx) checkToken(d *DecodedTx, t *tabellav1.AnonymousToken, initiative string, elig *tabellav1.Eligibility) error {
	if !contains(elig.IssuerIds, t.IssuerId) {
		return Errorf(CodeIssuerNotAccepted, "initiative %q does not accept tokens from issuer %q", initiative, t.IssuerId)
	}
	iss, ok, err := c.issuer(t.IssuerId)
	if err != nil {
		return err
	}
	if !ok {
		return Errorf(CodeUnknownIssuer, "token issuer %q is not registered", t.IssuerId)
	}
	if iss.Revoked {
		return Errorf(CodeIssuerRevoked, "token issuer %q has been revoked", t.IssuerId)
	}
	var bk tabellav1.BlindKey
	ok, err = c.get(BlindKeyKey(initiative, t.IssuerId), &bk)
	if err != nil {
		return err
	}
	if !ok {
		return Errorf(CodeIssuerNotAccepted, "issuer %q has no blind key for initiative %q", t.IssuerId, initiative)
	}
	if !c.sigs.VerifyToken(bk.RsaPublicKey, TokenMessage(c.chainID, initiative, d.Signer), t.Signature) {
		return Errorf(CodeBadToken, "the anonymous token does not verify: it was not blind-signed by issuer %q for this initiative and this voter key", t.IssuerId)
	}
	return nil
}
