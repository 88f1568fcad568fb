package sealed

import (
	"errors"
	"testing"
)

func approval(n, lo, hi int) Rules { return Rules{Options: n, Min: lo, Max: hi} }

func TestBallotRoundTrip(t *testing.T) {
	rnd := testRand(1)
	x, y := testKey(t, rnd)
	ctx := []byte("chain-1/initiative-7/voter-abc")
	cases := []struct {
		name    string
		rules   Rules
		choices []uint8
	}{
		{"single choice", approval(3, 1, 1), []uint8{0, 1, 0}},
		{"approval", approval(5, 1, 5), []uint8{1, 0, 1, 1, 0}},
		{"free, no range proof", approval(4, 0, 4), []uint8{0, 0, 0, 0}},
		{"upper bound only", approval(6, 0, 2), []uint8{0, 1, 0, 0, 0, 1}},
		{"budget", Rules{Options: 5, Min: 0, Max: 5, Costs: []uint64{100000, 50000, 75000, 120000, 30000}, Budget: 250000}, []uint8{1, 1, 0, 0, 1}},
		{"budget exact", Rules{Options: 3, Min: 1, Max: 2, Costs: []uint64{3, 4, 5}, Budget: 7}, []uint8{1, 1, 0}},
		{"budget zero", Rules{Options: 2, Min: 0, Max: 2, Costs: []uint64{3, 0}, Budget: 0}, []uint8{0, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := EncryptBallot(rnd, y, ctx, tc.choices, tc.rules)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyBallot(y, ctx, tc.rules, b); err != nil {
				t.Fatalf("honest ballot rejected: %v", err)
			}
			enc := b.Bytes()
			b2, err := DecodeBallot(enc)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if string(b2.Bytes()) != string(enc) {
				t.Fatal("re-encoding differs")
			}
			if err := VerifyBallot(y, ctx, tc.rules, b2); err != nil {
				t.Fatalf("decoded ballot rejected: %v", err)
			}
			for i, c := range b2.Ciphertexts() {
				if got := decryptSmall(t, x, c, 2); got != uint64(tc.choices[i]) {
					t.Fatalf("option %d decrypts to %d, want %d", i, got, tc.choices[i])
				}
			}
		})
	}
}

func TestEncryptBallotRefusesInvalidChoices(t *testing.T) {
	rnd := testRand(2)
	_, y := testKey(t, rnd)
	budget := Rules{Options: 3, Min: 0, Max: 3, Costs: []uint64{5, 5, 5}, Budget: 10}
	for name, tc := range map[string]struct {
		rules   Rules
		choices []uint8
	}{
		"choice 2":      {approval(3, 0, 3), []uint8{0, 2, 0}},
		"too few":       {approval(3, 1, 2), []uint8{0, 0, 0}},
		"too many":      {approval(3, 1, 2), []uint8{1, 1, 1}},
		"wrong length":  {approval(3, 1, 2), []uint8{1}},
		"over budget":   {budget, []uint8{1, 1, 1}},
		"cost overflow": {Rules{Options: 2, Min: 0, Max: 2, Costs: []uint64{1 << 63, 1 << 63}, Budget: ^uint64(0)}, []uint8{1, 1}},
	} {
		if _, err := EncryptBallot(rnd, y, nil, tc.choices, tc.rules); !errors.Is(err, ErrChoices) {
			t.Errorf("%s: got %v, want ErrChoices", name, err)
		}
	}
}
