package sealed

import (
	"errors"
	"testing"
)

// lie describes a dishonest prover: plaintexts (possibly outside {0,1}),
// which branch each OR-proof claims, and the slack it encrypts.
type lie struct {
	m        []int64 // option plaintexts
	optIdx   []int
	slack    int64 // budget slack the prover encodes in bits (mod 2^bits)
	rangeIdx int
}

func (l lie) witness(rules Rules) witness {
	w := witness{rangeIdx: l.rangeIdx}
	for i, v := range l.m {
		w.m = append(w.m, scalarInt(v))
		w.optIdx = append(w.optIdx, l.optIdx[i])
	}
	for j := range rules.budgetBits() {
		bit := (uint64(l.slack) >> j) & 1
		w.slack = append(w.slack, scalarU64(bit))
		w.slackIdx = append(w.slackIdx, int(bit))
	}
	return w
}

func TestLyingBallotsRejected(t *testing.T) {
	rnd := testRand(3)
	_, y := testKey(t, rnd)
	ctx := []byte("ctx")
	budget := Rules{Options: 3, Min: 0, Max: 3, Costs: []uint64{60, 50, 40}, Budget: 100}
	cases := []struct {
		name  string
		rules Rules
		lie   lie
	}{
		{"option encrypts 2 (claims branch 1)", approval(3, 0, 3), lie{m: []int64{2, 0, 0}, optIdx: []int{1, 0, 0}}},
		{"option encrypts 2 (claims branch 0)", approval(3, 0, 3), lie{m: []int64{2, 0, 0}, optIdx: []int{0, 0, 0}}},
		{"option encrypts 2, sum in range", approval(3, 0, 2), lie{m: []int64{2, 0, 0}, optIdx: []int{1, 0, 0}, rangeIdx: 2}},
		{"negative option cancels another vote", approval(3, 1, 1), lie{m: []int64{-1, 1, 1}, optIdx: []int{0, 1, 1}, rangeIdx: 0}},
		{"sum above max", approval(3, 1, 2), lie{m: []int64{1, 1, 1}, optIdx: []int{1, 1, 1}, rangeIdx: 1}},
		{"sum below min", approval(3, 1, 2), lie{m: []int64{0, 0, 0}, optIdx: []int{0, 0, 0}, rangeIdx: 0}},
		{"over budget (slack wraps mod 2^bits)", budget, lie{m: []int64{1, 1, 0}, optIdx: []int{1, 1, 0}, slack: 100 - 110}},
		{"over budget (claims full slack)", budget, lie{m: []int64{1, 1, 1}, optIdx: []int{1, 1, 1}, slack: 0}},
		{"budget: slack does not add up", budget, lie{m: []int64{1, 0, 0}, optIdx: []int{1, 0, 0}, slack: 39}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := proveBallot(rnd, y.e, ctx, tc.rules, tc.lie.witness(tc.rules))
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyBallot(y, ctx, tc.rules, b); !errors.Is(err, ErrProof) {
				t.Fatalf("dishonest ballot: got %v, want ErrProof", err)
			}
			// Still rejected after an encoding round trip.
			b2, err := DecodeBallot(b.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyBallot(y, ctx, tc.rules, b2); !errors.Is(err, ErrProof) {
				t.Fatalf("decoded dishonest ballot: got %v, want ErrProof", err)
			}
		})
	}
}

