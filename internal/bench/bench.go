// Package bench is Tabella's load generator: it pre-signs ballots from many
// voters, submits them to one or several nodes at a fixed or open rate, and
// measures committed throughput from the blocks themselves, cast→committed
// and cast→provable latency, rejections by code, node CPU, RSS and disk.
// The same measurement runs against CometBFT's kvstore for a baseline.
package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"

	"github.com/tabella/tabella/client"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// Options of a run.
type Options struct {
	// Targets are gRPC addresses of Tabella nodes; RPC is the CometBFT RPC
	// of the first, used to read blocks.
	Targets []string
	RPC     string
	// Home holds the organiser's and the issuer's keys.
	Home         string
	OrganiserID  string
	OrganiserKey string
	IssuerID     string
	IssuerKey    string
	// Voters is the number of distinct pre-signed ballots.
	Voters int
	// Duration of the timed window.
	Duration time.Duration
	// Concurrency is the number of ballots in flight.
	Concurrency int
	// Rate caps submissions per second; 0 is open (as fast as the
	// concurrency allows).
	Rate float64
	// Options per initiative and selections per ballot.
	Options, Selections int
	// PIDs of node processes to sample CPU and RSS from; DataDirs to
	// measure bytes on disk.
	PIDs     []int
	DataDirs []string
	// Progress is called about every second.
	Progress func(done, total int64, elapsed time.Duration)
}

// Latency summarises a latency distribution.
type Latency struct {
	P50, P95, P99, Max time.Duration
	N                  int
}

func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	q := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	return Latency{P50: q(0.50), P95: q(0.95), P99: q(0.99), Max: ds[len(ds)-1], N: len(ds)}
}

// Result of a run.
type Result struct {
	App           string           `json:"app"`
	Nodes         int              `json:"nodes"`
	TxBytes       int              `json:"tx_bytes"`
	Sent          int64            `json:"sent"`
	Committed     int64            `json:"committed"`
	Rejected      map[string]int64 `json:"rejected"`
	WindowSeconds float64          `json:"window_seconds"`
	TPS           float64          `json:"committed_per_second"`
	Blocks        int64            `json:"blocks"`
	Commit        Latency          `json:"cast_to_committed"`
	Provable      Latency          `json:"cast_to_provable"`
	CPUPercent    float64          `json:"node_cpu_percent"`
	MaxRSSBytes   int64            `json:"node_max_rss_bytes"`
	DiskBytes     int64            `json:"disk_bytes_added"`
	BytesPerTx    float64          `json:"disk_bytes_per_tx"`
	SignSeconds   float64          `json:"presign_seconds"`
	Cores         int              `json:"cores"`
	Date          string           `json:"date"`
}

type ballot struct {
	tx []byte
}

// Prepare creates the bench initiative and pre-signs every ballot.
func Prepare(ctx context.Context, o *Options, c *client.Client) ([][]byte, string, error) {
	info, err := c.GetChainInfo(ctx, &tabellav1.GetChainInfoRequest{})
	if err != nil {
		return nil, "", fmt.Errorf("chain info: %s", client.Describe(err))
	}
	org, err := client.LoadKey(o.Home, o.OrganiserKey)
	if err != nil {
		return nil, "", err
	}
	iss, err := client.LoadKey(o.Home, o.IssuerKey)
	if err != nil {
		return nil, "", err
	}
	id := fmt.Sprintf("bench-%d", time.Now().UnixNano()%1e12)
	var opts []string
	for i := 0; i < o.Options; i++ {
		opts = append(opts, fmt.Sprintf("{id: o%d, title: Option %d}", i, i))
	}
	spec, err := client.ParseSpec([]byte(fmt.Sprintf(`id: %s
kind: consultation
title: Load test
options: [%s]
ballot: {min_selections: 1, max_selections: %d, revoting: true}
schedule: {opens: now, closes: +30d}
eligibility: {issuers: [%s]}
`, id, strings.Join(opts, ", "), max(1, o.Selections), o.IssuerID)), time.Unix(info.BlockTime, 0))
	if err != nil {
		return nil, "", err
	}
	tx, err := client.CreateInitiativeTx(info.ChainId, org.Private, o.OrganiserID, spec)
	if err != nil {
		return nil, "", err
	}
	if _, err := c.Broadcast(ctx, tx, true); err != nil {
		return nil, "", fmt.Errorf("create bench initiative: %s", client.Describe(err))
	}
	txs := make([][]byte, o.Voters)
	var wg sync.WaitGroup
	workers := runtime.NumCPU()
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < o.Voters; i += workers {
				var seed [32]byte
				binary.BigEndian.PutUint64(seed[:], uint64(i))
				copy(seed[8:], id)
				s := sha256.Sum256(seed[:])
				priv := ed25519.NewKeyFromSeed(s[:])
				cred, err := client.IssueCredential(info.ChainId, iss.Private, &tabellav1.Credential{
					IssuerId: o.IssuerID, VoterPublicKey: priv.Public().(ed25519.PublicKey),
					IssuedAt: info.BlockTime - 60, ExpiresAt: info.BlockTime + 30*86400,
				})
				if err != nil {
					errs <- err
					return
				}
				sel := make([]uint32, max(1, o.Selections))
				for k := range sel {
					sel[k] = uint32((i + k) % o.Options)
				}
				if txs[i], err = client.BallotTx(info.ChainId, priv, id, cred, sel, 1); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, "", err
	}
	return txs, id, nil
}

