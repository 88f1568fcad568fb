package sealed

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

var (
	// ℓ, the group order, little-endian: the smallest non-reduced scalar.
	scalarL = mustHex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
	// p = 2^255 − 19 little-endian: a non-canonical encoding of s = 0.
	elementP = mustHex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
	// s = 1 is "negative" (odd) and therefore not a valid ristretto255 encoding.
	elementOdd = mustHex("0100000000000000000000000000000000000000000000000000000000000000")
	allFF      = bytes.Repeat([]byte{0xff}, 32)
)

func TestCanonicalPrimitives(t *testing.T) {
	for name, b := range map[string][]byte{"p": elementP, "odd": elementOdd, "ff": allFF, "short": make([]byte, 31), "long": make([]byte, 33)} {
		if _, err := decodeElement(b); !errors.Is(err, ErrEncoding) {
			t.Errorf("element %s: got %v, want ErrEncoding", name, err)
		}
	}
	for name, b := range map[string][]byte{"l": scalarL, "ff": allFF, "short": make([]byte, 31)} {
		if _, err := decodeScalar(b); !errors.Is(err, ErrEncoding) {
			t.Errorf("scalar %s: got %v, want ErrEncoding", name, err)
		}
	}
	lMinus1 := bytes.Clone(scalarL)
	lMinus1[0]--
	if _, err := decodeScalar(lMinus1); err != nil {
		t.Errorf("ℓ−1 rejected: %v", err)
	}
	if _, err := decodeElement(make([]byte, 32)); err != nil {
		t.Errorf("identity rejected as element: %v", err)
	}
	if _, err := DecodePublicKey(make([]byte, 32)); !errors.Is(err, ErrEncoding) {
		t.Errorf("identity accepted as public key: %v", err)
	}
	g := encodeElement(generator())
	if k, err := DecodePublicKey(g); err != nil || !bytes.Equal(k.Bytes(), g) {
		t.Errorf("generator: %v", err)
	}
	if _, err := DecodeCiphertext(append(g, elementP...)); !errors.Is(err, ErrEncoding) {
		t.Errorf("ciphertext with non-canonical B accepted: %v", err)
	}
	if _, err := DecodeCiphertext(append(g, g...)); err != nil {
		t.Errorf("ciphertext: %v", err)
	}
}

// encodings returns one canonical encoding of every top-level type.
func encodings(t testing.TB) map[string][]byte {
	t.Helper()
	rnd := testRand(900)
	c := newCeremony(t, rnd, 3, 2)
	q, shares, _ := c.finish(t, rnd)
	y, err := JointKey(q)
	if err != nil {
		t.Fatal(err)
	}
	rules := Rules{Options: 3, Min: 1, Max: 2, Costs: []uint64{5, 6, 7}, Budget: 12}
	b, err := EncryptBallot(rnd, y, nil, []uint8{1, 1, 0}, rules)
	if err != nil {
		t.Fatal(err)
	}
	tally, _ := NewTally(3)
	_ = tally.Add(b)
	p, err := shares[0].PartialDecrypt(rnd, nil, tally)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := c.keys[1].Complain(rnd, c.params, c.deals[0])
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"ballot":     b.Bytes(),
		"tally":      tally.Bytes(),
		"deal":       c.deals[0].Bytes(),
		"complaint":  cp.Bytes(),
		"partial":    p.Bytes(),
		"keyshare":   shares[0].Bytes(),
		"trusteekey": c.keys[0].Bytes(),
		"ciphertext": b.options[0].Bytes(),
		"publickey":  y.Bytes(),
	}
}

// decoders maps each encoding to its decoder, re-encoding the result.
var decoders = map[string]func([]byte) ([]byte, error){
	"ballot":     func(b []byte) ([]byte, error) { v, err := DecodeBallot(b); return bytesOf(v, err) },
	"tally":      func(b []byte) ([]byte, error) { v, err := DecodeTally(b); return bytesOf(v, err) },
	"deal":       func(b []byte) ([]byte, error) { v, err := DecodeDeal(b); return bytesOf(v, err) },
	"complaint":  func(b []byte) ([]byte, error) { v, err := DecodeComplaint(b); return bytesOf(v, err) },
	"partial":    func(b []byte) ([]byte, error) { v, err := DecodePartialDecryption(b); return bytesOf(v, err) },
	"keyshare":   func(b []byte) ([]byte, error) { v, err := DecodeKeyShare(b); return bytesOf(v, err) },
	"trusteekey": func(b []byte) ([]byte, error) { v, err := DecodeTrusteeKey(b); return bytesOf(v, err) },
	"ciphertext": func(b []byte) ([]byte, error) { v, err := DecodeCiphertext(b); return v.Bytes(), err },
	"publickey":  func(b []byte) ([]byte, error) { v, err := DecodePublicKey(b); return v.Bytes(), err },
}

func bytesOf[T interface{ Bytes() []byte }](v T, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return v.Bytes(), nil
}

func TestEncodingsRoundTripAndRejectMutations(t *testing.T) {
	for name, enc := range encodings(t) {
		dec := decoders[name]
		got, err := dec(enc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, enc) {
			t.Fatalf("%s: round trip differs", name)
		}
		if _, err := dec(append(bytes.Clone(enc), 0)); !errors.Is(err, ErrEncoding) {
			t.Errorf("%s with a trailing byte: got %v", name, err)
		}
		for _, n := range []int{0, 1, len(enc) / 2, len(enc) - 1} {
			if _, err := dec(enc[:n]); !errors.Is(err, ErrEncoding) {
				t.Errorf("%s truncated to %d: got %v", name, n, err)
			}
		}
		// Changing the first byte changes the tag or an index: either
		// rejected or decodes to a different canonical value.
		mut := bytes.Clone(enc)
		mut[0] ^= 0x80
		if got, err := dec(mut); err == nil && !bytes.Equal(got, mut) {
			t.Errorf("%s: mutated input decoded non-canonically", name)
		}
	}
}

