package sealed

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Every decoder is fuzzed for the same two properties: it never panics, and
// whatever it accepts re-encodes to exactly the input (one encoding per
// value). Accepted values are also fed to the matching verifier, which must
// fail cleanly (the fuzzer cannot forge proofs). Seed corpora live in
// testdata/fuzz and run with every `go test`; regenerate them with
// SEALED_WRITE_FUZZ_SEEDS=1 go test -run TestWriteFuzzSeeds ./ledger/sealed/

// fixture is the public state the fuzzed values are verified against.
type fixture struct {
	c     *ceremony
	y     PublicKey
	tally *Tally
}

func newFixture(t testing.TB) fixture {
	rnd := testRand(1000)
	c := newCeremony(t, rnd, 3, 2)
	q, _, _ := c.finish(t, rnd)
	y, err := JointKey(q)
	if err != nil {
		t.Fatal(err)
	}
	tally, _ := castBallots(t, rnd, y, approval(3, 1, 2), 2)
	return fixture{c: c, y: y, tally: tally}
}

func checkCanonical(t *testing.T, in, out []byte, err error) bool {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrEncoding) {
			t.Fatalf("decoder error does not wrap ErrEncoding: %v", err)
		}
		return false
	}
	if !bytes.Equal(in, out) {
		t.Fatalf("accepted a non-canonical encoding:\n in  %x\n out %x", in, out)
	}
	return true
}

func FuzzDecodeBallot(f *testing.F) {
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBallot(data)
		if !checkCanonical(t, data, bytesOrNil(b, err), err) {
			return
		}
		n := len(b.options)
		for _, rules := range []Rules{approval(n, 0, n), approval(n, 1, 1), {Options: n, Min: 0, Max: n, Costs: make([]uint64, n), Budget: 1}} {
			if err := VerifyBallot(fx.y, nil, rules, b); err == nil {
				t.Fatalf("fuzzed ballot verified under %+v", rules)
			}
		}
	})
}

func FuzzDecodeTally(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := DecodeTally(data)
		checkCanonical(t, data, bytesOrNil(v, err), err)
	})
}

func FuzzDecodeDeal(f *testing.F) {
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := DecodeDeal(data)
		if !checkCanonical(t, data, bytesOrNil(d, err), err) {
			return
		}
		// The proof of knowledge covers the whole deal: only a posted deal verifies.
		if VerifyDeal(fx.c.params, d) == nil && !bytes.Equal(data, fx.c.deals[d.dealer-1].Bytes()) {
			t.Fatal("fuzzed deal verified")
		}
	})
}

func FuzzDecodeComplaint(f *testing.F) {
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeComplaint(data)
		if !checkCanonical(t, data, bytesOrNil(c, err), err) {
			return
		}
		for _, d := range fx.c.deals {
			if CheckComplaint(fx.c.params, d, c) == nil {
				t.Fatal("complaint against an honest dealer upheld")
			}
		}
	})
}

func FuzzDecodePartialDecryption(f *testing.F) {
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodePartialDecryption(data)
		if !checkCanonical(t, data, bytesOrNil(p, err), err) {
			return
		}
		_ = VerifyPartial(nil, fx.y, fx.tally, p) // must not panic
	})
}

func FuzzDecodeCiphertext(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCiphertext(data)
		var out []byte
		if err == nil {
			out = c.Bytes()
		}
		checkCanonical(t, data, out, err)
	})
}

func FuzzDecodePublicKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := DecodePublicKey(data)
		var out []byte
		if err == nil {
			out = k.Bytes()
		}
		checkCanonical(t, data, out, err)
	})
}

func FuzzDecodeKeyShare(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := DecodeKeyShare(data)
		checkCanonical(t, data, bytesOrNil(v, err), err)
	})
}

func FuzzDecodeTrusteeKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := DecodeTrusteeKey(data)
		checkCanonical(t, data, bytesOrNil(v, err), err)
	})
}

func bytesOrNil[T interface{ Bytes() []byte }](v T, err error) []byte {
	if err != nil {
		return nil
	}
	return v.Bytes()
}

// TestWriteFuzzSeeds (re)writes the committed seed corpora: one valid
// encoding of each type plus a few near-misses.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("SEALED_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set SEALED_WRITE_FUZZ_SEEDS=1 to regenerate testdata/fuzz")
	}
	targets := map[string]string{
		"ballot": "FuzzDecodeBallot", "tally": "FuzzDecodeTally", "deal": "FuzzDecodeDeal",
		"complaint": "FuzzDecodeComplaint", "partial": "FuzzDecodePartialDecryption",
		"ciphertext": "FuzzDecodeCiphertext", "publickey": "FuzzDecodePublicKey",
		"keyshare": "FuzzDecodeKeyShare", "trusteekey": "FuzzDecodeTrusteeKey",
	}
	for name, enc := range encodings(t) {
		dir := filepath.Join("testdata", "fuzz", targets[name])
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		trailing := append(bytes.Clone(enc), 0)
		nonCanon := bytes.Clone(enc)
		copy(nonCanon[len(nonCanon)-32:], scalarL)
		seeds := map[string][]byte{
			"valid":         enc,
			"trailing":      trailing,
			"truncated":     enc[:len(enc)-1],
			"empty":         {},
			"noncanonical":  nonCanon,
			"flipped-first": append([]byte{enc[0] ^ 1}, enc[1:]...),
		}
		for seed, data := range seeds {
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n"
			if err := os.WriteFile(filepath.Join(dir, seed), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
