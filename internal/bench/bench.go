// Package bench is Tabella's load generator: it pre-signs ballots from many
// voters (public, or sealed to a joint key after a real key ceremony),
// submits them to one or several nodes at a fixed or open rate, and
// measures committed throughput from the blocks themselves, cast→committed
// and cast→provable latency, rejections by code, node CPU, RSS and disk.
// The same measurement runs against CometBFT's kvstore for a baseline.
package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
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
	// Secrecy of the bench initiative: SecrecyPublic (default) or
	// SecrecySealed, whose key ceremony Trustees play from Home (their
	// admin keys are <party>-admin there, as in a `tabellad dev` home).
	Secrecy  string
	Trustees []string
	// Progress is called about every second.
	Progress func(done, total int64, elapsed time.Duration)
	// Logf, if set, reports Prepare's steps.
	Logf func(format string, args ...any)
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
	Initiative    string           `json:"initiative,omitempty"`
	Secrecy       string           `json:"secrecy,omitempty"`
	Options       int              `json:"options,omitempty"`
	Selections    int              `json:"selections,omitempty"`
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
	// ClientCPUPercent is this load generator's own CPU over the window,
	// taken from the same cores as the nodes' on one machine.
	ClientCPUPercent float64 `json:"client_cpu_percent"`
	MaxRSSBytes      int64   `json:"node_max_rss_bytes"`
	DiskBytes        int64   `json:"disk_bytes_added"`
	BytesPerTx       float64 `json:"disk_bytes_per_tx"`
	// RanOut reports that every pre-signed ballot was sent before the
	// window ended: the load stopped early, so the rate is a lower bound
	// of what the network sustains.
	RanOut bool `json:"ran_out,omitempty"`
	// CeremonySeconds is the sealed key ceremony's duration; SignSeconds
	// the pre-signing (and, sealed, pre-encryption) of every ballot.
	CeremonySeconds float64 `json:"ceremony_seconds,omitempty"`
	SignSeconds     float64 `json:"presign_seconds"`
	Cores           int     `json:"cores"`
	Date            string  `json:"date"`
}

// Secrecy modes of the bench initiative.
const (
	SecrecyPublic = "public"
	SecrecySealed = "sealed"
)

// The sealed bench initiative's key ceremony: the creation and the deals
// take two blocks, the deal window leaves room for a loaded machine (a
// late deal fails the ceremony); voting opens a second after it ends.
const (
	sealedDealWindow      = 10 * time.Second
	sealedComplaintWindow = 2 * time.Second
	sealedCeremonyTimeout = 2 * time.Minute
)

// Prepared is what Prepare made.
type Prepared struct {
	// Txs are the signed ballots, one per voter; Initiative their
	// initiative.
	Txs        [][]byte
	Initiative string
	// CeremonySeconds is how long a sealed initiative took from creation
	// to its joint key; SignSeconds how long the ballots took to encrypt
	// (sealed) and sign, on every core.
	CeremonySeconds float64
	SignSeconds     float64
	secrecy         string
	options, sel    int
}

// Record copies what the run was made of into its result.
func (p *Prepared) Record(r *Result) {
	r.Initiative, r.Secrecy, r.Options, r.Selections = p.Initiative, p.secrecy, p.options, p.sel
	r.CeremonySeconds, r.SignSeconds = p.CeremonySeconds, p.SignSeconds
}

// benchSpec is the bench initiative: a consultation of o.Options options
// open for a month, public or sealed to o.Trustees.
func benchSpec(o *Options, id string) []byte {
	var opts []string
	for i := 0; i < o.Options; i++ {
		opts = append(opts, fmt.Sprintf("{id: o%d, title: Option %d}", i, i))
	}
	spec := fmt.Sprintf(`id: %s
kind: consultation
title: Load test
options: [%s]
ballot: {min_selections: 1, max_selections: %d, revoting: true}
eligibility: {issuers: [%s]}
`, id, strings.Join(opts, ", "), max(1, o.Selections), o.IssuerID)
	if o.Secrecy != SecrecySealed {
		return []byte(spec + "schedule: {opens: now, closes: +30d}\n")
	}
	deals := int(sealedDealWindow.Seconds())
	complaints := deals + int(sealedComplaintWindow.Seconds())
	return []byte(spec + fmt.Sprintf(`schedule: {opens: +%ds, closes: +30d}
secrecy: sealed
sealed: {trustees: [%s], deals_close: +%ds, complaints_close: +%ds}
`, complaints+1, strings.Join(o.Trustees, ", "), deals, complaints))
}

