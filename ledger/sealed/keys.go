package sealed

import (
	"fmt"
)

// PublicKey is a non-identity ristretto255 element: the joint election key Y,
// a trustee's verification key Y_i, or a trustee's long-term transport key.
// The zero value is invalid; obtain keys from DecodePublicKey, JointKey,
// VerificationKey or TrusteeKey.Public.
type PublicKey struct{ e *element }

// Bytes returns the canonical 32-byte encoding.
func (k PublicKey) Bytes() []byte { return encodeElement(k.e) }

// Equal reports whether two keys are the same element.
func (k PublicKey) Equal(o PublicKey) bool {
	return elementEq(orIdentity(k.e), orIdentity(o.e))
}

// valid reports whether the key may be used (set and not the identity: an
// identity key would make every ciphertext decryptable by anyone).
func (k PublicKey) valid() bool { return k.e != nil && !isIdentity(k.e) }

func (k PublicKey) String() string { return fmt.Sprintf("%x", k.Bytes()) }

// DecodePublicKey parses a canonical 32-byte public key and rejects the
// identity element.
func DecodePublicKey(b []byte) (PublicKey, error) {
	e, err := decodeElement(b)
	if err != nil {
		return PublicKey{}, fmt.Errorf("public key: %w", err)
	}
	if isIdentity(e) {
		return PublicKey{}, fmt.Errorf("%w: public key is the identity element", ErrEncoding)
	}
	return PublicKey{e}, nil
}
