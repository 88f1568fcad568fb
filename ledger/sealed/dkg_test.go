package sealed

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

type ceremony struct {
	params DKGParams
	keys   []*TrusteeKey
	deals  []*Deal
}

func newCeremony(t testing.TB, rnd io.Reader, n, thr int) *ceremony {
	t.Helper()
	c := &ceremony{params: DKGParams{T: thr, Context: []byte("chain-1/key-ceremony-1")}}
	for i := 1; i <= n; i++ {
		k, err := NewTrusteeKey(rnd, i)
		if err != nil {
			t.Fatal(err)
		}
		c.keys = append(c.keys, k)
		c.params.Trustees = append(c.params.Trustees, k.Public())
	}
	for i := 1; i <= n; i++ {
		d, err := NewDeal(rnd, c.params, i)
		if err != nil {
			t.Fatal(err)
		}
		// Deals travel as bytes.
		d, err = DecodeDeal(d.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		c.deals = append(c.deals, d)
	}
	return c
}

// finish runs the share checks, collects complaints, qualifies and returns
// the qualified deals and every trustee's key share.
func (c *ceremony) finish(t testing.TB, rnd io.Reader) ([]*Deal, []*KeyShare, []*Complaint) {
	t.Helper()
	var complaints []*Complaint
	for _, k := range c.keys {
		for _, d := range c.deals {
			if err := VerifyDeal(c.params, d); err != nil {
				t.Fatalf("deal %d: %v", d.Dealer(), err)
			}
			err := k.CheckShare(c.params, d)
			if errors.Is(err, ErrBadShare) {
				cp, err := k.Complain(rnd, c.params, d)
				if err != nil {
					t.Fatal(err)
				}
				cp, err = DecodeComplaint(cp.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				complaints = append(complaints, cp)
			} else if err != nil {
				t.Fatal(err)
			}
		}
	}
	q, err := Qualify(c.params, c.deals, complaints)
	if err != nil {
		t.Fatal(err)
	}
	var shares []*KeyShare
	for _, k := range c.keys {
		s, err := k.KeyShare(c.params, q)
		if err != nil {
			t.Fatalf("trustee %d: %v", k.Index(), err)
		}
		s, err = DecodeKeyShare(s.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		vk, err := VerificationKey(q, k.Index())
		if err != nil {
			t.Fatal(err)
		}
		if !vk.Equal(s.VerificationKey()) {
			t.Fatalf("trustee %d: key share does not match its verification key", k.Index())
		}
		shares = append(shares, s)
	}
	return q, shares, complaints
}

// subsets returns every k-subset of {0..n-1}.
func subsets(n, k int) [][]int {
	if k == 0 {
		return [][]int{nil}
	}
	var out [][]int
	for first := 0; first <= n-k; first++ {
		for _, rest := range subsets(n-first-1, k-1) {
			s := []int{first}
			for _, r := range rest {
				s = append(s, first+1+r)
			}
			out = append(out, s)
		}
	}
	return out
}

func TestDKGAndThresholdDecryption(t *testing.T) {
	for _, tc := range []struct{ n, t int }{{4, 3}, {5, 3}, {3, 2}, {1, 1}} {
		t.Run(fmt.Sprintf("n=%d,t=%d", tc.n, tc.t), func(t *testing.T) {
			rnd := testRand(uint64(100 + tc.n))
			c := newCeremony(t, rnd, tc.n, tc.t)
			q, shares, complaints := c.finish(t, rnd)
			if len(complaints) != 0 || len(q) != tc.n {
				t.Fatalf("honest ceremony: %d complaints, %d qualified", len(complaints), len(q))
			}
			y, err := JointKey(q)
			if err != nil {
				t.Fatal(err)
			}
			// Any t shares interpolate to the secret of Y.
			for _, set := range subsets(tc.n, tc.t) {
				var idx []int
				for _, i := range set {
					idx = append(idx, shares[i].Index())
				}
				x := newScalar()
				for _, i := range set {
					x.Add(x, newScalar().Multiply(shares[i].x, lagrangeAtZero(idx, shares[i].Index())))
				}
				if !elementEq(gExp(x), y.e) {
					t.Fatalf("shares %v do not interpolate to the joint secret", idx)
				}
			}

			rules := approval(3, 1, 2)
			tally, want := castBallots(t, rnd, y, rules, 20)
			table, err := NewDLogTable(1000, 0)
			if err != nil {
				t.Fatal(err)
			}
			ctx := []byte("chain-1/initiative-1/close")
			var partials []*PartialDecryption
			for _, s := range shares {
				p, err := s.PartialDecrypt(rnd, ctx, tally)
				if err != nil {
					t.Fatal(err)
				}
				p, err = DecodePartialDecryption(p.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				vk, _ := VerificationKey(q, s.Index())
				if err := VerifyPartial(ctx, vk, tally, p); err != nil {
					t.Fatalf("trustee %d: %v", s.Index(), err)
				}
				partials = append(partials, p)
			}
			// Every t-subset decrypts to the plaintext tally.
			for _, set := range subsets(tc.n, tc.t) {
				var ps []*PartialDecryption
				for _, i := range set {
					ps = append(ps, partials[i])
				}
				got, err := Combine(table, tc.t, tally, ps)
				if err != nil {
					t.Fatalf("subset %v: %v", set, err)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("subset %v decrypts %v, want %v", set, got, want)
				}
			}
			// t−1 partials cannot.
			if _, err := Combine(table, tc.t, tally, partials[:tc.t-1]); !errors.Is(err, ErrNotEnough) {
				t.Fatalf("t-1 partials: got %v, want ErrNotEnough", err)
			}
		})
	}
}

// castBallots encrypts count random valid ballots and returns the tally and
// the plaintext reference counts.
func castBallots(t testing.TB, rnd io.Reader, y PublicKey, rules Rules, count int) (*Tally, []uint64) {
	t.Helper()
	tally, err := NewTally(rules.Options)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]uint64, rules.Options)
	for v := range count {
		choices := make([]uint8, rules.Options)
		k := rules.Min + v%(rules.Max-rules.Min+1)
		for i := range k {
			choices[(v+i)%rules.Options] = 1
		}
		b, err := EncryptBallot(rnd, y, []byte{byte(v)}, choices, rules)
		if err != nil {
			t.Fatal(err)
		}
		if err := tally.Add(b); err != nil {
			t.Fatal(err)
		}
		for i, x := range choices {
			want[i] += uint64(x)
		}
	}
	return tally, want
}

// cheatingDeal replaces c's deal from dealer with one that sends trustee j
// the given plaintext share bytes instead of f(j), properly signed by the
// dealer's proof of knowledge (as a real cheater would).
func cheatingDeal(t testing.TB, rnd io.Reader, c *ceremony, dealer, j int, share []byte) {
	t.Helper()
	coeffs, err := randomScalars(rnd, c.params.T)
	if err != nil {
		t.Fatal(err)
	}
	d, err := buildDeal(rnd, c.params, dealer, coeffs, map[int][]byte{j: share})
	if err != nil {
		t.Fatal(err)
	}
	c.deals[dealer-1] = d
}

func wrongScalar(rnd io.Reader) []byte {
	s, _ := randomScalar(rnd)
	return encodeScalar(s)
}

func TestDKGCheatingDealerExcluded(t *testing.T) {
	for _, n := range []int{4, 5} {
		for name, share := range map[string][]byte{
			"wrong share":          wrongScalar(testRand(1)),
			"non-canonical scalar": scalarL,
		} {
			t.Run(fmt.Sprintf("n=%d/%s", n, name), func(t *testing.T) {
				rnd := testRand(uint64(200 + n))
				c := newCeremony(t, rnd, n, 3)
				cheatingDeal(t, rnd, c, 2, 4, share) // dealer 2 cheats trustee 4
				if err := VerifyDeal(c.params, c.deals[1]); err != nil {
					t.Fatalf("a bad share is invisible to VerifyDeal: %v", err)
				}
				if err := c.keys[3].CheckShare(c.params, c.deals[1]); !errors.Is(err, ErrBadShare) {
					t.Fatalf("trustee 4: got %v, want ErrBadShare", err)
				}
				q, shares, complaints := c.finish(t, rnd)
				if len(complaints) != 1 || complaints[0].Dealer() != 2 || complaints[0].Complainer() != 4 {
					t.Fatalf("complaints: %v", complaints)
				}
				if err := CheckComplaint(c.params, c.deals[1], complaints[0]); err != nil {
					t.Fatalf("justified complaint rejected: %v", err)
				}
				for _, d := range q {
					if d.Dealer() == 2 {
						t.Fatal("cheating dealer qualified")
					}
				}
				if len(q) != n-1 {
					t.Fatalf("%d qualified, want %d", len(q), n-1)
				}
				// The election still works without the cheater's
				// contribution; the cheater (trustee 2) and its victim
				// (trustee 4) still hold valid key shares.
				y, err := JointKey(q)
				if err != nil {
					t.Fatal(err)
				}
				tally, want := castBallots(t, rnd, y, approval(2, 1, 1), 5)
				table, _ := NewDLogTable(100, 0)
				var ps []*PartialDecryption
				for _, s := range []*KeyShare{shares[1], shares[2], shares[3]} {
					p, err := s.PartialDecrypt(rnd, nil, tally)
					if err != nil {
						t.Fatal(err)
					}
					vk, _ := VerificationKey(q, s.Index())
					if err := VerifyPartial(nil, vk, tally, p); err != nil {
						t.Fatal(err)
					}
					ps = append(ps, p)
				}
				got, err := Combine(table, 3, tally, ps)
				if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("decrypted %v (%v), want %v", got, err, want)
				}
			})
		}
	}
}

func TestDKGFalseComplaintRejected(t *testing.T) {
	rnd := testRand(300)
	c := newCeremony(t, rnd, 4, 3)
	honest := c.deals[0]
	cp, err := c.keys[2].Complain(rnd, c.params, honest) // trustee 3 lies about dealer 1
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckComplaint(c.params, honest, cp); !errors.Is(err, ErrComplaintRejected) {
		t.Fatalf("false complaint: got %v, want ErrComplaintRejected", err)
	}
	// A forged revealed key (to make the share look wrong) fails the DLEQ proof.
	forged := *cp
	forged.dh = add(cp.dh, generator())
	if err := CheckComplaint(c.params, honest, &forged); !errors.Is(err, ErrComplaintRejected) {
		t.Fatalf("forged key: got %v", err)
	}
	// A complaint cannot be re-attributed to another trustee or dealer.
	other := *cp
	other.complainer = 4
	if err := CheckComplaint(c.params, honest, &other); !errors.Is(err, ErrComplaintRejected) {
		t.Fatalf("re-attributed complaint: got %v", err)
	}
	if err := CheckComplaint(c.params, c.deals[1], cp); !errors.Is(err, ErrComplaintRejected) {
		t.Fatalf("complaint against another dealer: got %v", err)
	}
	// A justified complaint is not transferable to another ceremony.
	cheatingDeal(t, rnd, c, 2, 3, wrongScalar(rnd))
	just, err := c.keys[2].Complain(rnd, c.params, c.deals[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckComplaint(c.params, c.deals[1], just); err != nil {
		t.Fatalf("justified complaint: %v", err)
	}
	q, err := Qualify(c.params, c.deals, []*Complaint{cp, &forged, just})
	if err != nil {
		t.Fatal(err)
	}
	var dealers []int
	for _, d := range q {
		dealers = append(dealers, d.Dealer())
	}
	if fmt.Sprint(dealers) != "[1 3 4]" {
		t.Fatalf("qualified %v, want [1 3 4]", dealers)
	}
}

func TestDKGRejectsBadDeals(t *testing.T) {
	rnd := testRand(400)
	c := newCeremony(t, rnd, 4, 3)
	// Rogue key: dealer 4 re-posts dealer 1's commitments and proof under its
	// own index; the proof of knowledge is bound to the dealer index.
	rogue, _ := DecodeDeal(c.deals[0].Bytes())
	rogue.dealer = 4
	if err := VerifyDeal(c.params, rogue); !errors.Is(err, ErrDeal) {
		t.Errorf("copied deal: got %v", err)
	}
	// A deal for another ceremony.
	other := c.params
	other.Context = []byte("another ceremony")
	if err := VerifyDeal(other, c.deals[0]); !errors.Is(err, ErrDeal) {
		t.Errorf("deal replayed in another ceremony: got %v", err)
	}
	// Anyone but the dealer altering an encrypted share breaks the proof.
	altered, _ := DecodeDeal(c.deals[0].Bytes())
	altered.shares[2].ct[0] ^= 1
	if err := VerifyDeal(c.params, altered); !errors.Is(err, ErrDeal) {
		t.Errorf("altered share: got %v", err)
	}
	// An identity ephemeral key would publish a share.
	leaky, _ := DecodeDeal(c.deals[0].Bytes())
	leaky.shares[1].eph = identity()
	if err := VerifyDeal(c.params, leaky); !errors.Is(err, ErrDeal) || !strings.Contains(err.Error(), "ephemeral") {
		t.Errorf("identity ephemeral key: got %v", err)
	}
	// A deal for the same context but other registered trustees.
	swapped := c.params
	swapped.Trustees = []PublicKey{c.params.Trustees[1], c.params.Trustees[0], c.params.Trustees[2], c.params.Trustees[3]}
	if err := VerifyDeal(swapped, c.deals[0]); !errors.Is(err, ErrDeal) {
		t.Errorf("deal for other trustee keys: got %v", err)
	}
	// A tampered commitment (e.g. a rogue C_0 = Y_target / others) breaks the proof.
	bad, _ := DecodeDeal(c.deals[0].Bytes())
	bad.commitments[0] = add(bad.commitments[0], generator())
	if err := VerifyDeal(c.params, bad); !errors.Is(err, ErrDeal) {
		t.Errorf("tampered commitment: got %v", err)
	}
	// Wrong threshold.
	lower := c.params
	lower.T = 2
	if err := VerifyDeal(lower, c.deals[0]); !errors.Is(err, ErrDeal) {
		t.Errorf("wrong degree: got %v", err)
	}
	// Equivocation: two different deals by dealer 2 disqualify it.
	second, err := NewDeal(rnd, c.params, 2)
	if err != nil {
		t.Fatal(err)
	}
	q, err := Qualify(c.params, append(c.deals, second), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 3 || q[1].Dealer() != 3 {
		t.Errorf("equivocating dealer qualified")
	}
	// The same deal delivered twice is not equivocation.
	if q, err := Qualify(c.params, append(c.deals, c.deals[0]), nil); err != nil || len(q) != 4 {
		t.Errorf("duplicate identical deal: %d qualified, %v", len(q), err)
	}
	// Too few qualified deals.
	if _, err := Qualify(c.params, c.deals[:2], nil); !errors.Is(err, ErrNotEnough) {
		t.Errorf("2 of 4 deals with t=3: got %v", err)
	}
	// Parameter validation.
	for _, p := range []DKGParams{
		{T: 0, Trustees: c.params.Trustees},
		{T: 5, Trustees: c.params.Trustees},
		{T: 1},
		{T: 1, Trustees: []PublicKey{{}}},
	} {
		if _, err := NewDeal(rnd, p, 1); !errors.Is(err, ErrRules) {
			t.Errorf("params %+v: got %v", p, err)
		}
	}
	if DefaultThreshold(4) != 3 || DefaultThreshold(5) != 3 || DefaultThreshold(7) != 4 {
		t.Error("DefaultThreshold")
	}
	for _, tc := range []struct {
		sides []int
		want  int
	}{
		{[]int{2, 2}, 3}, {[]int{3, 2}, 4}, {[]int{3, 3}, 4}, {[]int{3, 1}, 4}, {[]int{1, 1}, 2}, {[]int{2, 2, 1}, 3},
	} {
		if got := SidedThreshold(tc.sides...); got != tc.want {
			t.Errorf("SidedThreshold(%v) = %d, want %d", tc.sides, got, tc.want)
		}
	}
}

func TestBadPartialDecryptionExcluded(t *testing.T) {
	rnd := testRand(500)
	c := newCeremony(t, rnd, 4, 3)
	q, shares, _ := c.finish(t, rnd)
	y, _ := JointKey(q)
	rules := approval(4, 0, 4)
	tally, want := castBallots(t, rnd, y, rules, 12)
	table, _ := NewDLogTable(100, 0)
	ctx := []byte("close")

	var valid []*PartialDecryption
	for _, s := range shares {
		p, err := s.PartialDecrypt(rnd, ctx, tally)
		if err != nil {
			t.Fatal(err)
		}
		vk, _ := VerificationKey(q, s.Index())
		if s.Index() == 2 {
			// Trustee 2 lies about one option to shift the result.
			p.d[1] = add(p.d[1], generator())
		}
		if err := VerifyPartial(ctx, vk, tally, p); err != nil {
			if s.Index() != 2 || !errors.Is(err, ErrProof) {
				t.Fatalf("trustee %d: %v", s.Index(), err)
			}
			continue
		}
		if s.Index() == 2 {
			t.Fatal("wrong partial decryption accepted")
		}
		valid = append(valid, p)
	}
	got, err := Combine(table, 3, tally, valid)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("decrypted %v (%v), want %v", got, err, want)
	}
	// A valid partial does not verify for another trustee's key, another
	// context or another tally.
	vk1, _ := VerificationKey(q, 1)
	vk3, _ := VerificationKey(q, 3)
	if err := VerifyPartial(ctx, vk3, tally, valid[0]); !errors.Is(err, ErrProof) {
		t.Errorf("wrong key: %v", err)
	}
	if err := VerifyPartial([]byte("other"), vk1, tally, valid[0]); !errors.Is(err, ErrProof) {
		t.Errorf("wrong context: %v", err)
	}
	more, _ := castBallots(t, rnd, y, rules, 1)
	if err := VerifyPartial(ctx, vk1, more, valid[0]); !errors.Is(err, ErrProof) {
		t.Errorf("other tally: %v", err)
	}
	// Combining the unverified lie gives a wrong or out-of-range result,
	// which is why VerifyPartial is mandatory.
	if _, err := Combine(table, 3, tally, valid[:2]); !errors.Is(err, ErrNotEnough) {
		t.Errorf("2 partials: %v", err)
	}
	if _, err := Combine(table, 3, tally, []*PartialDecryption{valid[0], valid[0], valid[1]}); !errors.Is(err, ErrShape) {
		t.Errorf("duplicate partials: %v", err)
	}
}
