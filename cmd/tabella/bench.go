package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/internal/bench"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// streamsPerConn is how many ballots in flight the bench puts on one
// connection to a node: half the node's limit of calls per connection.
const streamsPerConn = 2048

// connsPerNode is how many connections a node gets when concurrency
// ballots in flight are spread evenly over nodes.
func connsPerNode(concurrency, nodes int) int {
	perNode := (max(1, concurrency) + nodes - 1) / nodes
	return (perNode + streamsPerConn - 1) / streamsPerConn
}

func rpcURL(addr string) string {
	addr = strings.TrimPrefix(addr, "tcp://")
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return addr
}

func newBenchCmd(c *cli) *cobra.Command {
	o := &bench.Options{}
	var nodes []string
	var rpc string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load a network with pre-signed ballots and measure throughput and latency",
		Long: `Create a consultation, pre-sign one ballot for each of --voters distinct voters
(credentials from the issuer key in --home), then submit them to the nodes with
--concurrency ballots in flight (at --rate per second, or as fast as possible)
for --duration. Reports committed ballots per second (counted from the blocks),
cast→committed and cast→provable latency, rejections by code, its own CPU,
and, given --pid and --data-dir, node CPU, RSS and bytes on disk per ballot.
A worker refused for a full mempool backs off (50 ms, doubling to 1 s)
before its next ballot.

With --secrecy sealed the consultation is sealed: the --trustees parties, whose
admin keys <party>-admin are in --home (as in a ` + "`tabellad dev`" + ` home), run
a real key ceremony first (trustee secrets in <home>/trustee/, registered
unless the ledger already holds them), and every ballot is encrypted to the
joint key with its validity proofs before the timed window.`,
		Example: `  tabella bench --home .tabella-dev --voters 400000 --duration 60s --concurrency 1024
  tabella bench --home .tabella-dev --secrecy sealed --voters 90000 --duration 60s
  tabella bench --node 127.0.0.1:27002,127.0.0.1:27012 --rpc 127.0.0.1:27001 --home testnet/out \
      --organiser citizen-services --organiser-key citizen-services \
      --issuer population-registry --issuer-key population-registry`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(nodes) == 0 {
				nodes = []string{c.node}
			}
			o.Targets = nodes
			ctx := cmd.Context()
			// A node serves at most 4,096 calls at once on one connection
			// (MaxConcurrentStreams); calls past that wait in the client,
			// unseen by the node. So each node gets a connection for every
			// streamsPerConn ballots in flight to it, as a fleet of portals
			// would open.
			conns := make([][]*client.Client, len(nodes))
			for i, n := range nodes {
				for range connsPerNode(o.Concurrency, len(nodes)) {
					cl, err := client.Dial(n)
					if err != nil {
						return err
					}
					defer cl.Close()
					conns[i] = append(conns[i], cl)
				}
			}
			first := conns[0][0]
			var turn atomic.Uint64
			if rpc == "" {
				info, err := first.GetChainInfo(ctx, &tabellav1.GetChainInfoRequest{})
				if err != nil {
					return apiError(err)
				}
				rpc = info.RpcAddress
			}
			r, err := rpchttp.New(rpcURL(rpc), "/websocket")
			if err != nil {
				return err
			}
			log := cmd.ErrOrStderr()
			o.Logf = func(format string, args ...any) { fmt.Fprintf(log, format+"\n", args...) }
			p, err := bench.Prepare(ctx, o, first)
			if err != nil {
				return err
			}
			fmt.Fprintf(log, "prepared %d %s ballots for %s in %.1fs; submitting for %s\n", len(p.Txs), o.Secrecy, p.Initiative, p.SignSeconds, o.Duration)
			o.Progress = progress(o.Duration)
			submit := func(ctx context.Context, target int, tx []byte) (int64, string, error) {
				cs := conns[target]
				res, err := cs[turn.Add(1)%uint64(len(cs))].Broadcast(ctx, tx, true)
				if err != nil {
					// The API answers Unavailable while the mempool is
					// full (and gRPC while the node is unreachable).
					if status.Code(err) == codes.Unavailable {
						return 0, "", fmt.Errorf("%w: %v", bench.ErrBusy, err)
					}
					if code, ok := client.RejectionCode(err); ok {
						return 0, code.String(), nil
					}
					return 0, "", err
				}
				return res.Height, "", nil
			}
			res, err := bench.Run(ctx, o, "tabella", p.Txs, submit, r)
			if err != nil {
				return err
			}
			p.Record(res)
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) { printBench(w, res) })
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&nodes, "nodes", nil, "gRPC addresses to spread the load over (default: --node)")
	f.StringVar(&rpc, "rpc", "", "CometBFT RPC address to read blocks from (default: the first node's)")
	f.StringVar(&o.OrganiserID, "organiser", "demo-city", "organiser id that creates the bench initiative")
	f.StringVar(&o.OrganiserKey, "organiser-key", "demo-city", "organiser key name in --home")
	f.StringVar(&o.IssuerID, "issuer", "demo-registry", "issuer id whose credentials the voters hold")
	f.StringVar(&o.IssuerKey, "issuer-key", "demo-registry", "issuer key name in --home")
	f.IntVar(&o.Voters, "voters", 100_000, "distinct voters (pre-signed ballots); more than the window can use")
	f.DurationVar(&o.Duration, "duration", 30*time.Second, "length of the timed window")
	f.IntVar(&o.Concurrency, "concurrency", 512, "ballots in flight")
	f.Float64Var(&o.Rate, "rate", 0, "submissions per second (0: open)")
	f.IntVar(&o.Options, "options", 5, "options of the bench initiative")
	f.IntVar(&o.Selections, "selections", 1, "selections per ballot")
	f.StringVar(&o.Secrecy, "secrecy", bench.SecrecyPublic, "secrecy of the bench initiative: public or sealed (encrypted ballots after a key ceremony)")
	f.StringSliceVar(&o.Trustees, "trustees", []string{"city-council", "regional-office", "residents-union", "transparency-ngo"}, "with --secrecy sealed, the trustee parties (admin keys <party>-admin in --home)")
	f.IntSliceVar(&o.PIDs, "pid", nil, "node process ids to sample CPU and RSS from")
	f.StringSliceVar(&o.DataDirs, "data-dir", nil, "node data directories to measure bytes on disk")
	o.Home = ""
	cmd.PreRun = func(*cobra.Command, []string) { o.Home = c.home }
	cmd.AddCommand(newBenchKVStoreCmd(c))
	return cmd
}

