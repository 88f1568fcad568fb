package testnet

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tabella/tabella/app"
	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/internal/proctest"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// TestObserverJoinsByStateSync: validators snapshot their state every 10
// blocks; a new observer joins by state sync from a trusted height and
// hash, without replaying the chain, and then holds the same app hash and
// the same ballots as everyone else.
func TestObserverJoinsByStateSync(t *testing.T) {
	const interval = 10
	n, ctx := suite(t, false, func(o *app.TestnetOptions) { o.SnapshotInterval = interval })
	l, stop := n.startLoad(ctx, 2000, 8, []int{0, 1, 2, 3})
	time.Sleep(phase(5 * time.Second))
	stop()
	var top int64
	for _, a := range l.acks {
		top = max(top, a.height)
	}
	// Wait for a snapshot above every acknowledged ballot.
	snapAt := (top/interval + 1) * interval
	n.waitHeight(ctx, 0, snapAt+3)
	snapDir := filepath.Join(app.LedgerDBDir(n.net.Nodes[0].Home), "snapshots", fmt.Sprint(snapAt), "meta.json")
	eventually(t, time.Minute, fmt.Sprintf("no snapshot at height %d", snapAt), func() bool {
		_, err := os.Stat(snapDir)
		return err == nil
	})

	// The joiner trusts a recent header: its height and hash come out of
	// band (here, from node 0; in life, from a party the observer trusts).
	trustHeight := snapAt - 2
	blk, err := n.rpcs[0].Block(ctx, &trustHeight)
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(n.dir, "observer-latecomer")
	ports := proctest.NewPorts(t)
	if _, err := app.InitHome(app.HomeOptions{Home: home, Moniker: "latecomer", RPCAddress: ports.RPCAddr(), P2PAddress: ports.P2PAddr(), GRPCAddress: ports.GRPCAddr(), TimeoutCommit: 300 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	gen, err := os.ReadFile(n.net.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "config", "genesis.json"), gen, 0o644); err != nil {
		t.Fatal(err)
	}
	var peers []string
	for _, node := range n.net.Nodes {
		peers = append(peers, fmt.Sprintf("%s@127.0.0.1:%d", node.NodeID, node.P2P))
	}
	if err := app.SetPersistentPeers(home, strings.Join(peers, ",")); err != nil {
		t.Fatal(err)
	}
	if err := app.EnableStateSync(home, app.StateSyncOptions{
		RPCServers:  []string{n.net.Nodes[0].RPCAddr(), n.net.Nodes[2].RPCAddr()},
		TrustHeight: trustHeight,
		TrustHash:   blk.BlockID.Hash,
	}); err != nil {
		t.Fatal(err)
	}
	tabellad, _ := proctest.Binaries(t)
	joiner := proctest.Start(t, "latecomer", tabellad, "start", "--home", home)
	c, err := proctest.WaitHeight(ctx, ports.GRPCAddr(), snapAt+2)
	if err != nil {
		t.Fatalf("%v\n%s", err, joiner.Log())
	}
	defer c.Close()
	if !strings.Contains(joiner.Log(), "snapshot restored") {
		t.Fatalf("the joiner did not restore a snapshot:\n%s", joiner.Log())
	}
	// It did not replay from genesis: its block store starts at the
	// snapshot.
	st, err := rpcStatus(ctx, ports)
	if err != nil {
		t.Fatal(err)
	}
	if st.SyncInfo.EarliestBlockHeight <= 1 {
		t.Fatalf("joiner's block store starts at %d: it replayed instead of state syncing", st.SyncInfo.EarliestBlockHeight)
	}
	// Same app hash as everyone at equal heights, and every ballot there.
	info, err := c.GetChainInfo(ctx, &tabellav1.GetChainInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	h := info.Height
	// Block h+1 carries the app hash after h: every node, the joiner
	// included, must have it before the comparison below.
	for i := range n.net.Nodes {
		n.waitHeight(ctx, i, h+1)
	}
	cj, err := proctest.WaitHeight(ctx, ports.GRPCAddr(), h+1)
	if err != nil {
		t.Fatalf("%v\n%s", err, joiner.Log())
	}
	cj.Close()
	for i := range n.net.Nodes {
		ti, err := n.clients[i].GetTally(ctx, &tabellav1.GetTallyRequest{InitiativeId: initiativeID, Height: h})
		tj, err2 := c.GetTally(ctx, &tabellav1.GetTallyRequest{InitiativeId: initiativeID, Height: h})
		if err != nil || err2 != nil || ti.Tally.BallotsCast != tj.Tally.BallotsCast {
			t.Fatalf("tally at %d differs: %v %v (%v %v)", h, ti, tj, err, err2)
		}
	}
	next := h + 1
	want, err := n.rpcs[0].Block(ctx, &next)
	if err != nil {
		t.Fatal(err)
	}
	got, err := rpcBlock(ctx, ports, next)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want.Block.AppHash, got.Block.AppHash) {
		t.Fatalf("app hash after %d: joiner %X, validators %X", h, got.Block.AppHash, want.Block.AppHash)
	}
	for _, a := range l.acks {
		b, err := c.GetBallot(ctx, &tabellav1.GetBallotRequest{InitiativeId: initiativeID, Voter: a.voter})
		if err != nil || !bytes.Equal(b.Ballot.BallotHash, a.hash) {
			t.Fatalf("joiner lacks ballot %X: %s", a.hash, client.Describe(err))
		}
	}
	n.verify(ctx, "observer joins by state sync", l)
}
