package ledger

import (
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// SealedRecord is a sealed initiative's key ceremony and decryption
// record as state holds it.
type SealedRecord struct {
	State *tabellav1.SealedState
	// Deals[i] is the deal of trustee State.Dealt[i], as posted.
	Deals [][]byte
	// Complaints are the upheld complaints in (dealer, complainer) order.
	Complaints [][]byte
	// Shares[i] is the valid decryption share of trustee State.Shared[i].
	Shares [][]byte
}

// Sealed returns a sealed initiative's record, nil when the initiative is
// not sealed or does not exist.
func (v *View) Sealed(id string) (*SealedRecord, error) {
	var st tabellav1.SealedState
	ok, err := v.getProto(SealedKey(id), &st)
	if err != nil || !ok {
		return nil, err
	}
	rec := &SealedRecord{State: &st}
	for _, j := range st.Dealt {
		b, err := v.Get(DealKey(id, j))
		if err != nil {
			return nil, err
		}
		rec.Deals = append(rec.Deals, b)
	}
	for _, j := range st.Shared {
		b, err := v.Get(ShareKey(id, j))
		if err != nil {
			return nil, err
		}
		rec.Shares = append(rec.Shares, b)
	}
	err = v.scan([]byte(prefixComplaint+id+"/"), nil, func(_, val []byte) bool {
		rec.Complaints = append(rec.Complaints, append([]byte(nil), val...))
		return true
	})
	return rec, err
}

// TrusteeKey returns a party's registered trustee transport key, nil when
// it has none.
func (v *View) TrusteeKey(party string) ([]byte, error) {
	return v.Get(TrusteeKeyKey(party))
}
