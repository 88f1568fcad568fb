package testnet

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tabella/tabella/app"
	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// The nodes: 0 city-council, 1 regional-office (government), 2
// residents-union, 3 open-vote-watch (civil society), 4 observer-press.

func suite(t *testing.T, proxies bool, tweak ...func(*app.TestnetOptions)) (*network, context.Context) {
	if testing.Short() {
		t.Skip("starts a five-node network")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	n := startNetwork(t, proxies, tweak...)
	n.ready(ctx)
	return n, ctx
}

// TestFaultKillOneValidator: SIGKILL one validator of four under load and
// restart it. Three of four hold more than two thirds: commits continue;
// the restarted node catches up.
func TestFaultKillOneValidator(t *testing.T) {
	n, ctx := suite(t, false)
	l, stop := n.startLoad(ctx, 20000, 12, []int{0, 2, 3, 4})
	time.Sleep(phase(4 * time.Second))
	n.procs[1].Kill()
	before := l.acked.Load()
	time.Sleep(phase(5 * time.Second))
	eventually(t, time.Minute, "no ballot was committed while one validator of four was down", func() bool { return l.acked.Load() > before })
	n.restart(1)
	time.Sleep(phase(4 * time.Second))
	stop()
	n.verify(ctx, "kill 1 of 4 validators", l)
}

// TestFaultPauseValidator: SIGSTOP a validator for 10 s, then SIGCONT.
func TestFaultPauseValidator(t *testing.T) {
	n, ctx := suite(t, false)
	l, stop := n.startLoad(ctx, 20000, 12, []int{0, 1, 3, 4})
	time.Sleep(phase(3 * time.Second))
	if err := n.procs[2].Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Second)
	if err := n.procs[2].Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(phase(4 * time.Second))
	stop()
	n.verify(ctx, "SIGSTOP 1 validator 10 s", l)
}

// TestFaultKillAll: SIGKILL every node at once under load and restart them
// all: the chain resumes and nothing acknowledged is lost.
func TestFaultKillAll(t *testing.T) {
	n, ctx := suite(t, false)
	l, stop := n.startLoad(ctx, 20000, 12, []int{0, 1, 2, 3, 4})
	time.Sleep(phase(4 * time.Second))
	for _, p := range n.procs {
		p.Kill()
	}
	stop()
	h0 := int64(0)
	for _, a := range l.acks {
		h0 = max(h0, a.height)
	}
	for i := range n.procs {
		n.restart(i)
	}
	for i := range n.procs {
		n.waitHeight(ctx, i, h0+1)
	}
	l2, stop2 := n.startLoad(ctx, 20000, 12, []int{0, 1, 2, 3, 4})
	time.Sleep(phase(3 * time.Second))
	eventually(t, time.Minute, "no ballot committed after the whole network restarted", func() bool { return l2.acked.Load() > 0 })
	stop2()
	// One report covering both halves.
	l.mu.Lock()
	l.acks = append(l.acks, l2.acks...)
	l.sent.Add(l2.sent.Load())
	l.acked.Add(l2.acked.Load())
	l.stall = max(l.stall, l2.stall)
	l.mu.Unlock()
	n.verify(ctx, "SIGKILL all, restart", l)
}

// TestFaultPartition: cut the network 2|2 (government | civil society).
// Neither half holds two thirds: nothing commits while partitioned, commits
// resume when healed, and there is no fork.
func TestFaultPartition(t *testing.T) {
	n, ctx := suite(t, true)
	l, stop := n.startLoad(ctx, 20000, 12, []int{0, 1, 2, 3})
	time.Sleep(phase(3 * time.Second))
	gov, civil := []int{0, 1, 4}, []int{2, 3}
	n.partition(gov, civil, true)
	time.Sleep(2 * time.Second) // a block whose commit was in flight may still land
	// A lagging node may still catch up inside its half, so the invariant
	// is on the highest height any node holds: it must not move.
	top := func() int64 {
		var best int64
		for i := range n.net.Nodes {
			if h, err := n.height(ctx, i); err == nil {
				best = max(best, h)
			}
		}
		return best
	}
	split := top()
	time.Sleep(phase(6 * time.Second))
	if h := top(); h > split {
		t.Fatalf("height %d committed while the network was split 2|2 (highest before: %d)", h, split)
	}
	l.mu.Lock()
	for _, a := range l.acks {
		if a.height > split {
			t.Errorf("ballot %X acknowledged at height %d, above the split at %d", a.hash, a.height, split)
		}
	}
	l.mu.Unlock()
	n.partition(gov, civil, false)
	// Reconnection follows CometBFT's redial backoff: wait for commits to
	// resume rather than guess how long that takes.
	resumed := func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, a := range l.acks {
			if a.height > split {
				return true
			}
		}
		return false
	}
	eventually(t, 90*time.Second, "no ballot committed after the partition healed", resumed)
	time.Sleep(phase(3 * time.Second))
	stop()
	n.verify(ctx, "partition 2|2, heal", l)
}

