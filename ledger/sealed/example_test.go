package sealed_test

import (
	"crypto/rand"
	"fmt"

	"github.com/tabella/tabella/ledger/sealed"
)

// The whole life of a sealed initiative with four trustees (two government,
// two civil society), threshold 3, and one trustee absent at closing.
func Example() {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	// Key ceremony. Every message below would be a public tx.
	params := sealed.DKGParams{T: sealed.SidedThreshold(2, 2), Context: []byte("chain/ceremony-1")}
	var keys []*sealed.TrusteeKey
	for i := 1; i <= 4; i++ {
		k, err := sealed.NewTrusteeKey(rand.Reader, i)
		must(err)
		keys = append(keys, k)
		params.Trustees = append(params.Trustees, k.Public())
	}
	var deals []*sealed.Deal
	for i := 1; i <= 4; i++ {
		d, err := sealed.NewDeal(rand.Reader, params, i)
		must(err)
		must(sealed.VerifyDeal(params, d)) // the ledger's check
		deals = append(deals, d)
	}
	for _, k := range keys { // each trustee checks its shares (and would Complain)
		for _, d := range deals {
			must(k.CheckShare(params, d))
		}
	}
	qualified, err := sealed.Qualify(params, deals, nil)
	must(err)
	y, err := sealed.JointKey(qualified)
	must(err)

	// Voting: a budget ballot (pick projects within 250,000).
	rules := sealed.Rules{Options: 3, Min: 1, Max: 3, Costs: []uint64{150000, 90000, 60000}, Budget: 250000}
	tally, err := sealed.NewTally(rules.Options)
	must(err)
	for v, choices := range [][]uint8{{1, 1, 0}, {0, 1, 1}, {1, 0, 1}} {
		ctx := fmt.Appendf(nil, "chain/initiative-7/voter-%d", v)
		b, err := sealed.EncryptBallot(rand.Reader, y, ctx, choices, rules)
		must(err)
		wire := b.Bytes()
		// Ledger side.
		got, err := sealed.DecodeBallot(wire)
		must(err)
		must(sealed.VerifyBallot(y, ctx, rules, got))
		must(tally.Add(got))
	}

	// Closing: trustees 1, 2 and 4 publish partial decryptions; 3 is absent.
	closeCtx := []byte("chain/initiative-7/close")
	var partials []*sealed.PartialDecryption
	for _, k := range []*sealed.TrusteeKey{keys[0], keys[1], keys[3]} {
		share, err := k.KeyShare(params, qualified)
		must(err)
		p, err := share.PartialDecrypt(rand.Reader, closeCtx, tally)
		must(err)
		vk, err := sealed.VerificationKey(qualified, p.Index())
		must(err)
		must(sealed.VerifyPartial(closeCtx, vk, tally, p)) // the ledger's check
		partials = append(partials, p)
	}
	table, err := sealed.NewDLogTable(1_000_000, 0)
	must(err)
	counts, err := sealed.Combine(table, params.T, tally, partials)
	must(err)
	fmt.Println(counts)
	// Output: [2 2 2]
}