func newBenchKVStoreCmd(c *cli) *cobra.Command {
	o := &bench.Options{}
	var rpcs []string
	var txSize int
	cmd := &cobra.Command{
		Use:   "kvstore",
		Short: "The same measurement against CometBFT's kvstore app, with txs of the same size",
		Example: `  cometbft start --proxy_app=persistent_kvstore --home /tmp/kv &
  tabella bench kvstore --rpcs 127.0.0.1:26657 --tx-size 327 --duration 60s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			// One connection per request in flight, kept open: the default
			// transport keeps two idle connections per host, so hundreds of
			// concurrent requests would each dial anew and exhaust the
			// machine's ephemeral ports in TIME_WAIT.
			httpClient := &http.Client{Transport: &http.Transport{
				DisableCompression:  true,
				MaxIdleConnsPerHost: max(2, o.Concurrency),
			}}
			clients := make([]*rpchttp.HTTP, len(rpcs))
			for i, a := range rpcs {
				r, err := rpchttp.NewWithClient(rpcURL(a), "/websocket", httpClient)
				if err != nil {
					return err
				}
				clients[i] = r
			}
			o.Targets = rpcs
			txs := bench.KVStoreTxs(o.Voters, txSize)
			o.Progress = progress(o.Duration)
			submit := func(ctx context.Context, target int, tx []byte) (int64, string, error) {
				res, err := clients[target].BroadcastTxSync(ctx, tx)
				if errors.Is(err, io.EOF) {
					// The node closed a kept-alive connection as the
					// request went out on it, almost always before reading
					// it, and Go does not retry a POST by itself: resend
					// once (a tx that did arrive is then refused as a
					// duplicate, and counted).
					res, err = clients[target].BroadcastTxSync(ctx, tx)
				}
				if err != nil {
					if strings.Contains(err.Error(), "mempool is full") {
						return 0, "", fmt.Errorf("%w: %v", bench.ErrBusy, err)
					}
					return 0, "", err
				}
				if res.Code != 0 {
					return 0, fmt.Sprintf("CODE_%d", res.Code), nil
				}
				return 0, "", nil
			}
			res, err := bench.Run(ctx, o, "kvstore", txs, submit, clients[0])
			if err != nil {
				return err
			}
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) { printBench(w, res) })
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&rpcs, "rpcs", []string{"127.0.0.1:26657"}, "CometBFT RPC addresses to spread the load over")
	f.IntVar(&txSize, "tx-size", 330, "tx size in bytes (use the size of a Tabella ballot)")
	f.IntVar(&o.Voters, "txs", 400_000, "distinct txs prepared")
	f.DurationVar(&o.Duration, "duration", 30*time.Second, "length of the timed window")
	f.IntVar(&o.Concurrency, "concurrency", 512, "txs in flight")
	f.Float64Var(&o.Rate, "rate", 0, "submissions per second (0: open)")
	f.IntSliceVar(&o.PIDs, "pid", nil, "node process ids to sample CPU and RSS from")
	f.StringSliceVar(&o.DataDirs, "data-dir", nil, "node data directories to measure bytes on disk")
	return cmd
}

func progress(d time.Duration) func(done, total int64, elapsed time.Duration) {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil
	}
	bar := progressbar.NewOptions64(int64(d/time.Second),
		progressbar.OptionSetDescription("load"),
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
	)
	return func(done, _ int64, elapsed time.Duration) {
		bar.Describe(fmt.Sprintf("load: %d sent", done))
		_ = bar.Set64(int64(elapsed / time.Second))
	}
}

func printBench(w io.Writer, r *bench.Result) {
	app := r.App
	if r.Secrecy != "" {
		app = fmt.Sprintf("%s (%s ballots selecting %d of %d options)", app, r.Secrecy, r.Selections, r.Options)
	}
	fmt.Fprintf(w, "%s on %d node(s), %d cores, %s\n", app, r.Nodes, r.Cores, r.Date)
	fmt.Fprintf(w, "  tx size            %d bytes\n", r.TxBytes)
	if r.CeremonySeconds > 0 {
		fmt.Fprintf(w, "  key ceremony       %.1f s (creation to joint key)\n", r.CeremonySeconds)
	}
	if r.SignSeconds > 0 {
		what := "pre-signed"
		if r.Secrecy == bench.SecrecySealed {
			what = "pre-encrypted"
		}
		fmt.Fprintf(w, "  %-18s %.1f s on %d cores (before the window)\n", what, r.SignSeconds, r.Cores)
	}
	fmt.Fprintf(w, "  committed          %d in %d blocks over %.1f s = %.0f per second\n", r.Committed, r.Blocks, r.WindowSeconds, r.TPS)
	if r.RanOut {
		fmt.Fprintf(w, "  ran out            every pre-signed ballot was sent before the window ended: the rate is a lower bound (raise --voters)\n")
	}
	fmt.Fprintf(w, "  sent               %d", r.Sent)
	if len(r.Rejected) > 0 {
		fmt.Fprintf(w, " (rejected: %v)", r.Rejected)
	}
	fmt.Fprintln(w)
	if r.Commit.N > 0 {
		fmt.Fprintf(w, "  cast→committed     p50 %s  p95 %s  p99 %s  max %s\n", ms(r.Commit.P50), ms(r.Commit.P95), ms(r.Commit.P99), ms(r.Commit.Max))
	}
	if r.Provable.N > 0 {
		fmt.Fprintf(w, "  cast→provable      p50 %s  p95 %s  p99 %s  max %s\n", ms(r.Provable.P50), ms(r.Provable.P95), ms(r.Provable.P99), ms(r.Provable.Max))
	}
	if r.CPUPercent > 0 {
		fmt.Fprintf(w, "  node CPU           %.0f%% (of one core)   max RSS %.0f MiB\n", r.CPUPercent, float64(r.MaxRSSBytes)/(1<<20))
	}
	fmt.Fprintf(w, "  load generator CPU %.0f%% (of one core)\n", r.ClientCPUPercent)
	if r.BytesPerTx > 0 {
		fmt.Fprintf(w, "  disk               %.0f bytes per tx per node (%.1f MiB added)\n", r.BytesPerTx, float64(r.DiskBytes)/(1<<20))
	}
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }
