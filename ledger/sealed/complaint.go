package sealed

import (
	"fmt"
	"io"
)

const domainComplaint = "tabella/sealed/v1/dkg-complaint"

// Complaint is published by a trustee whose share from a dealer does not
// verify. It reveals K = E^{sk} — the Diffie–Hellman key of that single share
// — with a DLEQ proof that log_g PK == log_E K, so anyone can decrypt the
// share and check it against the dealer's commitments. It reveals nothing
// about the complainer's transport secret, and only the one share, which is
// either garbage (the dealer cheated) or a single share of one dealer's
// polynomial (below the threshold on its own).
type Complaint struct {
	dealer, complainer int
	dh                 *element
	proof              dleqProof
}

// Dealer is the accused dealer; Complainer the trustee who complains.
func (c *Complaint) Dealer() int     { return c.dealer }
func (c *Complaint) Complainer() int { return c.complainer }

func complaintTranscript(params DKGParams, dealer, complainer int) *transcript {
	tr := newTranscript(domainComplaint)
	tr.bytes("context", params.Context)
	tr.u64("dealer", uint64(dealer))
	tr.u64("complainer", uint64(complainer))
	return tr
}

// Complain builds a complaint against d. It does not check that the share is
// actually bad: CheckComplaint decides, and a false complaint is rejected.
func (k *TrusteeKey) Complain(rnd io.Reader, params DKGParams, d *Deal) (*Complaint, error) {
	if err := VerifyDeal(params, d); err != nil {
		return nil, err
	}
	if err := k.checkRegistered(params); err != nil {
		return nil, err
	}
	eph := d.shares[k.index-1].eph
	dh := mul(eph, k.sk)
	proof, err := proveDLEQ(rnd, complaintTranscript(params, d.dealer, k.index), k.sk,
		[]*element{generator(), eph}, []*element{k.pk.e, dh})
	if err != nil {
		return nil, err
	}
	return &Complaint{dealer: d.dealer, complainer: k.index, dh: dh, proof: proof}, nil
}

// CheckComplaint returns nil if the complaint proves that d's dealer sent the
// complainer a bad share, in which case the dealer must be disqualified. It
// returns an error wrapping ErrComplaintRejected if the revealed share is
// correct, or if the complaint is malformed or its proof is invalid.
func CheckComplaint(params DKGParams, d *Deal, c *Complaint) error {
	if err := VerifyDeal(params, d); err != nil {
		return fmt.Errorf("%w: %w", ErrComplaintRejected, err)
	}
	switch {
	case c == nil:
		return fmt.Errorf("%w: nil complaint", ErrComplaintRejected)
	case c.dealer != d.dealer:
		return fmt.Errorf("%w: complaint is about dealer %d, not %d", ErrComplaintRejected, c.dealer, d.dealer)
	case c.complainer < 1 || c.complainer > params.N():
		return fmt.Errorf("%w: complainer %d, want 1..%d", ErrComplaintRejected, c.complainer, params.N())
	case c.dh == nil:
		return fmt.Errorf("%w: missing key", ErrComplaintRejected)
	}
	eph := d.shares[c.complainer-1].eph
	pk := params.Trustees[c.complainer-1].e
	err := c.proof.verify(complaintTranscript(params, c.dealer, c.complainer),
		[]*element{generator(), eph}, []*element{pk, c.dh})
	if err != nil {
		return fmt.Errorf("%w: revealed key is not proven: %w", ErrComplaintRejected, err)
	}
	if _, err := openWithDH(params, d, c.complainer, c.dh); err == nil {
		return fmt.Errorf("%w: dealer %d's share for trustee %d is correct", ErrComplaintRejected, c.dealer, c.complainer)
	}
	return nil
}

// Bytes returns the canonical encoding:
//
//	0xC1 ‖ u16 dealer ‖ u16 complainer ‖ K ‖ proof.c ‖ proof.z
func (c *Complaint) Bytes() []byte {
	var w writer
	w.u8(tagComplaint)
	w.u16(uint16(c.dealer))
	w.u16(uint16(c.complainer))
	w.element(c.dh)
	c.proof.encode(&w)
	return w.buf
}

// DecodeComplaint parses a canonical complaint.
func DecodeComplaint(data []byte) (*Complaint, error) {
	r := reader{b: data}
	r.tag(tagComplaint, "complaint")
	c := &Complaint{dealer: int(r.u16("dealer")), complainer: int(r.u16("complainer"))}
	if r.err == nil && (c.dealer < 1 || c.dealer > MaxTrustees || c.complainer < 1 || c.complainer > MaxTrustees) {
		r.fail("complaint indices %d, %d", c.dealer, c.complainer)
	}
	c.dh = r.element("revealed key")
	c.proof = decodeDLEQ(&r, "complaint proof")
	if err := r.done("complaint"); err != nil {
		return nil, fmt.Errorf("complaint: %w", err)
	}
	return c, nil
}
