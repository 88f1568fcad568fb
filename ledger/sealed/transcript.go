package sealed

import (
	"crypto/sha512"
	"encoding/binary"
	"hash"
)

// transcript is the Fiat–Shamir hash. Every field is framed as
//
//	u32(len(label)) ‖ label ‖ u64(len(data)) ‖ data
//
// into SHA-512, so no two different sequences of fields hash the same input.
// The challenge is the group's hash-to-scalar (expand_message_xmd with
// SHA-512, reduced mod ℓ) of the 64-byte digest under a per-proof domain
// separation tag. A transcript always starts with a protocol tag naming the
// proof, so a proof of one kind can never be replayed as another.
type transcript struct {
	h   hash.Hash
	dst string
}

func newTranscript(domain string) *transcript {
	t := &transcript{h: sha512.New(), dst: domain}
	t.bytes("domain", []byte(domain))
	return t
}

func (t *transcript) bytes(label string, data []byte) {
	var n [8]byte
	binary.BigEndian.PutUint32(n[:4], uint32(len(label)))
	t.h.Write(n[:4])
	t.h.Write([]byte(label))
	binary.BigEndian.PutUint64(n[:], uint64(len(data)))
	t.h.Write(n[:])
	t.h.Write(data)
}

func (t *transcript) u64(label string, v uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	t.bytes(label, b[:])
}

func (t *transcript) element(label string, e *element) {
	t.bytes(label, encodeElement(e))
}

func (t *transcript) ciphertext(label string, c Ciphertext) {
	t.bytes(label, append(encodeElement(c.a), encodeElement(c.b)...))
}

// challenge finalises the transcript.
func (t *transcript) challenge() *scalar {
	return hashToScalar(t.h.Sum(nil), []byte(t.dst))
}

// digest finalises the transcript into 64 raw bytes (used as a KDF).
func (t *transcript) digest() []byte { return t.h.Sum(nil) }