// TestFaultForgedTxs sends forged and malformed txs through every node's
// API: each is refused with a stable code, and none enters a block.
func TestFaultForgedTxs(t *testing.T) {
	n, ctx := suite(t, false)
	issuer, _ := client.LoadKey(n.dir, "population-registry")
	voter := ledgerKey("forger")
	age, _ := client.ParseAttribute("age=40")
	cred, _ := client.IssueCredential(n.chainID, issuer.Private, &tabellav1.Credential{
		IssuerId: "population-registry", VoterPublicKey: []byte(voter.Public().(ed25519.PublicKey)), Attributes: []*tabellav1.Attribute{age},
		IssuedAt: time.Now().Unix(), ExpiresAt: time.Now().Add(time.Hour).Unix(),
	})
	good, _ := client.BallotTx(n.chainID, voter, initiativeID, cred, []uint32{0}, 1)
	var env tabellav1.Tx
	_ = proto.Unmarshal(good, &env)
	forgedSig := proto.Clone(&env).(*tabellav1.Tx)
	forgedSig.Signatures[0].Signature[0] ^= 1
	fs, _ := proto.Marshal(forgedSig)
	otherChain, _ := client.BallotTx("another-chain", voter, initiativeID, cred, []uint32{0}, 1)
	selfCred, _ := client.IssueCredential(n.chainID, voter, &tabellav1.Credential{
		IssuerId: "population-registry", VoterPublicKey: []byte(voter.Public().(ed25519.PublicKey)), Attributes: []*tabellav1.Attribute{age},
		IssuedAt: time.Now().Unix(), ExpiresAt: time.Now().Add(time.Hour).Unix(),
	})
	selfIssued, _ := client.BallotTx(n.chainID, voter, initiativeID, selfCred, []uint32{0}, 1)
	bad := []struct {
		name string
		tx   []byte
		code ledger.Code
	}{
		{"forged signature", fs, ledger.CodeBadSignature},
		{"garbage", []byte("not a tx at all"), ledger.CodeMalformedTx},
		{"wrong chain", otherChain, ledger.CodeWrongChainID},
		{"self-issued credential", selfIssued, ledger.CodeBadCredential},
		{"truncated", good[:len(good)/2], ledger.CodeMalformedTx},
	}
	sent := int64(0)
	for i := range n.net.Nodes {
		for _, b := range bad {
			sent++
			_, err := n.clients[i].Broadcast(ctx, b.tx, false)
			if code, _ := client.RejectionCode(err); code != b.code {
				t.Errorf("node %s, %s: %v, want %s", n.net.Nodes[i].Name, b.name, err, b.code)
			}
		}
	}
	h, _ := n.height(ctx, 0)
	n.waitHeight(ctx, 0, h+3)
	for _, b := range bad {
		if res, err := n.rpcs[0].Tx(ctx, ledger.TxHash(b.tx), false); err == nil {
			t.Errorf("%s entered block %d", b.name, res.Height)
		}
	}
	tl, err := n.clients[4].GetTally(ctx, &tabellav1.GetTallyRequest{InitiativeId: initiativeID})
	if err != nil || tl.Tally.BallotsCast != 0 {
		t.Fatalf("tally after forged txs: %v %v", tl, err)
	}
	n.checkNoFork(ctx)
	// Every rejection is counted by code in the app's metrics.
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", n.net.Nodes[0].Metrics))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`tabella_api_rejected_total{code="BAD_SIGNATURE",type="cast_ballot"} 1`, `tabella_api_rejected_total{code="MALFORMED_TX",type="undecodable"}`, "tabella_finalize_block_seconds_bucket", "tabella_commit_seconds_count", "tabella_height"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	reportsMu.Lock()
	reports = append(reports, report{scenario: "forged/malformed via every node", sent: sent})
	reportsMu.Unlock()
}