// Prepare creates the bench initiative and pre-signs every ballot. A
// sealed initiative first goes through a real key ceremony, every trustee
// played from o.Home; its ballots are encrypted to the joint key, and
// Prepare returns once voting is open.
func Prepare(ctx context.Context, o *Options, c *client.Client) (*Prepared, error) {
	if o.Secrecy == "" {
		o.Secrecy = SecrecyPublic
	}
	if o.Secrecy != SecrecyPublic && o.Secrecy != SecrecySealed {
		return nil, fmt.Errorf("secrecy %q: use %s or %s", o.Secrecy, SecrecyPublic, SecrecySealed)
	}
	if o.Options < 1 || max(1, o.Selections) > o.Options {
		return nil, fmt.Errorf("%d selections of %d options: a ballot selects at least one and at most every option", o.Selections, o.Options)
	}
	info, err := c.GetChainInfo(ctx, &tabellav1.GetChainInfoRequest{})
	if err != nil {
		return nil, fmt.Errorf("chain info: %s", client.Describe(err))
	}
	org, err := client.LoadKey(o.Home, o.OrganiserKey)
	if err != nil {
		return nil, err
	}
	iss, err := client.LoadKey(o.Home, o.IssuerKey)
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("bench-%d", time.Now().UnixNano()%1e12)
	p := &Prepared{Initiative: id, secrecy: o.Secrecy, options: o.Options, sel: max(1, o.Selections)}
	var st *tabellav1.SealedState
	if o.Secrecy == SecrecySealed {
		t0 := time.Now()
		o.logf("key ceremony of %s with trustees %s...", id, strings.Join(o.Trustees, ", "))
		if _, err := client.CreateSealedInitiative(ctx, c, o.Home, o.OrganiserID, org, benchSpec(o, id)); err != nil {
			return nil, fmt.Errorf("create sealed bench initiative: %w", err)
		}
		wctx, cancel := context.WithTimeout(ctx, sealedCeremonyTimeout)
		st, err = client.WaitSealedKey(wctx, c, id)
		cancel()
		if err != nil {
			return nil, err
		}
		p.CeremonySeconds = time.Since(t0).Seconds()
		o.logf("joint key of %s fixed after %.1fs", id, p.CeremonySeconds)
	} else {
		spec, err := client.ParseSpec(benchSpec(o, id), time.Unix(info.BlockTime, 0))
		if err != nil {
			return nil, err
		}
		tx, err := client.CreateInitiativeTx(info.ChainId, org.Private, o.OrganiserID, spec)
		if err != nil {
			return nil, err
		}
		if _, err := c.Broadcast(ctx, tx, true); err != nil {
			return nil, fmt.Errorf("create bench initiative: %s", client.Describe(err))
		}
	}
	what := "signing"
	if st != nil {
		what = "encrypting and signing"
	}
	o.logf("%s %d ballots on %d cores...", what, o.Voters, runtime.NumCPU())
	t0 := time.Now()
	if p.Txs, err = ballots(ctx, o, info, iss, id, st); err != nil {
		return nil, err
	}
	p.SignSeconds = time.Since(t0).Seconds()
	if st != nil {
		wctx, cancel := context.WithTimeout(ctx, sealedCeremonyTimeout)
		defer cancel()
		if err := client.WaitVoting(wctx, c, id); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// ballots makes one ballot per voter on every core: voter i's key is
// derived from i and the initiative, its credential issued by iss. With a
// sealed state the selections are encrypted to its joint key.
func ballots(ctx context.Context, o *Options, info *tabellav1.GetChainInfoResponse, iss *client.Key, id string, st *tabellav1.SealedState) ([][]byte, error) {
	txs := make([][]byte, o.Voters)
	var wg sync.WaitGroup
	workers := runtime.NumCPU()
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < o.Voters && ctx.Err() == nil; i += workers {
				var seed [32]byte
				binary.BigEndian.PutUint64(seed[:], uint64(i))
				copy(seed[8:], id)
				s := sha256.Sum256(seed[:])
				priv := ed25519.NewKeyFromSeed(s[:])
				pub := priv.Public().(ed25519.PublicKey)
				cred, err := client.IssueCredential(info.ChainId, iss.Private, &tabellav1.Credential{
					IssuerId: o.IssuerID, VoterPublicKey: pub,
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
				if st == nil {
					txs[i], err = client.BallotTx(info.ChainId, priv, id, cred, sel, 1)
				} else {
					var b []byte
					if b, err = client.SealBallot(rand.Reader, info.ChainId, st, pub, sel); err == nil {
						txs[i], err = client.SealedBallotTx(info.ChainId, priv, id, cred, nil, b, 1)
					}
				}
				if err != nil {
					errs <- fmt.Errorf("ballot of voter %d: %w", i, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return txs, nil
}

func (o *Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// ErrBusy is what a Submitter's error wraps when the node refused the tx
// for now, its mempool full (or the node unreachable). The worker that
// sent it backs off before its next submission, as a portal told "try
// again shortly" would: a load generator that resubmits at once spends
// the CPU the nodes share on refusals (kvstore's client, resubmitting at
// once, took half a core of two and its nodes answered 3,700 refusals a
// second).
var ErrBusy = errors.New("node busy")

// backoff is a worker's pause after consecutive ErrBusy refusals: first
// min, doubling up to max; an answered submission resets it.
type backoff struct{ min, max time.Duration }

// busyBackoff spans about a block interval under load.
var busyBackoff = backoff{min: 50 * time.Millisecond, max: time.Second}

// Submitter sends one tx and reports its commit height (0 when not
// waited for) or the rejection code name; an error wrapping ErrBusy
// makes the worker pause.
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
	cpu0, self0 := cpuTicks(o.PIDs), cpuTicks([]int{os.Getpid()})

	heights := newHeightClock(ctx, rpc)
	defer heights.stop()

	var next atomic.Int64
	runCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
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
	subs := submitAll(ctx, runCtx, o, res.Nodes, txs, submit, &next, busyBackoff)
	elapsed := time.Since(start)
	cpu1, self1 := cpuTicks(o.PIDs), cpuTicks([]int{os.Getpid()})
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
	res.Sent, res.Rejected, res.RanOut = subs.sent, subs.rejected, subs.ranOut
	res.WindowSeconds = span.Seconds()
	if span > 0 {
		res.TPS = float64(committed) / span.Seconds()
	}
	res.Commit = summarize(subs.commitLat)
	res.Provable = summarize(provableLatencies(subs.provable, heights.firstSeen))
	res.CPUPercent = cpuPercent(cpu1-cpu0, elapsed)
	res.ClientCPUPercent = cpuPercent(self1-self0, elapsed)
	res.MaxRSSBytes = max(maxRSS.Load(), rss(o.PIDs))
	if len(o.DataDirs) > 0 {
		res.DiskBytes = diskUsage(o.DataDirs) - diskBefore
		if committed > 0 {
			res.BytesPerTx = float64(res.DiskBytes) / float64(committed) / float64(len(o.DataDirs))
		}
	}
	return res, nil
}

// submissions is what submitAll's workers recorded.
type submissions struct {
	sent      int64
	rejected  map[string]int64
	commitLat []time.Duration
	provable  []pendingProof
	// ranOut: a worker found every tx sent inside the window.
	ranOut bool
}

// submitAll submits txs in order with o.Concurrency workers (at most
// o.Rate per second when set) until runCtx ends or the txs run out, and
// returns once every submission made has been answered. next counts the
// txs taken. A worker whose submission is refused with ErrBusy backs off
// before its next.
func submitAll(ctx, runCtx context.Context, o *Options, nodes int, txs [][]byte, submit Submitter, next *atomic.Int64, bo backoff) *submissions {
	var pace <-chan time.Time
	if o.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
		defer t.Stop()
		pace = t.C
	}
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		ranOut atomic.Bool
		subs   = &submissions{rejected: map[string]int64{}}
	)
	for w := 0; w < max(1, o.Concurrency); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var pause time.Duration
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
					// Only a worker that finds the pool empty inside the
					// window may say so; one returning after the window
					// must not clear it.
					if runCtx.Err() == nil {
						ranOut.Store(true)
					}
					return
				}
				sent := time.Now()
				// Submissions may outlive the window: their commit still
				// counts if its block falls inside it.
				sctx, scancel := context.WithTimeout(ctx, 60*time.Second)
				h, rejected, err := submit(sctx, int(i)%nodes, txs[i])
				scancel()
				busy := errors.Is(err, ErrBusy)
				mu.Lock()
				subs.sent++
				switch {
				case busy:
					subs.rejected[rejectedBusy]++
				case err != nil:
					subs.rejected[errorClass(err)]++
				case rejected != "":
					subs.rejected[rejected]++
				case h > 0:
					subs.commitLat = append(subs.commitLat, time.Since(sent))
					subs.provable = append(subs.provable, pendingProof{sent: sent, committed: time.Now(), height: h})
				}
				mu.Unlock()
				if !busy {
					pause = 0
					continue
				}
				pause = min(max(2*pause, bo.min), bo.max)
				select {
				case <-time.After(pause):
				case <-runCtx.Done():
					return
				}
			}
		}()
	}
	<-runCtx.Done()
	wg.Wait()
	subs.ranOut = ranOut.Load()
	return subs
}

type pendingProof struct {
	sent, committed time.Time
	height          int64
}

// provableLatencies is, for each committed ballot, the time from its cast
// until a receipt could be verified: the header of the block after its
// own exists (first seen by seen) and the voter knows its height, which
// the node's commit answer tells. The answer can come after that header:
// a node answers once its state holds the block.
func provableLatencies(proofs []pendingProof, seen func(height int64) (time.Time, bool)) []time.Duration {
	var lat []time.Duration
	for _, p := range proofs {
		if at, ok := seen(p.height + 1); ok {
			if at.Before(p.committed) {
				at = p.committed
			}
			lat = append(lat, at.Sub(p.sent))
		}
	}
	return lat
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

// cpuPercent is CPU ticks (1/100 s) over elapsed, in percent of one core.
func cpuPercent(ticks int64, elapsed time.Duration) float64 {
	return float64(ticks) / elapsed.Seconds()
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
// rejectedBusy is the rejection class of ErrBusy refusals.
const rejectedBusy = "BUSY (mempool full or node unavailable)"

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
