package testnet

import (
	"bytes"
	"testing"
	"time"

	"github.com/tabella/tabella/app"
	"github.com/tabella/tabella/client"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// TestValidatorRotationByGovernance moves the regional office's validator
// to the observer's machine by dual-majority governance, retires the old
// node, and checks that the chain keeps going, that receipts still verify
// offline against genesis and online with the light client, and that a
// full audit follows the validator set through the change.
func TestValidatorRotationByGovernance(t *testing.T) {
	n, ctx := suite(t, false)
	const regional, observer = 1, 4
	newKey, err := app.ValidatorKey(n.net.Nodes[observer].Home)
	if err != nil {
		t.Fatal(err)
	}
	action := &tabellav1.GovAction{Action: &tabellav1.GovAction_SetValidator{SetValidator: &tabellav1.SetValidator{
		PartyId: "regional-office", PublicKey: newKey, Power: app.DefaultPower,
	}}}
	admin := func(party string) *client.Key {
		k, err := client.LoadKey(n.dir, party+"-admin")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	info, _ := n.clients[0].GetChainInfo(ctx, &tabellav1.GetChainInfoRequest{})
	p, _ := client.GovProposeTx(n.chainID, admin("city-council").Private, "city-council", "move-regional", info.BlockTime+3600, action)
	proposed, err := n.clients[0].Broadcast(ctx, p, true)
	if err != nil {
		t.Fatal(client.Describe(err))
	}
	// The votes go through node 2, whose CheckTx must see the proposal.
	n.waitHeight(ctx, 2, proposed.Height)
	var decided int64
	for _, party := range []string{"regional-office", "residents-union", "open-vote-watch"} {
		v, _ := client.GovVoteTx(n.chainID, admin(party).Private, party, "move-regional", true)
		res, err := n.clients[2].Broadcast(ctx, v, true)
		if err != nil {
			t.Fatal(client.Describe(err))
		}
		decided = res.Height
	}
	// The votes were committed through node 2; node 0 may be a block behind.
	n.waitHeight(ctx, 0, decided)
	prop, err := n.clients[0].GetGovProposal(ctx, &tabellav1.GetGovProposalRequest{Id: "move-regional"})
	if err != nil || prop.Proposal.Status != tabellav1.GovStatus_GOV_STATUS_PASSED {
		t.Fatalf("proposal: %v %v", prop, err)
	}
	// Updates decided at height h take effect at h+2.
	n.waitHeight(ctx, 0, decided+3)
	h := decided + 2
	vals, err := n.rpcs[0].Validators(ctx, &h, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, v := range vals.Validators {
		if bytes.Equal(v.PubKey.Bytes(), newKey) {
			found = true
		}
	}
	if !found || vals.Total != 4 {
		t.Fatalf("validators at %d: %d, observer key present %v", h, vals.Total, found)
	}

	// Retire the old machine; the observer now signs for the party.
	n.procs[regional].Kill()
	l, stop := n.startLoad(ctx, 2000, 8, []int{0, 2, 3, observer})
	time.Sleep(phase(5 * time.Second))
	eventually(t, time.Minute, "no ballot committed after the rotation", func() bool { return l.acked.Load() > 0 })
	stop()
	// Receipts from after the change: offline against genesis alone (the
	// genesis validators still present hold more than a third), and online.
	a := l.acks[len(l.acks)-1]
	res, err := n.clients[observer].GetReceipt(ctx, &tabellav1.GetReceiptRequest{InitiativeId: initiativeID, Voter: a.voter, Height: a.height})
	if err != nil {
		t.Fatal(client.Describe(err))
	}
	r, err := client.ReceiptFromResponse(initiativeID, a.voter, res)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.VerifyOffline(n.trust); err != nil {
		t.Fatalf("offline receipt across the validator change: %v", err)
	}
	lv, err := client.NewLightVerifier(ctx, client.LightOptions{
		Primary:   n.net.Nodes[observer].RPCAddr(),
		Witnesses: []string{n.net.Nodes[0].RPCAddr(), n.net.Nodes[2].RPCAddr()},
		Genesis:   n.trust,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.VerifyOnline(ctx, r, n.clients[observer], lv, n.trust); err != nil {
		t.Fatalf("online receipt across the validator change: %v", err)
	}
	// The audit recomputes the validator set from the ledger's updates and
	// checks every header's validators hash and every commit.
	rep, err := client.Audit(ctx, client.AuditOptions{RPC: n.net.Nodes[3].RPCAddr()})
	if err != nil {
		t.Fatalf("audit across the validator change: %v", err)
	}
	if rep.Heights < decided+2 || rep.Ballots == 0 {
		t.Fatalf("audit covered %d heights, %d ballots", rep.Heights, rep.Ballots)
	}
	n.verify(ctx, "validator rotation", l)
}