// The same lie machinery with honest values must verify: otherwise the test
// above would pass for the wrong reason.
func TestLieHarnessHonestControl(t *testing.T) {
	rnd := testRand(4)
	_, y := testKey(t, rnd)
	budget := Rules{Options: 3, Min: 0, Max: 3, Costs: []uint64{60, 50, 40}, Budget: 100}
	l := lie{m: []int64{1, 0, 1}, optIdx: []int{1, 0, 1}, slack: 0}
	b, err := proveBallot(rnd, y.e, nil, budget, l.witness(budget))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyBallot(y, nil, budget, b); err != nil {
		t.Fatalf("honest control rejected: %v", err)
	}
	l = lie{m: []int64{0, 1, 1}, optIdx: []int{0, 1, 1}, rangeIdx: 1}
	b, err = proveBallot(rnd, y.e, nil, approval(3, 1, 2), l.witness(approval(3, 1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyBallot(y, nil, approval(3, 1, 2), b); err != nil {
		t.Fatalf("honest control rejected: %v", err)
	}
}

func TestBallotBoundToStatement(t *testing.T) {
	rnd := testRand(5)
	_, y := testKey(t, rnd)
	_, other := testKey(t, rnd)
	ctx := []byte("chain-1/init-9/voter-A")
	rules := Rules{Options: 4, Min: 1, Max: 3, Costs: []uint64{10, 20, 30, 40}, Budget: 60}
	b, err := EncryptBallot(rnd, y, ctx, []uint8{1, 1, 0, 0}, rules)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyBallot(y, ctx, rules, b); err != nil {
		t.Fatal(err)
	}
	expectReject := func(name string, y PublicKey, ctx []byte, rules Rules, b *Ballot) {
		t.Helper()
		if err := VerifyBallot(y, ctx, rules, b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	expectReject("other voter", y, []byte("chain-1/init-9/voter-B"), rules, b)
	expectReject("other initiative", y, []byte("chain-1/init-8/voter-A"), rules, b)
	expectReject("empty context", y, nil, rules, b)
	expectReject("other key", other, ctx, rules, b)
	cheaper := rules
	cheaper.Costs = []uint64{10, 20, 30, 41}
	expectReject("other costs", y, ctx, cheaper, b)
	wider := rules
	wider.Max = 4
	expectReject("other max", y, ctx, wider, b)
	expectReject("other budget (same bit length)", y, ctx, Rules{Options: 4, Min: 1, Max: 3, Costs: rules.Costs, Budget: 61}, b)
	expectReject("not a budget ballot", y, ctx, approval(4, 1, 3), b)

	tamper := func(name string, f func(*Ballot)) {
		t.Helper()
		c, err := DecodeBallot(b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		f(c)
		if err := VerifyBallot(y, ctx, rules, c); !errors.Is(err, ErrProof) {
			t.Errorf("%s: got %v, want ErrProof", name, err)
		}
	}
	tamper("re-encrypted option", func(c *Ballot) {
		fresh, _ := Encrypt(rnd, y, 1)
		c.options[0] = fresh
	})
	tamper("re-randomised option", func(c *Ballot) {
		zero, _ := Encrypt(rnd, y, 0)
		c.options[1] = c.options[1].Add(zero)
	})
	tamper("swapped options", func(c *Ballot) { c.options[0], c.options[1] = c.options[1], c.options[0] })
	tamper("tampered slack bit", func(c *Ballot) { c.bits[0] = c.bits[0].Add(c.bits[1]) })
	tamper("tampered commitment", func(c *Ballot) {
		p := &c.optionProofs[1]
		p.a[0] = add(p.a[0], generator())
		copy(p.commits[:ElementSize], encodeElement(p.a[0]))
	})
	tamper("tampered commitment, stale encoding", func(c *Ballot) {
		p := &c.optionProofs[3]
		p.b[1] = add(p.b[1], generator())
	})
	tamper("commitments swapped between branches", func(c *Ballot) {
		p := &c.bitProofs[0]
		p.a[0], p.a[1] = p.a[1], p.a[0]
		p.b[0], p.b[1] = p.b[1], p.b[0]
		p.commits = append(append([]byte(nil), p.commits[2*ElementSize:]...), p.commits[:2*ElementSize]...)
	})
	tamper("tampered branch challenge", func(c *Ballot) {
		c.optionProofs[2].c[0] = newScalar().Add(c.optionProofs[2].c[0], scalarU64(1))
	})
	tamper("tampered response", func(c *Ballot) {
		c.rangeProof.z[1] = newScalar().Add(c.rangeProof.z[1], scalarU64(1))
	})
	tamper("tampered budget response", func(c *Ballot) {
		c.budgetProof.z[0] = newScalar().Add(c.budgetProof.z[0], scalarU64(1))
	})
	tamper("proofs swapped between options", func(c *Ballot) {
		c.optionProofs[0], c.optionProofs[1] = c.optionProofs[1], c.optionProofs[0]
	})
}

func TestVerifyBallotShapeErrors(t *testing.T) {
	rnd := testRand(6)
	_, y := testKey(t, rnd)
	b, err := EncryptBallot(rnd, y, nil, []uint8{1, 0}, approval(2, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyBallot(y, nil, approval(3, 1, 1), b); !errors.Is(err, ErrShape) {
		t.Errorf("wrong option count: %v", err)
	}
	if err := VerifyBallot(y, nil, approval(2, 0, 2), b); !errors.Is(err, ErrShape) {
		t.Errorf("unexpected range proof: %v", err)
	}
	if err := VerifyBallot(y, nil, Rules{Options: 2, Min: 1, Max: 1, Costs: []uint64{1, 1}, Budget: 0}, b); !errors.Is(err, ErrShape) {
		t.Errorf("missing budget proof: %v", err)
	}
	if err := VerifyBallot(PublicKey{}, nil, approval(2, 1, 1), b); !errors.Is(err, ErrRules) {
		t.Errorf("zero key: %v", err)
	}
	if err := VerifyBallot(PublicKey{identity()}, nil, approval(2, 1, 1), b); !errors.Is(err, ErrRules) {
		t.Errorf("identity key: %v", err)
	}
	if err := VerifyBallot(y, nil, approval(2, 1, 1), nil); !errors.Is(err, ErrShape) {
		t.Errorf("nil ballot: %v", err)
	}
	for _, r := range []Rules{
		{Options: 0, Min: 0, Max: 1},
		{Options: MaxOptions + 1, Min: 0, Max: 1},
		{Options: 3, Min: 2, Max: 1},
		{Options: 3, Min: 0, Max: 4},
		{Options: 3, Min: 0, Max: 0},
		{Options: 100, Min: 1, Max: 100},
		{Options: 3, Min: 0, Max: 3, Costs: []uint64{1}},
	} {
		if err := r.Validate(); !errors.Is(err, ErrRules) {
			t.Errorf("rules %+v: %v", r, err)
		}
	}
	if err := (Rules{Options: 100, Min: 0, Max: 100}).Validate(); err != nil {
		t.Errorf("unconstrained 100-option ballot needs no range proof: %v", err)
	}
}
