package sealed

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"io"
)

// Distributed key generation: Pedersen's DKG over Feldman VSS, with every
// message a public ledger transaction.
//
//  1. Each trustee i registers a transport key (TrusteeKey.Public).
//  2. Round 1: each trustee i posts a Deal: Feldman commitments
//     C_{i,k} = g^{a_{i,k}} to a random polynomial f_i of degree T−1, a
//     Schnorr proof of knowledge of a_{i,0} (bound to the context and i, so
//     nobody can post a key derived from other trustees' commitments: the
//     rogue-key attack), and for every trustee j the share f_i(j) encrypted
//     to j's transport key.
//  3. Everyone runs VerifyDeal. Each trustee j runs CheckShare on every valid
//     deal; a share that does not match the commitments yields a Complaint
//     that reveals the Diffie–Hellman key of that one share with a DLEQ proof,
//     so anyone can decrypt the share and see the dealer cheated
//     (CheckComplaint). No answer from the dealer is needed.
//  4. Qualify keeps the valid deals without an upheld complaint. The joint
//     key is Y = Π C_{i,0} (JointKey), trustee j's verification key is
//     Y_j = Π_i Π_k C_{i,k}^{j^k} (VerificationKey), and its secret share is
//     x_j = Σ_i f_i(j) (TrusteeKey.KeyShare).

const (
	domainPoK      = "tabella/sealed/v1/dkg-pok"
	domainShareKDF = "tabella/sealed/v1/dkg-share-pad"
)

// DKGParams is the public description of a key ceremony.
type DKGParams struct {
	// T is the threshold: any T trustees can decrypt, T−1 cannot.
	T int
	// Trustees are the registered transport keys; trustee i (1-based) is
	// Trustees[i-1]. N = len(Trustees).
	Trustees []PublicKey
	// Context identifies the ceremony (chain id, initiative or key id). It is
	// bound into every proof and share encryption.
	Context []byte
}

// N is the number of trustees.
func (p DKGParams) N() int { return len(p.Trustees) }

// DefaultThreshold is ⌊n/2⌋+1, a strict majority: with n = 4 (two government,
// two civil-society trustees) it is 3, so neither side alone can decrypt and
// one absent trustee does not block the count.
func DefaultThreshold(n int) int { return n/2 + 1 }

// SidedThreshold returns the smallest threshold that is both a strict
// majority of all trustees and larger than every side (government,
// civil society, …), so no side can decrypt on its own:
// max(⌊n/2⌋+1, max(sides)+1). With balanced sides it equals DefaultThreshold;
// with unbalanced sides it may equal n, and then no trustee may be absent —
// the remedy is a balanced trustee set, not a lower threshold.
func SidedThreshold(sides ...int) int {
	n, largest := 0, 0
	for _, s := range sides {
		n += s
		largest = max(largest, s)
	}
	return max(DefaultThreshold(n), largest+1)
}

// Validate checks the parameters.
func (p DKGParams) Validate() error {
	n := p.N()
	switch {
	case n < 1 || n > MaxTrustees:
		return fmt.Errorf("%w: %d trustees, want 1..%d", ErrRules, n, MaxTrustees)
	case p.T < 1 || p.T > n:
		return fmt.Errorf("%w: threshold %d, want 1..%d", ErrRules, p.T, n)
	}
	for i, k := range p.Trustees {
		if !k.valid() {
			return fmt.Errorf("%w: trustee %d has an invalid transport key", ErrRules, i+1)
		}
	}
	return nil
}

// encryptedShare is f_i(j) XOR a pad derived from the DH key between an
// ephemeral key E = g^e and the recipient's transport key.
type encryptedShare struct {
	eph *element
	ct  [ScalarSize]byte
}

// Deal is a dealer's round-1 message.
type Deal struct {
	dealer      int
	commitments []*element // C_0 … C_{T-1}
	pok         dleqProof  // knowledge of log_g C_0
	shares      []encryptedShare
}

// Dealer is the 1-based index of the trustee that posted the deal.
func (d *Deal) Dealer() int { return d.dealer }

// NewDeal creates trustee dealer's round-1 message. The polynomial is
// discarded: the dealer recovers its own share from the deal like everyone
// else.
func NewDeal(rnd io.Reader, params DKGParams, dealer int) (*Deal, error) {
	if err := params.Validate(); err != nil {
		return nil, err
	}
	if dealer < 1 || dealer > params.N() {
		return nil, fmt.Errorf("%w: dealer %d, want 1..%d", ErrRules, dealer, params.N())
	}
	coeffs, err := randomScalars(rnd, params.T)
	if err != nil {
		return nil, err
	}
	return buildDeal(rnd, params, dealer, coeffs, nil)
}