// Submitter sends one tx and reports its commit height (0 when not
// waited for) or the rejection code name.
type Submitter func(ctx context.Context, target int, tx []byte) (height int64, rejected string, err error)

// Run submits txs and measures. rpc reads blocks of the first target.
func Run(ctx context.Context, o *Options, app string, txs [][]byte, submit Submitter, rpc *rpchttp.HTTP) (*Result, error) {
	res := &Result{App: app, Nodes: max(1, len(o.Targets)), Rejected: map[string]int64{}, Cores: runtime.NumCPU(), Date: time.Now().UTC().Format("2006-01-02")}
	if len(txs) > 0 {
		res.TxBytes = len(txs[0])
	}
	diskBefore := diskUsage(o.DataDirs)
	status, err := rpc.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("node status: %w", err)
	}
	startHeight := status.SyncInfo.LatestBlockHeight
	cpu0 := cpuTicks(o.PIDs)

	heights := newHeightClock(ctx, rpc)
	defer heights.stop()

	var (
		next      atomic.Int64
		mu        sync.Mutex
		commitLat []time.Duration
		provable  []pendingProof
		wg        sync.WaitGroup
	)
	runCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var pace <-chan time.Time
	if o.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
		defer t.Stop()
		pace = t.C
	}
	start := time.Now()
	var maxRSS atomic.Int64
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-tick.C:
				if r := rss(o.PIDs); r > maxRSS.Load() {
					maxRSS.Store(r)
				}
				if o.Progress != nil {
					o.Progress(next.Load(), int64(len(txs)), time.Since(start))
				}
			}
		}
	}()
	for w := 0; w < max(1, o.Concurrency); w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for runCtx.Err() == nil {
				if pace != nil {
					select {
					case <-pace:
					case <-runCtx.Done():
						return
					}
				}
				i := next.Add(1) - 1
				if i >= int64(len(txs)) {
					return
				}
				sent := time.Now()
				// Submissions may outlive the window: their commit still
				// counts if its block falls inside it.
				sctx, scancel := context.WithTimeout(ctx, 60*time.Second)
				h, rejected, err := submit(sctx, int(i)%res.Nodes, txs[i])
				scancel()
				mu.Lock()
				res.Sent++
				switch {
				case err != nil:
					res.Rejected[errorClass(err)]++
				case rejected != "":
					res.Rejected[rejected]++
				case h > 0:
					commitLat = append(commitLat, time.Since(sent))
					provable = append(provable, pendingProof{sent: sent, height: h})
				}
				mu.Unlock()
			}
		}(w)
	}
	<-runCtx.Done()
	elapsed := time.Since(start)
	wg.Wait()
	cpu1 := cpuTicks(o.PIDs)
	status, err = rpc.Status(ctx)
	if err != nil {
		return nil, err
	}
	endHeight := status.SyncInfo.LatestBlockHeight
	// Throughput from the blocks: txs in blocks committed inside the
	// window, over the window's block-time span.
	committed, blocks, span, err := countTxs(ctx, rpc, startHeight+1, endHeight, start, start.Add(elapsed))
	if err != nil {
		return nil, err
	}
	res.Committed, res.Blocks = committed, blocks
	res.WindowSeconds = span.Seconds()
	if span > 0 {
		res.TPS = float64(committed) / span.Seconds()
	}
	res.Commit = summarize(commitLat)
	var provLat []time.Duration
	for _, p := range provable {
		if at, ok := heights.firstSeen(p.height + 1); ok {
			provLat = append(provLat, at.Sub(p.sent))
		}
	}
	res.Provable = summarize(provLat)
	if ticks := cpu1 - cpu0; ticks > 0 {
		res.CPUPercent = float64(ticks) / 100 / elapsed.Seconds() * 100
	}
	res.MaxRSSBytes = max(maxRSS.Load(), rss(o.PIDs))
	if len(o.DataDirs) > 0 {
		res.DiskBytes = diskUsage(o.DataDirs) - diskBefore
		if committed > 0 {
			res.BytesPerTx = float64(res.DiskBytes) / float64(committed) / float64(len(o.DataDirs))
		}
	}
	return res, nil
}

type pendingProof struct {
	sent   time.Time
	height int64
}

// heightClock records when each height was first seen.
type heightClock struct {
	mu     sync.Mutex
	seen   map[int64]time.Time
	cancel context.CancelFunc
	done   chan struct{}
}

func newHeightClock(ctx context.Context, rpc *rpchttp.HTTP) *heightClock {
	ctx, cancel := context.WithCancel(ctx)
	h := &heightClock{seen: map[int64]time.Time{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		var last int64
		for ctx.Err() == nil {
			if st, err := rpc.Status(ctx); err == nil {
				now := time.Now()
				h.mu.Lock()
				for x := last + 1; x <= st.SyncInfo.LatestBlockHeight; x++ {
					if last != 0 {
						h.seen[x] = now
					}
				}
				if st.SyncInfo.LatestBlockHeight > last {
					last = st.SyncInfo.LatestBlockHeight
				}
				h.mu.Unlock()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return h
}

func (h *heightClock) firstSeen(height int64) (time.Time, bool) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		t, ok := h.seen[height]
		h.mu.Unlock()
		if ok {
			return t, true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Time{}, false
}

func (h *heightClock) stop() { h.cancel(); <-h.done }

// countTxs sums the txs of blocks from..to whose time lies in [t0, t1].
func countTxs(ctx context.Context, rpc *rpchttp.HTTP, from, to int64, t0, t1 time.Time) (txs, blocks int64, span time.Duration, err error) {
	var first, last time.Time
	for h := from; h <= to; h += 20 {
		res, err := rpc.BlockchainInfo(ctx, h, min(h+19, to))
		if err != nil {
			return 0, 0, 0, err
		}
		for _, m := range res.BlockMetas {
			bt := m.Header.Time
			if bt.Before(t0.Add(-time.Second)) || bt.After(t1) {
				continue
			}
			txs += int64(m.NumTxs)
			blocks++
			if first.IsZero() || bt.Before(first) {
				first = bt
			}
			if bt.After(last) {
				last = bt
			}
		}
	}
	span = last.Sub(first)
	if span <= 0 {
		span = t1.Sub(t0)
	}
	return txs, blocks, span, nil
}

// cpuTicks sums utime+stime (in clock ticks, 100/s) of the processes.
func cpuTicks(pids []int) int64 {
	var total int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(fields) > 12 {
			u, _ := strconv.ParseInt(fields[11], 10, 64)
			st, _ := strconv.ParseInt(fields[12], 10, 64)
			total += u + st
		}
	}
	return total
}

// rss returns the largest resident set of the processes, in bytes.
func rss(pids []int) int64 {
	var best int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "VmRSS:") {
				f := strings.Fields(line)
				if len(f) >= 2 {
					kb, _ := strconv.ParseInt(f[1], 10, 64)
					best = max(best, kb*1024)
				}
			}
		}
	}
	return best
}

func diskUsage(dirs []string) int64 {
	var total int64
	for _, d := range dirs {
		_ = filepath.Walk(d, func(_ string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				total += info.Size()
			}
			return nil
		})
	}
	return total
}

// KVStoreTxs returns n distinct kvstore txs ("key=value") of size bytes.
func KVStoreTxs(n, size int) [][]byte {
	txs := make([][]byte, n)
	for i := range txs {
		key := fmt.Sprintf("bench%d-%d=", time.Now().UnixNano()%1e9, i)
		val := strings.Repeat("v", max(1, size-len(key)))
		txs[i] = []byte(key + val)
	}
	return txs
}

// errorClass names a failed submission for the rejection table: "ERROR: "
// and the error's text with numbers blanked and cut short, so that the
// same failure from many requests (a full mempool, a timeout, a refused
// connection) lands in one row that says what it was.
func errorClass(err error) string {
	msg := err.Error()
	// CometBFT's RPC client puts the HTTP framing first and the reason last.
	if i := strings.Index(msg, "RPC error"); i >= 0 {
		msg = msg[i:]
	}
	msg = strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '#'
		}
		return r
	}, msg)
	if len(msg) > 80 {
		msg = msg[:80]
	}
	return "ERROR: " + msg
}
