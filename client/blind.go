package client

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha3"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/cloudflare/circl/blindsign/blindrsa"
	"google.golang.org/protobuf/proto"

	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// Anonymous tokens (docs/anonymous-voting.md): the issuer blind-signs, with
// an RSA key it made for one initiative, a message binding a voter's fresh
// ed25519 key to that initiative (ledger.TokenMessage). The protocol is RFC
// 9474's RSABSSA-SHA384-PSS-Deterministic, through circl's blindrsa.

// BlindVariant is the RFC 9474 variant every Tabella token uses.
const BlindVariant = blindrsa.SHA384PSSDeterministic

// DefaultBlindKeyBits is the modulus size blind-key uses by default.
// RFC 9474 asks for at least 2048 bits, which is sound for a key that
// only needs to resist forgery while one initiative runs. Every node
// verifies a token per anonymous ballot, and Go's crypto/rsa has assembly
// for moduli up to 2048 bits only: BenchmarkVerifyToken measures about
// 40 µs at 2048 bits (less than an ed25519 signature), 330 µs at 3072 and
// 550 µs at 4096.
const DefaultBlindKeyBits = 2048

// GenerateBlindKey makes an RSA blind-signing key (public exponent 65537).
func GenerateBlindKey(bits int) (*rsa.PrivateKey, error) {
	if bits < ledger.MinBlindKeyBits || bits > ledger.MaxBlindKeyBits {
		return nil, fmt.Errorf("a blind key has %d to %d bits, not %d", ledger.MinBlindKeyBits, ledger.MaxBlindKeyBits, bits)
	}
	sk, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("generate RSA key: %w", err)
	}
	return sk, nil
}

// AttestBlindKey returns the registration of pub as issuerID's blind key
// for an initiative: the key in DER (PKIX) and the issuer's ed25519
// attestation over ledger.BlindKeySignBytes. The organiser puts it into
// the initiative spec.
func AttestBlindKey(chainID, initiativeID, issuerID string, issuerKey ed25519.PrivateKey, pub *rsa.PublicKey) (*tabellav1.BlindKey, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode RSA public key: %w", err)
	}
	if _, err := ledger.ParseBlindKey(der); err != nil {
		return nil, err
	}
	return &tabellav1.BlindKey{
		IssuerId:     issuerID,
		RsaPublicKey: der,
		Attestation:  ed25519.Sign(issuerKey, ledger.BlindKeySignBytes(chainID, initiativeID, der)),
	}, nil
}

// VerifyBlindKeyAttestation checks a blind key registration against the
// issuer's registered ed25519 key, as the ledger does at creation.
func VerifyBlindKeyAttestation(chainID, initiativeID string, issuerKey []byte, bk *tabellav1.BlindKey) bool {
	return ledger.VerifySignature(issuerKey, ledger.BlindKeySignBytes(chainID, initiativeID, bk.RsaPublicKey), bk.Attestation)
}

// blindingStream is the randomness of one blinding (the PSS salt and the
// blinding factor), drawn from a secret seed the voter keeps: circl's
// blinding state cannot be serialized, so finishing a request in a later
// process blinds again from the same seed and gets the same state.
func blindingStream(seed []byte) io.Reader {
	x := sha3.NewSHAKE256()
	x.Write([]byte("tabella/v1/blinding"))
	x.Write(seed)
	return x
}

// BlindingSeedSize is the size of the secret a blinding is drawn from.
const BlindingSeedSize = 32

// blindClient prepares the circl client of a blind key.
func blindClient(blindKeyDER []byte) (blindrsa.Client, error) {
	pk, err := ledger.ParseBlindKey(blindKeyDER)
	if err != nil {
		return blindrsa.Client{}, err
	}
	return blindrsa.NewClient(BlindVariant, pk)
}