// A non-reduced scalar or a non-canonical element anywhere in a message is
// rejected, not silently normalised.
func TestEncodingsRejectNonCanonicalFields(t *testing.T) {
	encs := encodings(t)
	cases := []struct {
		name   string
		offset int // byte offset of a 32-byte field
		field  []byte
		want   string // the field the error must name
	}{
		{"ballot", 6, elementP, "option ciphertext"},
		{"ballot", 6 + 32, elementOdd, "option ciphertext"},
		{"ballot", 6 + (3+4)*64 - 32, elementP, "slack bit ciphertext"}, // 3 options, 4 slack bits
		// Proofs start at 6 + 7×64 = 454; a two-branch proof is 2×64 bytes of
		// commitments, one challenge and two responses (224 bytes); the
		// range proof has two branches and the budget proof one.
		{"ballot", 454, elementP, "option proof commitment"},
		{"ballot", 454 + 128, allFF, "option proof challenge"},
		{"ballot", 454 + 160, scalarL, "option proof response"},
		{"ballot", 454 + 3*224 + 64, elementOdd, "slack bit proof commitment"},
		{"ballot", 454 + 7*224 + 32, elementP, "range proof commitment"},
		{"ballot", 454 + 7*224 + 128, scalarL, "range proof challenge"},
		{"ballot", 454 + 7*224 + 160, scalarL, "range proof response"},
		{"ballot", 454 + 8*224, elementOdd, "budget proof commitment"},
		{"ballot", 454 + 8*224 + 64, scalarL, "budget proof response"},
		{"tally", 3, elementP, "tally ciphertext"},
		{"deal", 7, elementOdd, "commitment"},
		{"deal", 7 + 2*32, scalarL, "proof of knowledge challenge"},
		{"deal", 7 + 2*32 + 32, scalarL, "proof of knowledge response"},
		{"deal", 7 + 2*32 + 2*32, elementP, "ephemeral key"},
		{"complaint", 5, elementP, "revealed key"},
		{"complaint", 5 + 32 + 32, scalarL, "complaint proof response"},
		{"partial", 5, elementP, "partial decryption value"},
		{"partial", 5 + 3*32, scalarL, "partial decryption proof challenge"},
		{"keyshare", 2, scalarL, "share secret"},
		{"ciphertext", 0, elementP, "ciphertext"},
		{"ciphertext", 32, elementOdd, "ciphertext"},
		{"publickey", 0, elementOdd, "public key"},
		{"trusteekey", 2, allFF, "trustee secret"},
	}
	for _, tc := range cases {
		enc := bytes.Clone(encs[tc.name])
		if tc.offset+32 > len(enc) {
			t.Fatalf("%s: offset %d beyond %d bytes", tc.name, tc.offset, len(enc))
		}
		copy(enc[tc.offset:], tc.field)
		_, err := decoders[tc.name](enc)
		if !errors.Is(err, ErrEncoding) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: field at %d (%x…): got %v, want ErrEncoding naming %q", tc.name, tc.offset, tc.field[:4], err, tc.want)
		}
	}
	// The identity is a canonical element: accepted where the protocol
	// allows it (a ciphertext component, an ephemeral key at decoding time;
	// VerifyDeal rejects identity ephemeral keys).
	enc := bytes.Clone(encs["deal"])
	copy(enc[7+4*32:], make([]byte, 32))
	if _, err := DecodeDeal(enc); err != nil {
		t.Errorf("identity ephemeral key rejected by the decoder: %v", err)
	}
}

func TestDecodeRejectsHostileCounts(t *testing.T) {
	for name, enc := range map[string][]byte{
		"ballot with 65535 options":      {tagBallot, 0xff, 0xff, 0, 0, 0},
		"ballot with 0 options":          {tagBallot, 0, 0, 0, 0, 0},
		"ballot with 65 slack bits":      {tagBallot, 0, 1, 65, 0, 1},
		"ballot with bits but no budget": {tagBallot, 0, 1, 1, 0, 0},
		"ballot with budget flag 2":      {tagBallot, 0, 1, 0, 0, 2},
		"ballot with 65 range values":    {tagBallot, 0, 1, 0, 65, 0},
		"tally with 0 options":           {tagTally, 0, 0},
		"tally with too many options":    {tagTally, 0xff, 0xff},
		"deal with threshold > trustees": {tagDeal, 0, 1, 0, 3, 0, 2},
		"deal with dealer 0":             {tagDeal, 0, 0, 0, 1, 0, 2},
		"deal with 1000 trustees":        {tagDeal, 0, 1, 0, 1, 0x03, 0xe8},
		"partial with 0 options":         {tagPartial, 0, 1, 0, 0},
		"complaint with complainer 0":    {tagComplaint, 0, 1, 0, 0},
		"wrong tag":                      {tagTally ^ 1, 0, 1},
	} {
		var err error
		switch enc[0] {
		case tagBallot:
			_, err = DecodeBallot(enc)
		case tagDeal:
			_, err = DecodeDeal(enc)
		case tagPartial:
			_, err = DecodePartialDecryption(enc)
		case tagComplaint:
			_, err = DecodeComplaint(enc)
		default:
			_, err = DecodeTally(enc)
		}
		if !errors.Is(err, ErrEncoding) {
			t.Errorf("%s: got %v, want ErrEncoding", name, err)
		}
	}
}
