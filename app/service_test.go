package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	idb "github.com/cosmos/iavl/db"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

const serviceTestChain = "tabella-service-test"

func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("app-test/" + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func testPub(name string) []byte { return testKey(name).Public().(ed25519.PublicKey) }

// refusingMempool fails the test if a tx reaches it: every tx below must
// be refused by the API before the mempool.
type refusingMempool struct{ t *testing.T }

func (m refusingMempool) Submit(context.Context, []byte) (ledger.Code, string, error) {
	m.t.Error("a tx the API should refuse reached the mempool")
	return ledger.CodeOK, "", nil
}

func (m refusingMempool) Committed(context.Context, []byte) (TxOutcome, bool, error) {
	return TxOutcome{}, false, nil
}

// newTestService is a service over a committed one-block ledger with a
// two-party consortium, an organiser and an issuer.
func newTestService(t *testing.T) (*Service, *Metrics) {
	t.Helper()
	l := newTestLedger(t)
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	svc := NewService(l, NewCommitEvents(), refusingMempool{t}, nil)
	svc.Metrics = m
	return svc, m
}

// testStart is the time of the test ledger's first block.
var testStart = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

// newTestLedger is a committed one-block ledger with a two-party
// consortium, an organiser ("city") and an issuer ("registry").
func newTestLedger(t *testing.T) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(idb.NewMemDB(), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	party := func(id string, kind tabellav1.PartyKind) *tabellav1.Party {
		return &tabellav1.Party{Id: id, Name: id, Kind: kind, AdminKeys: [][]byte{testPub(id + "-admin")},
			Validator: &tabellav1.Validator{PublicKey: testPub(id + "-val"), Power: 10}}
	}
	g := &tabellav1.Genesis{
		Parties: []*tabellav1.Party{
			party("gov", tabellav1.PartyKind_PARTY_KIND_GOVERNMENT),
			party("civ", tabellav1.PartyKind_PARTY_KIND_CIVIL_SOCIETY),
		},
		Organisers: []*tabellav1.Organiser{{Id: "city", Name: "City", PublicKey: testPub("city")}},
		Issuers:    []*tabellav1.Issuer{{Id: "registry", Name: "Registry", PublicKey: testPub("registry")}},
	}
	t0 := testStart
	if _, _, err := l.InitChain(serviceTestChain, 1, t0, g); err != nil {
		t.Fatal(err)
	}
	if _, err := l.FinalizeBlock(ledger.Block{Height: 1, Time: t0.Add(time.Second), Hash: make([]byte, 32)}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Commit(); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestBroadcastRefusesBeforeMempool: txs that cannot be valid — empty,
// oversized, undecodable, forged, for another chain — are refused by the
// API with their stable code, never reach the mempool, and are counted in
// tabella_api_rejected_total by type and code.
func TestBroadcastRefusesBeforeMempool(t *testing.T) {
	svc, m := newTestService(t)
	good := testBallotTx(t, serviceTestChain)
	var env tabellav1.Tx
	if err := proto.Unmarshal(good, &env); err != nil {
		t.Fatal(err)
	}
	env.Signatures[0].Signature[7] ^= 0x40
	forged, _ := proto.Marshal(&env)
	otherChain := testBallotTx(t, "another-chain")

	cases := []struct {
		name, typ string
		tx        []byte
		code      ledger.Code
	}{
		{"empty", "empty", nil, ledger.CodeMalformedTx},
		{"oversized", "oversized", make([]byte, ledger.MaxTxBytes+1), ledger.CodeTxTooLarge},
		{"garbage", "undecodable", []byte("not a tx"), ledger.CodeMalformedTx},
		{"forged signature", "cast_ballot", forged, ledger.CodeBadSignature},
		{"another chain", "cast_ballot", otherChain, ledger.CodeWrongChainID},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			counter := m.apiRejects.WithLabelValues(c.typ, c.code.String())
			before := counterValue(t, counter)
			_, err := svc.BroadcastTx(context.Background(), &tabellav1.BroadcastTxRequest{Tx: c.tx})
			code, ok := client.RejectionCode(err)
			if !ok || code != c.code {
				t.Fatalf("got %v (code %v), want %s", err, code, c.code)
			}
			if msg := err.Error(); !strings.Contains(msg, " ") {
				t.Errorf("message %q does not explain the rejection", msg)
			}
			if got := counterValue(t, counter) - before; got != 1 {
				t.Errorf("tabella_api_rejected_total{type=%q,code=%q} moved by %v, want 1", c.typ, c.code, got)
			}
		})
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// testBallotTx is "voter"'s ballot in "some-initiative" on chain, with a
// credential from the test ledger's issuer.
func testBallotTx(t *testing.T, chain string) []byte {
	t.Helper()
	voter := testKey("voter")
	cred, err := client.IssueCredential(chain, testKey("registry"), &tabellav1.Credential{
		IssuerId: "registry", VoterPublicKey: voter.Public().(ed25519.PublicKey),
		IssuedAt: 1, ExpiresAt: 4_000_000_000,
	})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := client.BallotTx(chain, voter, "some-initiative", cred, []uint32{0}, 1)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// seenMempool has seen every tx already, and CometBFT's indexer reports
// it committed at height.
type seenMempool struct{ height int64 }

func (seenMempool) Submit(context.Context, []byte) (ledger.Code, string, error) {
	return 0, "", ErrTxInMempool
}

func (m seenMempool) Committed(_ context.Context, hash []byte) (TxOutcome, bool, error) {
	return TxOutcome{Hash: hash, Height: m.height, Code: ledger.CodeOK}, true, nil
}

// TestResubmissionWaitsForState: a tx the indexer already knows committed
// is answered only once the ledger's readable state includes its block
// (the ledger writes a block's version after CometBFT's commit), and not
// past the wait timeout when it never does.
func TestResubmissionWaitsForState(t *testing.T) {
	l := newTestLedger(t)
	events := NewCommitEvents()
	svc := NewService(l, events, seenMempool{height: 2}, nil)
	tx := testBallotTx(t, serviceTestChain)

	type answer struct {
		resp *tabellav1.BroadcastTxResponse
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := svc.BroadcastTx(context.Background(), &tabellav1.BroadcastTxRequest{Tx: tx})
		got <- answer{resp, err}
	}()
	select {
	case a := <-got:
		t.Fatalf("answered %+v before the ledger reached height 2", a)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := l.FinalizeBlock(ledger.Block{Height: 2, Time: testStart.Add(2 * time.Second), Hash: make([]byte, 32)}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Commit(); err != nil {
		t.Fatal(err)
	}
	events.publish(2, nil)
	a := <-got
	if a.err != nil || a.resp.Height != 2 {
		t.Fatalf("answer %+v, %v; want height 2", a.resp, a.err)
	}

	svc = NewService(l, NewCommitEvents(), seenMempool{height: 5}, nil)
	svc.WaitTimeout = 50 * time.Millisecond
	if _, err := svc.BroadcastTx(context.Background(), &tabellav1.BroadcastTxRequest{Tx: tx}); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("a height the ledger never reaches: %v, want DeadlineExceeded", err)
	}
}

// TestGetChainInfo: before any block is committed the chain info is
// OutOfRange; after, it reports the committed height, app hash and block
// time of one version.
func TestGetChainInfo(t *testing.T) {
	empty, err := ledger.Open(idb.NewMemDB(), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { empty.Close() })
	svc := NewService(empty, NewCommitEvents(), nil, nil)
	if _, err := svc.GetChainInfo(context.Background(), &tabellav1.GetChainInfoRequest{}); status.Code(err) != codes.OutOfRange {
		t.Fatalf("nothing committed: %v, want OutOfRange", err)
	}

	l := newTestLedger(t)
	svc = NewService(l, NewCommitEvents(), nil, nil)
	info, err := svc.GetChainInfo(context.Background(), &tabellav1.GetChainInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := l.View(0)
	if err != nil {
		t.Fatal(err)
	}
	if info.ChainId != serviceTestChain || info.Height != 1 || !bytes.Equal(info.AppHash, v.AppHash()) ||
		info.BlockTime != testStart.Add(time.Second).Unix() {
		t.Fatalf("chain info %+v; want %s at height 1, app hash %X, block time %d",
			info, serviceTestChain, v.AppHash(), testStart.Add(time.Second).Unix())
	}
}