// Blind blinds the token message of voterKey for an initiative under the
// issuer's blind key, with randomness from seed. It returns the blinded
// message, which is all the issuer sees; the same inputs always give the
// same output.
func Blind(chainID, initiativeID string, blindKeyDER []byte, voterKey ed25519.PublicKey, seed []byte) ([]byte, error) {
	blinded, _, err := blind(chainID, initiativeID, blindKeyDER, voterKey, seed)
	return blinded, err
}

func blind(chainID, initiativeID string, blindKeyDER []byte, voterKey ed25519.PublicKey, seed []byte) ([]byte, blindrsa.State, error) {
	if len(seed) != BlindingSeedSize {
		return nil, blindrsa.State{}, fmt.Errorf("blinding seed is %d bytes, want %d", len(seed), BlindingSeedSize)
	}
	c, err := blindClient(blindKeyDER)
	if err != nil {
		return nil, blindrsa.State{}, err
	}
	rnd := blindingStream(seed)
	msg, err := c.Prepare(rnd, ledger.TokenMessage(chainID, initiativeID, voterKey))
	if err != nil {
		return nil, blindrsa.State{}, fmt.Errorf("prepare token message: %w", err)
	}
	blinded, state, err := c.Blind(rnd, msg)
	if err != nil {
		return nil, blindrsa.State{}, fmt.Errorf("blind token message: %w", err)
	}
	return blinded, state, nil
}

// BlindSign is the issuer's side: an RSA signature over a blinded message,
// which tells it nothing about the voter key inside.
func BlindSign(sk *rsa.PrivateKey, blinded []byte) ([]byte, error) {
	if len(blinded) != sk.Size() {
		return nil, fmt.Errorf("the blinded request is %d bytes; for this %d-bit key it must be %d (was it made for another key?)", len(blinded), sk.N.BitLen(), sk.Size())
	}
	sig, err := blindrsa.NewSigner(sk).BlindSign(blinded)
	if err != nil {
		return nil, fmt.Errorf("blind-sign: %w", err)
	}
	return sig, nil
}

// ErrBlindSignature means the issuer's answer does not unblind into a
// valid token: it was made with another key or for another request.
var ErrBlindSignature = errors.New("the blind signature does not unblind into a valid token (made with another key, or for another request?)")

// Unblind turns the issuer's blind signature into the token, blinding
// again from the same seed, and checks the token as the ledger will.
func Unblind(chainID, initiativeID, issuerID string, blindKeyDER []byte, voterKey ed25519.PublicKey, seed, blindSig []byte) (*tabellav1.AnonymousToken, error) {
	_, state, err := blind(chainID, initiativeID, blindKeyDER, voterKey, seed)
	if err != nil {
		return nil, err
	}
	c, err := blindClient(blindKeyDER)
	if err != nil {
		return nil, err
	}
	sig, err := c.Finalize(state, blindSig)
	if err != nil {
		return nil, ErrBlindSignature
	}
	if !ledger.VerifyToken(blindKeyDER, ledger.TokenMessage(chainID, initiativeID, voterKey), sig) {
		return nil, ErrBlindSignature
	}
	return &tabellav1.AnonymousToken{IssuerId: issuerID, Signature: sig}, nil
}

// AnonymousBallotTx builds and signs an anonymous ballot: the token
// replaces the credential, and voterKey is the fresh key it was issued for.
func AnonymousBallotTx(chainID string, voterKey ed25519.PrivateKey, initiativeID string, token *tabellav1.AnonymousToken, selections []uint32, sequence uint64) ([]byte, error) {
	sel := append([]uint32(nil), selections...)
	sort.Slice(sel, func(i, j int) bool { return sel[i] < sel[j] })
	return SignTx(chainID, voterKey, &tabellav1.TxBody{Msg: &tabellav1.TxBody_CastBallot{CastBallot: &tabellav1.CastBallot{
		InitiativeId: initiativeID,
		Token:        proto.CloneOf(token),
		Selections:   sel,
		Sequence:     sequence,
	}}})
}
