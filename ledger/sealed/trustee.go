package sealed

import (
	"fmt"
	"io"
)

// MaxTrustees bounds the number of DKG participants (deal size is linear in
// it, complaint handling quadratic).
const MaxTrustees = 64

// TrusteeKey is a trustee's long-term transport key pair: DKG dealers encrypt
// its shares to the public half, which is registered on the ledger before the
// ceremony. Index is the trustee's 1-based position in DKGParams.Trustees and
// its Shamir evaluation point.
type TrusteeKey struct {
	index int
	sk    *scalar
	pk    PublicKey
}

// NewTrusteeKey draws a fresh transport key for the trustee at index (1..MaxTrustees).
func NewTrusteeKey(rnd io.Reader, index int) (*TrusteeKey, error) {
	if index < 1 || index > MaxTrustees {
		return nil, fmt.Errorf("%w: trustee index %d, want 1..%d", ErrRules, index, MaxTrustees)
	}
	for {
		sk, err := randomScalar(rnd)
		if err != nil {
			return nil, err
		}
		if !isZero(sk) {
			return &TrusteeKey{index: index, sk: sk, pk: PublicKey{gExp(sk)}}, nil
		}
	}
}

// Index is the trustee's 1-based index.
func (k *TrusteeKey) Index() int { return k.index }

// Public is the transport public key to register for the ceremony.
func (k *TrusteeKey) Public() PublicKey { return k.pk }

// Bytes encodes the SECRET key as u16 index ‖ scalar, for the trustee's own
// storage. It must never be published.
func (k *TrusteeKey) Bytes() []byte {
	var w writer
	w.u16(uint16(k.index))
	w.scalar(k.sk)
	return w.buf
}

// DecodeTrusteeKey parses TrusteeKey.Bytes.
func DecodeTrusteeKey(b []byte) (*TrusteeKey, error) {
	r := reader{b: b}
	idx := int(r.u16("trustee index"))
	sk := r.scalar("trustee secret")
	if err := r.done("trustee key"); err != nil {
		return nil, err
	}
	if idx < 1 || idx > MaxTrustees || isZero(sk) {
		return nil, fmt.Errorf("%w: trustee key index %d or zero secret", ErrEncoding, idx)
	}
	return &TrusteeKey{index: idx, sk: sk, pk: PublicKey{gExp(sk)}}, nil
}

// KeyShare is a trustee's share x_i of the joint decryption key, the sum of
// the shares it received from every qualified dealer. g^{x_i} equals
// VerificationKey(qualified, i).
type KeyShare struct {
	index int
	x     *scalar
}

// Index is the trustee's 1-based index.
func (s *KeyShare) Index() int { return s.index }

// VerificationKey returns g^{x_i}.
func (s *KeyShare) VerificationKey() PublicKey { return PublicKey{gExp(s.x)} }

// Bytes encodes the SECRET share as u16 index ‖ scalar, for the trustee's own
// storage. It must never be published.
func (s *KeyShare) Bytes() []byte {
	var w writer
	w.u16(uint16(s.index))
	w.scalar(s.x)
	return w.buf
}

// DecodeKeyShare parses KeyShare.Bytes.
func DecodeKeyShare(b []byte) (*KeyShare, error) {
	r := reader{b: b}
	idx := int(r.u16("share index"))
	x := r.scalar("share secret")
	if err := r.done("key share"); err != nil {
		return nil, err
	}
	if idx < 1 || idx > MaxTrustees {
		return nil, fmt.Errorf("%w: key share index %d", ErrEncoding, idx)
	}
	return &KeyShare{index: idx, x: x}, nil
}
