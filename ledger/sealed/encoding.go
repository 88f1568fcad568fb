package sealed

import (
	"encoding/binary"
	"fmt"
)

// Canonical encodings (see docs/sealed-ballots.md for the byte layouts):
//
//   - an element is its 32-byte ristretto255 encoding; the decoder accepts
//     only the unique canonical string (RFC 9496, section 4.3.1);
//   - a scalar is 32 bytes little-endian and must be < ℓ;
//   - integers are big-endian, fixed width;
//   - every top-level structure starts with a one-byte type tag, and a
//     decoder rejects trailing bytes.
//
// Because each value has exactly one accepted encoding, hashing or storing
// the bytes is equivalent to hashing or storing the value.

// Type tags of the top-level encodings.
const (
	tagBallot    byte = 0xB2
	tagTally     byte = 0x71
	tagDeal      byte = 0xD1
	tagComplaint byte = 0xC1
	tagPartial   byte = 0xA1
)

func encodeElement(e *element) []byte { return orIdentity(e).Bytes() }

func encodeScalar(s *scalar) []byte { return s.Bytes() }

func decodeElement(b []byte) (*element, error) {
	if len(b) != ElementSize {
		return nil, fmt.Errorf("%w: element is %d bytes, want %d", ErrEncoding, len(b), ElementSize)
	}
	e, err := newElement().SetCanonicalBytes(b)
	if err != nil {
		return nil, fmt.Errorf("%w: not a canonical ristretto255 element", ErrEncoding)
	}
	return e, nil
}

func decodeScalar(b []byte) (*scalar, error) {
	if len(b) != ScalarSize {
		return nil, fmt.Errorf("%w: scalar is %d bytes, want %d", ErrEncoding, len(b), ScalarSize)
	}
	s, err := newScalar().SetCanonicalBytes(b)
	if err != nil {
		return nil, fmt.Errorf("%w: scalar not reduced mod the group order", ErrEncoding)
	}
	return s, nil
}

// writer appends canonical fields.
type writer struct{ buf []byte }

func (w *writer) u8(v uint8)              { w.buf = append(w.buf, v) }
func (w *writer) u16(v uint16)            { w.buf = binary.BigEndian.AppendUint16(w.buf, v) }
func (w *writer) u32(v uint32)            { w.buf = binary.BigEndian.AppendUint32(w.buf, v) }
func (w *writer) u64(v uint64)            { w.buf = binary.BigEndian.AppendUint64(w.buf, v) }
func (w *writer) element(e *element)      { w.buf = append(w.buf, encodeElement(e)...) }
func (w *writer) scalar(s *scalar)        { w.buf = append(w.buf, encodeScalar(s)...) }
func (w *writer) raw(b []byte)            { w.buf = append(w.buf, b...) }
func (w *writer) ciphertext(c Ciphertext) { w.element(c.a); w.element(c.b) }
func (w *writer) ciphertexts(cs []Ciphertext) {
	for _, c := range cs {
		w.ciphertext(c)
	}
}

// reader consumes canonical fields. The first error sticks and every later
// read returns zero values, so decoders check r.err once at the end (or
// before allocating from a count).
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrEncoding}, args...)...)
	}
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.fail("truncated %s", what)
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8(what string) uint8 {
	b := r.take(1, what)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u16(what string) uint16 {
	b := r.take(2, what)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

func (r *reader) u32(what string) uint32 {
	b := r.take(4, what)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *reader) u64(what string) uint64 {
	b := r.take(8, what)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func (r *reader) element(what string) *element {
	b := r.take(ElementSize, what)
	if b == nil {
		return nil
	}
	e, err := decodeElement(b)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("%s: %w", what, err)
	}
	return e
}

func (r *reader) scalar(what string) *scalar {
	b := r.take(ScalarSize, what)
	if b == nil {
		return nil
	}
	s, err := decodeScalar(b)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("%s: %w", what, err)
	}
	return s
}

func (r *reader) ciphertext(what string) Ciphertext {
	return Ciphertext{a: r.element(what), b: r.element(what)}
}

func (r *reader) tag(want byte, what string) {
	if got := r.u8(what + " tag"); r.err == nil && got != want {
		r.fail("%s: tag 0x%02x, want 0x%02x", what, got, want)
	}
}

// need checks, before allocating for count items of size bytes each, that
// the input is long enough; this keeps a hostile count from causing a large
// allocation.
func (r *reader) need(count, size int, what string) bool {
	if r.err != nil {
		return false
	}
	if count < 0 || size <= 0 || len(r.b)/size < count {
		r.fail("truncated %s", what)
		return false
	}
	return true
}

func (r *reader) done(what string) error {
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes after %s", ErrEncoding, len(r.b), what)
	}
	return nil
}
