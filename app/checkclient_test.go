package app

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// newCheckTestApp is an application over the test ledger with one more
// committed block that opens initiative "parks" (one vote per voter).
func newCheckTestApp(t *testing.T) (*Application, *Metrics) {
	t.Helper()
	l := newTestLedger(t)
	spec := &tabellav1.InitiativeSpec{
		Id:      "parks",
		Kind:    tabellav1.InitiativeKind_INITIATIVE_KIND_CONSULTATION,
		Title:   "Which park gets new benches?",
		Options: []*tabellav1.Option{{Id: "north", Title: "North Park"}, {Id: "south", Title: "South Park"}},
		Ballot:  &tabellav1.BallotRules{MinSelections: 1, MaxSelections: 1},
		Schedule: &tabellav1.Schedule{
			VotingOpensAt:  testStart.Unix(),
			VotingClosesAt: testStart.Add(24 * time.Hour).Unix(),
		},
		Eligibility: &tabellav1.Eligibility{IssuerIds: []string{"registry"}},
	}
	create, err := client.CreateInitiativeTx(serviceTestChain, testKey("city"), "city", spec)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.FinalizeBlock(ledger.Block{Height: 2, Time: testStart.Add(time.Minute), Txs: [][]byte{create}, Hash: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.TxResults[0]; r.Code != ledger.CodeOK {
		t.Fatalf("create initiative: %s", r.Log)
	}
	if _, err := l.Commit(); err != nil {
		t.Fatal(err)
	}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	a := NewApplication(l, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a.SetMetrics(m)
	return a, m
}

// checkTestBallot is voter's ballot for "parks", choosing option.
func checkTestBallot(t *testing.T, voter string, option uint32) []byte {
	t.Helper()
	key := testKey(voter)
	cred, err := client.IssueCredential(serviceTestChain, testKey("registry"), &tabellav1.Credential{
		IssuerId: "registry", VoterPublicKey: key.Public().(ed25519.PublicKey),
		IssuedAt: 1, ExpiresAt: 4_000_000_000,
	})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := client.BallotTx(serviceTestChain, key, "parks", cred, []uint32{option}, 1)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestBatchingClientChecksInOrder queues ballots as the mempool does for
// gossip, none of them verified before: every request is answered with
// CheckTx's verdict once Flush returns, in queue order (a voter's second
// ballot right behind the first is refused), bad signatures are still
// refused, both callbacks fire, and the signatures were verified in a few
// batches, not one tx at a time.
func TestBatchingClientChecksInOrder(t *testing.T) {
	a, m := newCheckTestApp(t)
	c := newBatchingClient(a, new(atomic.Pointer[mempoolRoom]))
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()

	var (
		mu     sync.Mutex
		global int
	)
	c.SetResponseCallback(func(*abci.Request, *abci.Response) {
		mu.Lock()
		global++
		mu.Unlock()
	})

	type want struct {
		tx   []byte
		code ledger.Code
	}
	var txs []want
	for i := range 200 {
		txs = append(txs, want{checkTestBallot(t, fmt.Sprintf("voter-%d", i), uint32(i%2)), ledger.CodeOK})
	}
	// voter-0 again, with another choice: refused, since its first ballot
	// was checked before it.
	txs = append(txs, want{checkTestBallot(t, "voter-0", 1), ledger.CodeRevotingDisabled})
	var env tabellav1.Tx
	if err := proto.Unmarshal(checkTestBallot(t, "voter-forger", 0), &env); err != nil {
		t.Fatal(err)
	}
	env.Signatures[0].Signature[5] ^= 0x10
	forged, _ := proto.Marshal(&env)
	txs = append(txs, want{forged, ledger.CodeBadSignature}, want{[]byte("not a tx"), ledger.CodeMalformedTx})

	got := make([]ledger.Code, len(txs))
	answered := make([]bool, len(txs))
	for i, w := range txs {
		rr, err := c.CheckTxAsync(context.Background(), &abci.RequestCheckTx{Tx: w.tx})
		if err != nil {
			t.Fatal(err)
		}
		rr.SetCallback(func(res *abci.Response) {
			mu.Lock()
			defer mu.Unlock()
			got[i] = ledger.Code(res.GetCheckTx().Code)
			answered[i] = true
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, w := range txs {
		if !answered[i] {
			t.Fatalf("tx %d was not answered when Flush returned", i)
		}
		if got[i] != w.code {
			t.Errorf("tx %d: code %s, want %s", i, got[i], w.code)
		}
	}
	if global != len(txs) {
		t.Errorf("response callback ran %d times, want %d", global, len(txs))
	}
	var h dto.Metric
	if err := m.checkTxBatch.Write(&h); err != nil {
		t.Fatal(err)
	}
	batches, checked := h.GetHistogram().GetSampleCount(), h.GetHistogram().GetSampleSum()
	if checked != float64(len(txs)) {
		t.Errorf("batches held %v txs, want %d", checked, len(txs))
	}
	if batches > 10 {
		t.Errorf("%d txs were checked in %d batches: their signatures were not verified together", len(txs), batches)
	}
}

// TestBatchingClientStopped: once the client stops, a Flush waiting for
// requests nobody will answer returns an error, and CheckTxAsync refuses.
func TestBatchingClientStopped(t *testing.T) {
	a, _ := newCheckTestApp(t)
	c := newBatchingClient(a, new(atomic.Pointer[mempoolRoom]))
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatalf("Flush with nothing queued: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CheckTxAsync(context.Background(), &abci.RequestCheckTx{Tx: []byte("x")}); err == nil {
		t.Error("CheckTxAsync on a stopped client succeeded")
	}

	// A client whose worker never runs: its requests stay unanswered.
	c = newBatchingClient(a, new(atomic.Pointer[mempoolRoom]))
	if err := c.Client.Start(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := c.CheckTxAsync(context.Background(), &abci.RequestCheckTx{Tx: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- c.Flush(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("Flush returned (%v) with three requests unanswered", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("Flush returned nil with requests unanswered on a stopped client")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Flush on a stopped client did not return")
	}
}

// TestBatchingClientMempoolFull: the worker answers MEMPOOL_FULL, without
// checking, to queued txs that would not fit once the txs it accepted
// before them are in the mempool; those txs are accepted when checked
// again after the mempool drained, so the refusal changed nothing.
func TestBatchingClientMempoolFull(t *testing.T) {
	a, _ := newCheckTestApp(t)
	cc := newClientCreator(a)
	free := 5
	cc.SetMempoolRoom(func() (int, int64) { return free, 1 << 30 })
	cl, err := cc.NewABCIClient()
	if err != nil {
		t.Fatal(err)
	}
	c := cl.(*batchingClient)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()

	var txs [][]byte
	for i := range 8 {
		txs = append(txs, checkTestBallot(t, fmt.Sprintf("voter-%d", i), 0))
	}
	check := func(txs [][]byte) []ledger.Code {
		t.Helper()
		var (
			mu  sync.Mutex
			got = make([]ledger.Code, len(txs))
		)
		for i, tx := range txs {
			rr, err := c.CheckTxAsync(context.Background(), &abci.RequestCheckTx{Tx: tx})
			if err != nil {
				t.Fatal(err)
			}
			rr.SetCallback(func(res *abci.Response) {
				mu.Lock()
				got[i] = ledger.Code(res.GetCheckTx().Code)
				mu.Unlock()
			})
		}
		if err := c.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		return got
	}
	got := check(txs)
	for i, code := range got {
		want := ledger.CodeOK
		if i >= free {
			want = ledger.CodeMempoolFull
		}
		if code != want {
			t.Errorf("tx %d: %s, want %s", i, code, want)
		}
	}
	// A recheck is of a tx already in the mempool: a full mempool does not
	// refuse it. (voter-0's ballot is in the check state, so its recheck
	// is refused as a replay: a real verdict, not MEMPOOL_FULL.)
	free = 0
	rr, err := c.CheckTxAsync(context.Background(), &abci.RequestCheckTx{Tx: txs[0], Type: abci.CheckTxType_Recheck})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code := ledger.Code(rr.Response.GetCheckTx().Code); code != ledger.CodeReplay {
		t.Errorf("recheck with the mempool full: %s, want %s", code, ledger.CodeReplay)
	}

	free = 100
	for i, code := range check(txs[5:]) {
		if code != ledger.CodeOK {
			t.Errorf("tx %d checked again with room: %s, want OK", 5+i, code)
		}
	}
}