// buildDeal commits to the polynomial, encrypts the shares and proves
// knowledge of the constant term. wrong (nil in production) lets tests play
// a cheating dealer that encrypts wrong[j] instead of f(j) to trustee j.
func buildDeal(rnd io.Reader, params DKGParams, dealer int, coeffs []*scalar, wrong map[int][]byte) (*Deal, error) {
	var err error
	d := &Deal{dealer: dealer, commitments: make([]*element, params.T)}
	for k, a := range coeffs {
		d.commitments[k] = gExp(a)
	}
	for j := 1; j <= params.N(); j++ {
		e, err := randomScalar(rnd)
		if err != nil {
			return nil, err
		}
		es := encryptedShare{eph: gExp(e)}
		pad := sharePad(params, dealer, j, es.eph, mul(params.Trustees[j-1].e, e))
		share := encodeScalar(evalPoly(coeffs, j))
		if w, ok := wrong[j]; ok {
			share = w
		}
		subtle.XORBytes(es.ct[:], share, pad)
		d.shares = append(d.shares, es)
	}
	d.pok, err = proveDLEQ(rnd, pokTranscript(params, d), coeffs[0],
		[]*element{generator()}, []*element{d.commitments[0]})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// evalPoly returns f(j) = Σ a_k·j^k (Horner).
func evalPoly(coeffs []*scalar, j int) *scalar {
	x := scalarU64(uint64(j))
	acc := newScalar()
	for k := len(coeffs) - 1; k >= 0; k-- {
		acc.Multiply(acc, x)
		acc.Add(acc, coeffs[k])
	}
	return acc
}

// evalCommitments returns Π_k C_k^{j^k} = g^{f(j)}.
func evalCommitments(cs []*element, j int) *element {
	x := scalarU64(uint64(j))
	acc := identity()
	for k := len(cs) - 1; k >= 0; k-- {
		acc = add(mul(acc, x), cs[k])
	}
	return acc
}

// pokTranscript binds the proof of knowledge to the whole ceremony (context,
// threshold, every transport key) and to the whole deal (dealer index,
// commitments, encrypted shares), so a deal can be neither re-posted under
// another index or ceremony nor altered by anyone but its dealer.
func pokTranscript(params DKGParams, d *Deal) *transcript {
	tr := newTranscript(domainPoK)
	tr.bytes("context", params.Context)
	tr.u64("threshold", uint64(params.T))
	for _, k := range params.Trustees {
		tr.element("trustee", k.e)
	}
	tr.u64("dealer", uint64(d.dealer))
	for _, c := range d.commitments {
		tr.element("commitment", c)
	}
	for _, es := range d.shares {
		tr.element("ephemeral", es.eph)
		tr.bytes("share", es.ct[:])
	}
	return tr
}

// sharePad derives the 32-byte one-time pad of share (dealer → recipient)
// from the DH key, bound to the ceremony, both indices and the ephemeral key.
func sharePad(params DKGParams, dealer, recipient int, eph, dh *element) []byte {
	tr := newTranscript(domainShareKDF)
	tr.bytes("context", params.Context)
	tr.u64("dealer", uint64(dealer))
	tr.u64("recipient", uint64(recipient))
	tr.element("ephemeral", eph)
	tr.element("dh", dh)
	return tr.digest()[:ScalarSize]
}

// VerifyDeal checks the public part of a deal: shape, indices and the proof
// of knowledge of the constant term. Whether each encrypted share is correct
// can only be checked by its recipient (CheckShare) or, after a complaint, by
// anyone (CheckComplaint).
func VerifyDeal(params DKGParams, d *Deal) error {
	if err := params.Validate(); err != nil {
		return err
	}
	switch {
	case d == nil:
		return fmt.Errorf("%w: nil deal", ErrDeal)
	case d.dealer < 1 || d.dealer > params.N():
		return fmt.Errorf("%w: dealer %d, want 1..%d", ErrDeal, d.dealer, params.N())
	case len(d.commitments) != params.T:
		return fmt.Errorf("%w: dealer %d posted %d commitments, want %d", ErrDeal, d.dealer, len(d.commitments), params.T)
	case len(d.shares) != params.N():
		return fmt.Errorf("%w: dealer %d posted %d shares, want %d", ErrDeal, d.dealer, len(d.shares), params.N())
	case isIdentity(d.commitments[0]):
		return fmt.Errorf("%w: dealer %d committed to a zero secret", ErrDeal, d.dealer)
	}
	for j, es := range d.shares {
		if es.eph == nil || isIdentity(es.eph) {
			// An identity ephemeral key would publish the share to everyone.
			return fmt.Errorf("%w: dealer %d: share %d has an identity ephemeral key", ErrDeal, d.dealer, j+1)
		}
	}
	err := d.pok.verify(pokTranscript(params, d), []*element{generator()}, []*element{d.commitments[0]})
	if err != nil {
		return fmt.Errorf("%w: dealer %d: proof of knowledge of the secret: %w", ErrDeal, d.dealer, err)
	}
	return nil
}

// openWithDH decrypts share j of d with the DH key and checks it against the
// commitments.
func openWithDH(params DKGParams, d *Deal, j int, dh *element) (*scalar, error) {
	es := d.shares[j-1]
	var plain [ScalarSize]byte
	subtle.XORBytes(plain[:], es.ct[:], sharePad(params, d.dealer, j, es.eph, dh))
	s, err := decodeScalar(plain[:])
	if err != nil {
		return nil, fmt.Errorf("%w: dealer %d → trustee %d: share is not a scalar", ErrBadShare, d.dealer, j)
	}
	if !elementEq(gExp(s), evalCommitments(d.commitments, j)) {
		return nil, fmt.Errorf("%w: dealer %d → trustee %d", ErrBadShare, d.dealer, j)
	}
	return s, nil
}

// CheckShare decrypts the share d holds for this trustee and checks it
// against d's commitments. On ErrBadShare the trustee should publish
// Complain(...) before the complaint window closes.
func (k *TrusteeKey) CheckShare(params DKGParams, d *Deal) error {
	_, err := k.openShare(params, d)
	return err
}

func (k *TrusteeKey) openShare(params DKGParams, d *Deal) (*scalar, error) {
	if err := VerifyDeal(params, d); err != nil {
		return nil, err
	}
	if err := k.checkRegistered(params); err != nil {
		return nil, err
	}
	return openWithDH(params, d, k.index, mul(d.shares[k.index-1].eph, k.sk))
}

func (k *TrusteeKey) checkRegistered(params DKGParams) error {
	if k.index > params.N() || !params.Trustees[k.index-1].Equal(k.pk) {
		return fmt.Errorf("%w: trustee %d's key is not registered at its index", ErrRules, k.index)
	}
	return nil
}

// Qualify returns, sorted by dealer, the deals that pass VerifyDeal and have
// no upheld complaint. A dealer that posted two deals is disqualified
// (equivocation). Complaints that are rejected or refer to absent deals are
// ignored here (the ledger may sanction their authors). It fails with
// ErrNotEnough when fewer than T deals qualify: with at least T qualified
// dealers and fewer than T corrupt trustees, at least one honest dealer
// contributes, so the joint secret is unknown to any coalition below T.
func Qualify(params DKGParams, deals []*Deal, complaints []*Complaint) ([]*Deal, error) {
	if err := params.Validate(); err != nil {
		return nil, err
	}
	byDealer := map[int]*Deal{}
	out := map[int]bool{}
	for _, d := range deals {
		if VerifyDeal(params, d) != nil {
			continue
		}
		if prev, dup := byDealer[d.dealer]; dup {
			if bytes.Equal(prev.Bytes(), d.Bytes()) {
				continue // the same deal twice is not equivocation
			}
			out[d.dealer] = true
		}
		byDealer[d.dealer] = d
	}
	for _, c := range complaints {
		if c == nil {
			continue
		}
		if d, ok := byDealer[c.dealer]; ok && !out[c.dealer] && CheckComplaint(params, d, c) == nil {
			out[c.dealer] = true
		}
	}
	var q []*Deal
	for i := 1; i <= params.N(); i++ {
		if d, ok := byDealer[i]; ok && !out[i] {
			q = append(q, d)
		}
	}
	if len(q) < params.T {
		return nil, fmt.Errorf("%w: %d qualified deals, threshold %d", ErrNotEnough, len(q), params.T)
	}
	return q, nil
}

// checkQualified rejects an empty, unsorted or inconsistent qualified set.
func checkQualified(qualified []*Deal) error {
	if len(qualified) == 0 {
		return fmt.Errorf("%w: no qualified deals", ErrNotEnough)
	}
	t := len(qualified[0].commitments)
	for i, d := range qualified {
		if d == nil || len(d.commitments) != t || t == 0 {
			return fmt.Errorf("%w: qualified deals of different thresholds", ErrDeal)
		}
		if i > 0 && d.dealer <= qualified[i-1].dealer {
			return fmt.Errorf("%w: qualified deals not sorted by distinct dealer", ErrDeal)
		}
	}
	return nil
}

// JointKey returns the election key Y = Π_i C_{i,0} over the qualified deals
// (as returned by Qualify).
func JointKey(qualified []*Deal) (PublicKey, error) {
	if err := checkQualified(qualified); err != nil {
		return PublicKey{}, err
	}
	y := identity()
	for _, d := range qualified {
		y = add(y, d.commitments[0])
	}
	if isIdentity(y) {
		return PublicKey{}, fmt.Errorf("%w: joint key is the identity", ErrDeal)
	}
	return PublicKey{y}, nil
}

// VerificationKey returns trustee i's public verification key
// Y_i = Π_j Π_k C_{j,k}^{i^k} = g^{x_i}, which partial decryptions are
// checked against.
func VerificationKey(qualified []*Deal, i int) (PublicKey, error) {
	if err := checkQualified(qualified); err != nil {
		return PublicKey{}, err
	}
	if i < 1 || i > MaxTrustees {
		return PublicKey{}, fmt.Errorf("%w: trustee index %d", ErrRules, i)
	}
	// Sum the commitment polynomials first: one evaluation instead of one per dealer.
	sum := make([]*element, len(qualified[0].commitments))
	for k := range sum {
		sum[k] = identity()
		for _, d := range qualified {
			sum[k] = add(sum[k], d.commitments[k])
		}
	}
	return PublicKey{evalCommitments(sum, i)}, nil
}

// KeyShare opens this trustee's share in every qualified deal and sums them.
func (k *TrusteeKey) KeyShare(params DKGParams, qualified []*Deal) (*KeyShare, error) {
	if err := checkQualified(qualified); err != nil {
		return nil, err
	}
	x := newScalar()
	for _, d := range qualified {
		s, err := k.openShare(params, d)
		if err != nil {
			return nil, err
		}
		x.Add(x, s)
	}
	return &KeyShare{index: k.index, x: x}, nil
}

// Bytes returns the canonical encoding:
//
//	0xD1 ‖ u16 dealer ‖ u16 T ‖ u16 N ‖ T×commitment ‖ pok.c ‖ pok.z
//	‖ N×(ephemeral ‖ 32-byte encrypted share)
func (d *Deal) Bytes() []byte {
	var w writer
	w.u8(tagDeal)
	w.u16(uint16(d.dealer))
	w.u16(uint16(len(d.commitments)))
	w.u16(uint16(len(d.shares)))
	for _, c := range d.commitments {
		w.element(c)
	}
	d.pok.encode(&w)
	for _, s := range d.shares {
		w.element(s.eph)
		w.raw(s.ct[:])
	}
	return w.buf
}

// DecodeDeal parses a canonical deal; VerifyDeal checks it against the
// ceremony parameters.
func DecodeDeal(data []byte) (*Deal, error) {
	r := reader{b: data}
	r.tag(tagDeal, "deal")
	d := &Deal{dealer: int(r.u16("dealer"))}
	t, n := int(r.u16("threshold")), int(r.u16("trustee count"))
	if r.err == nil && (t < 1 || n < 1 || t > n || n > MaxTrustees || d.dealer < 1 || d.dealer > n) {
		r.fail("deal with dealer %d, threshold %d, %d trustees", d.dealer, t, n)
	}
	if r.need(t, ElementSize, "commitments") {
		for range t {
			d.commitments = append(d.commitments, r.element("commitment"))
		}
	}
	d.pok = decodeDLEQ(&r, "proof of knowledge")
	if r.need(n, ElementSize+ScalarSize, "encrypted shares") {
		for range n {
			es := encryptedShare{eph: r.element("ephemeral key")}
			copy(es.ct[:], r.take(ScalarSize, "encrypted share"))
			d.shares = append(d.shares, es)
		}
	}
	if err := r.done("deal"); err != nil {
		return nil, fmt.Errorf("deal: %w", err)
	}
	return d, nil
}
