// Package testnet holds the multi-party network's end-to-end and fault
// tests: real tabellad processes on 127.0.0.1, a real load of signed
// ballots over gRPC, and checks that nothing acknowledged is ever lost.
package testnet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	coretypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tabella/tabella/app"
	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/internal/proctest"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

const initiativeID = "fault-suite"

// network is a running four-party testnet plus an observer.
type network struct {
	t       *testing.T
	dir     string
	net     *app.Testnet
	procs   []*proctest.Proc
	clients []*client.Client
	rpcs    []*rpchttp.HTTP
	proxies map[[2]int]*toxiproxy.Proxy
	chainID string
	trust   *client.TrustRoot
}

// startNetwork generates and starts the network. With proxies, every P2P
// connection from node i to node j goes through its own toxiproxy, so the
// test can cut links.
func startNetwork(t *testing.T, withProxies bool, tweak ...func(*app.TestnetOptions)) *network {
	t.Helper()
	tabellad, _ := proctest.Binaries(t)
	dir := filepath.Join(t.TempDir(), "net")
	pf, err := app.LoadPartiesFile("parties.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := &network{t: t, dir: dir, proxies: map[[2]int]*toxiproxy.Proxy{}}
	opts := app.TestnetOptions{Parties: pf, Output: dir, BasePort: proctest.FreeRange(t, 60), BlockTime: 300 * time.Millisecond}
	for _, f := range tweak {
		f(&opts)
	}
	nodes := len(pf.Parties) + len(pf.Observers)
	ports := map[[2]int]int{}
	if withProxies {
		for i := 0; i < nodes; i++ {
			for j := 0; j < nodes; j++ {
				if i != j {
					ports[[2]int{i, j}] = proctest.FreePort(t)
				}
			}
		}
		opts.PeerAddress = func(from, to int) string { return fmt.Sprintf("127.0.0.1:%d", ports[[2]int{from, to}]) }
	}
	if n.net, err = app.GenerateTestnet(opts); err != nil {
		t.Fatal(err)
	}
	if withProxies {
		server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
		for k, port := range ports {
			p := toxiproxy.NewProxy(server, fmt.Sprintf("p%d-%d", k[0], k[1]), fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", n.net.Nodes[k[1]].P2P))
			if err := p.Start(); err != nil {
				t.Fatalf("proxy %v: %v", k, err)
			}
			n.proxies[k] = p
		}
		t.Cleanup(func() {
			for _, p := range n.proxies {
				p.Stop()
			}
		})
	}
	n.chainID = n.net.ChainID
	if n.trust, err = client.TrustFromGenesis(n.net.Genesis); err != nil {
		t.Fatal(err)
	}
	n.procs = make([]*proctest.Proc, len(n.net.Nodes))
	for i, node := range n.net.Nodes {
		n.procs[i] = proctest.Start(t, node.Name, tabellad, "start", "--home", node.Home)
		c, err := client.Dial(node.GRPCAddr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		n.clients = append(n.clients, c)
		r, err := rpchttp.New(node.RPCAddr(), "/websocket")
		if err != nil {
			t.Fatal(err)
		}
		n.rpcs = append(n.rpcs, r)
	}
	return n
}

// ready waits for every node to commit height 2, then creates the
// initiative the load votes in.
func (n *network) ready(ctx context.Context) {
	n.t.Helper()
	for i := range n.net.Nodes {
		n.waitHeight(ctx, i, 2)
	}
	org, err := client.LoadKey(n.dir, "citizen-services")
	if err != nil {
		n.t.Fatal(err)
	}
	info, err := n.clients[0].GetChainInfo(ctx, &tabellav1.GetChainInfoRequest{})
	if err != nil {
		n.t.Fatal(err)
	}
	spec, err := client.ParseSpec([]byte(`id: `+initiativeID+`
kind: consultation
title: Fault suite
options: [{id: a, title: A}, {id: b, title: B}, {id: c, title: C}]
ballot: {min_selections: 1, max_selections: 2, revoting: true}
schedule: {opens: now, closes: +30d}
eligibility:
  issuers: [population-registry]
  rules: ["age >= 16"]
`), time.Unix(info.BlockTime, 0))
	if err != nil {
		n.t.Fatal(err)
	}
	tx, err := client.CreateInitiativeTx(n.chainID, org.Private, "citizen-services", spec)
	if err != nil {
		n.t.Fatal(err)
	}
	res, err := n.clients[0].Broadcast(ctx, tx, true)
	if err != nil {
		n.t.Fatalf("create initiative: %s", client.Describe(err))
	}
	// Every node must know the initiative before ballots reach it.
	for i := range n.net.Nodes {
		n.waitHeight(ctx, i, res.Height)
	}
}

func (n *network) height(ctx context.Context, i int) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	info, err := n.clients[i].GetChainInfo(ctx, &tabellav1.GetChainInfoRequest{})
	if err != nil {
		return 0, err
	}
	return info.Height, nil
}

func (n *network) waitHeight(ctx context.Context, i int, h int64) {
	n.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		got, err := n.height(ctx, i)
		if err == nil && got >= h {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			n.t.Fatalf("node %s did not reach height %d (at %d, %v)\n%s", n.net.Nodes[i].Name, h, got, err, n.procs[i].Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// restart starts node i again on its home.
func (n *network) restart(i int) {
	tabellad, _ := proctest.Binaries(n.t)
	n.procs[i] = proctest.Start(n.t, n.net.Nodes[i].Name, tabellad, "start", "--home", n.net.Nodes[i].Home)
}

// partition cuts every link between the two groups (both directions).
func (n *network) partition(a, b []int, cut bool) {
	for _, i := range a {
		for _, j := range b {
			for _, k := range [][2]int{{i, j}, {j, i}} {
				if cut {
					n.proxies[k].Stop()
				} else if err := n.proxies[k].Start(); err != nil {
					n.t.Fatalf("heal %v: %v", k, err)
				}
			}
		}
	}
}

type ack struct {
	voter  []byte
	hash   []byte
	height int64
}

// load streams pre-signed ballots from distinct voters to a set of nodes.
type load struct {
	sent, acked atomic.Int64
	mu          sync.Mutex
	acks        []ack
	stall       time.Duration
	targets     atomic.Value // []int
}

// startLoad signs ballots for many voters and streams them with the given
// concurrency until ctx ends or the ballots run out.
func (n *network) startLoad(ctx context.Context, voters, workers int, targets []int) (*load, func()) {
	n.t.Helper()
	issuer, err := client.LoadKey(n.dir, "population-registry")
	if err != nil {
		n.t.Fatal(err)
	}
	type ballot struct {
		voter []byte
		tx    []byte
	}
	ballots := make([]ballot, voters)
	prefix := fmt.Sprintf("%s-%d", n.t.Name(), time.Now().UnixNano())
	for i := range ballots {
		seed := sha256.Sum256([]byte(fmt.Sprintf("%s-voter-%d", prefix, i)))
		priv := ed25519.NewKeyFromSeed(seed[:])
		pub := priv.Public().(ed25519.PublicKey)
		age, _ := client.ParseAttribute("age=40")
		cred, err := client.IssueCredential(n.chainID, issuer.Private, &tabellav1.Credential{
			IssuerId: "population-registry", VoterPublicKey: pub, Attributes: []*tabellav1.Attribute{age},
			IssuedAt: time.Now().Unix(), ExpiresAt: time.Now().Add(48 * time.Hour).Unix(),
		})
		if err != nil {
			n.t.Fatal(err)
		}
		tx, err := client.BallotTx(n.chainID, priv, initiativeID, cred, []uint32{uint32(i % 3)}, 1)
		if err != nil {
			n.t.Fatal(err)
		}
		ballots[i] = ballot{pub, tx}
	}
	l := &load{}
	l.targets.Store(targets)
	ctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(ballots)) {
					return
				}
				tg := l.targets.Load().([]int)
				node := tg[int(i)%len(tg)]
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				res, err := n.clients[node].Broadcast(cctx, ballots[i].tx, true)
				cancel()
				if status.Code(err) == codes.Unavailable {
					// The node is down: nothing was sent.
					time.Sleep(100 * time.Millisecond)
					continue
				}
				l.sent.Add(1)
				if err != nil {
					continue
				}
				l.acked.Add(1)
				l.mu.Lock()
				l.acks = append(l.acks, ack{ballots[i].voter, res.TxHash, res.Height})
				l.mu.Unlock()
			}
		}(w)
	}
	// Stall: the longest time the highest height seen on any node stood
	// still while the load ran.
	wg.Add(1)
	go func() {
		defer wg.Done()
		var best int64
		since := time.Now()
		for ctx.Err() == nil {
			for i := range n.net.Nodes {
				if h, err := n.height(ctx, i); err == nil && h > best {
					best, since = h, time.Now()
				}
			}
			if s := time.Since(since); s > l.stall {
				l.mu.Lock()
				l.stall = s
				l.mu.Unlock()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return l, func() { stop(); wg.Wait() }
}

// report is one row of the scenario table.
type report struct {
	scenario                   string
	sent, acked, present, lost int64
	stall                      time.Duration
}

var (
	reportsMu sync.Mutex
	reports   []report
)

func printReports() {
	reportsMu.Lock()
	defer reportsMu.Unlock()
	if len(reports) == 0 {
		return
	}
	fmt.Printf("\n%-28s %8s %8s %8s %6s %14s\n", "scenario", "sent", "acked", "present", "lost", "longest stall")
	for _, r := range reports {
		fmt.Printf("%-28s %8d %8d %8d %6d %14s\n", r.scenario, r.sent, r.acked, r.present, r.lost, r.stall.Round(10*time.Millisecond))
	}
	fmt.Println()
}

func TestMain(m *testing.M) {
	code := proctest.Main(m)
	printReports()
	os.Exit(code)
}

// verify waits for every node to pass the last acknowledged height, then
// checks every acknowledged ballot on every node, a sample of full receipts,
// and that all nodes agree on every block and app hash.
func (n *network) verify(ctx context.Context, name string, l *load) {
	n.t.Helper()
	var top int64
	for _, a := range l.acks {
		top = max(top, a.height)
	}
	live := n.live()
	for _, i := range live {
		n.waitHeight(ctx, i, top+2)
	}
	present := int64(len(l.acks))
	for _, i := range live {
		for _, a := range l.acks {
			b, err := n.clients[i].GetBallot(ctx, &tabellav1.GetBallotRequest{InitiativeId: initiativeID, Voter: a.voter})
			if err != nil || !bytes.Equal(b.Ballot.BallotHash, a.hash) {
				present--
				n.t.Errorf("node %s: acknowledged ballot %X (height %d) missing: %v", n.net.Nodes[i].Name, a.hash, a.height, err)
			}
		}
		// Full receipts for a sample, verified against genesis alone.
		for k := 0; k < len(l.acks) && k < 5; k++ {
			a := l.acks[(k*7919)%len(l.acks)]
			res, err := n.clients[i].GetReceipt(ctx, &tabellav1.GetReceiptRequest{InitiativeId: initiativeID, Voter: a.voter})
			if err != nil {
				n.t.Fatalf("node %s: receipt: %s", n.net.Nodes[i].Name, client.Describe(err))
			}
			r, err := client.ReceiptFromResponse(initiativeID, a.voter, res)
			if err != nil {
				n.t.Fatal(err)
			}
			if _, err := r.VerifyOffline(n.trust); err != nil {
				n.t.Fatalf("node %s: receipt of %X does not verify: %v", n.net.Nodes[i].Name, a.hash, err)
			}
		}
	}
	n.checkNoFork(ctx)
	reportsMu.Lock()
	reports = append(reports, report{name, l.sent.Load(), l.acked.Load(), present, int64(len(l.acks)) - present, l.stall})
	reportsMu.Unlock()
}

// checkNoFork compares every node's block hashes and app hashes at every
// height they all have.
func (n *network) checkNoFork(ctx context.Context) {
	n.t.Helper()
	var tip int64 = 1 << 62
	live := n.live()
	for _, i := range live {
		st, err := n.rpcs[i].Status(ctx)
		if err != nil {
			n.t.Fatal(err)
		}
		tip = min(tip, st.SyncInfo.LatestBlockHeight)
	}
	for h := int64(1); h <= tip; h += 20 {
		to := min(h+19, tip)
		var want []string
		for k, i := range live {
			res, err := n.rpcs[i].BlockchainInfo(ctx, h, to)
			if err != nil {
				n.t.Fatal(err)
			}
			var got []string
			for _, m := range res.BlockMetas {
				got = append(got, fmt.Sprintf("%d:%X:%X", m.Header.Height, m.BlockID.Hash, m.Header.AppHash))
			}
			if k == 0 {
				want = got
			} else if strings.Join(got, ",") != strings.Join(want, ",") {
				n.t.Fatalf("node %s disagrees with %s on heights %d..%d:\n%v\n%v", n.net.Nodes[i].Name, n.net.Nodes[live[0]].Name, h, to, got, want)
			}
		}
	}
}

// eventually polls cond until it holds, failing the test with what after
// timeout. Progress after a fault follows CometBFT's timeouts and redial
// backoff, which a loaded machine stretches: tests wait for it rather than
// guess a fixed delay.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (waited %s)", what, timeout)
		}
	}
}

// soak returns the load duration of each phase.
func phase(short time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv("TABELLA_SOAK")); err == nil && d > 0 {
		return d / 3
	}
	return short
}

func ledgerKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("testnet/" + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// live lists the nodes whose process is running.
func (n *network) live() []int {
	var out []int
	for i, p := range n.procs {
		if !p.Exited() {
			out = append(out, i)
		}
	}
	return out
}

func rpcStatus(ctx context.Context, p proctest.Ports) (*coretypes.ResultStatus, error) {
	r, err := rpchttp.New(fmt.Sprintf("http://127.0.0.1:%d", p.RPC), "/websocket")
	if err != nil {
		return nil, err
	}
	return r.Status(ctx)
}

func rpcBlock(ctx context.Context, p proctest.Ports, h int64) (*coretypes.ResultBlock, error) {
	r, err := rpchttp.New(fmt.Sprintf("http://127.0.0.1:%d", p.RPC), "/websocket")
	if err != nil {
		return nil, err
	}
	return r.Block(ctx, &h)
}
