package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"
	mempl "github.com/cometbft/cometbft/mempool"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	rpclocal "github.com/cometbft/cometbft/rpc/client/local"
	cmttypes "github.com/cometbft/cometbft/types"
	idb "github.com/cosmos/iavl/db"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// Version is the node software version reported over gRPC.
const Version = "0.1.0"

// Node is a CometBFT node running the Tabella application in-process, plus
// the gRPC API.
type Node struct {
	home   string
	conf   Config
	comet  *cmtcfg.Config
	log    *slog.Logger
	db     *idb.GoLevelDB
	ledger *ledger.Ledger
	app    *Application
	cmt    *nm.Node

	snapshots *Snapshots

	grpc    *grpc.Server
	health  *health.Server
	grpcLis net.Listener
	done    chan struct{}
}

// OpenNode loads a node home created by `tabellad init` or `tabellad dev`.
func OpenNode(home string, log *slog.Logger) (*Node, error) {
	conf, err := LoadConfig(home)
	if err != nil {
		return nil, err
	}
	comet, err := LoadCometConfig(home)
	if err != nil {
		return nil, err
	}
	if log == nil {
		if log, err = NewLogger(conf.LogLevel, conf.LogFormat); err != nil {
			return nil, err
		}
	}
	cometLevel, err := ParseLevel(conf.CometBFTLogLevel)
	if err != nil {
		return nil, fmt.Errorf("cometbft_log_level %q: %w", conf.CometBFTLogLevel, err)
	}

	db, err := idb.NewGoLevelDBWithOpts("tabella", LedgerDBDir(home), ledger.DBOptions())
	if err != nil {
		return nil, fmt.Errorf("open ledger database: %w", err)
	}
	nodeCache := -1 // none
	if conf.NodeCacheMiB > 0 {
		nodeCache = conf.NodeCacheMiB << 20
		// Homes made before the node cache wrote iavl_cache_size =
		// 200000, which now only costs CPU and memory.
		if conf.IAVLCacheSize > 10*ledger.DefaultCacheSize {
			log.Warn("iavl_cache_size is large for a node with the node cache: IAVL's own cache need only hold the top of the tree (docs/operators.md)",
				"iavl_cache_size", conf.IAVLCacheSize, "suggested", ledger.DefaultCacheSize)
		}
	}
	l, err := ledger.Open(db, ledger.Options{CacheSize: conf.IAVLCacheSize, NodeCacheBytes: nodeCache, FastIndex: conf.IAVLFastIndex,
		Marker: FileMarker{Path: LedgerMarkerPath(home)}, Logger: log.With("module", "ledger")})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	application := NewApplication(l, log.With("module", "app"))
	snaps, err := NewSnapshots(filepath.Join(LedgerDBDir(home), "snapshots"), conf.SnapshotInterval, conf.SnapshotKeepRecent, l, log.With("module", "snapshots"))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("snapshots: %w", err)
	}
	application.SetSnapshots(snaps)
	if comet.Instrumentation.Prometheus {
		// CometBFT serves the default registry on its Prometheus
		// listener; the app's metrics join its own there.
		m, err := NewMetrics(prometheus.DefaultRegisterer)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("metrics: %w", err)
		}
		application.SetMetrics(m)
	}

	nodeKey, err := p2p.LoadNodeKey(comet.NodeKeyFile())
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("load node key: %w", err)
	}
	pv := privval.LoadFilePV(comet.PrivValidatorKeyFile(), comet.PrivValidatorStateFile())
	clients := newClientCreator(application)
	cmtNode, err := nm.NewNode(comet, pv, nodeKey,
		clients,
		nm.DefaultGenesisDocProviderFunc(comet),
		cmtcfg.DefaultDBProvider,
		nm.DefaultMetricsProvider(comet.Instrumentation),
		newCometLogger(log, cometLevel),
	)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("create CometBFT node: %w", err)
	}
	mempool, limits := cmtNode.Mempool(), comet.Mempool
	clients.SetMempoolRoom(func() (int, int64) {
		return limits.Size - mempool.Size(), limits.MaxTxsBytes - mempool.SizeBytes()
	})
	return &Node{home: home, conf: conf, comet: comet, log: log, db: db, ledger: l, app: application, cmt: cmtNode, snapshots: snaps, done: make(chan struct{})}, nil
}

// Start starts consensus and the gRPC API.
func (n *Node) Start(ctx context.Context) error {
	lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", n.conf.GRPCAddress)
	if err != nil {
		return fmt.Errorf("listen for gRPC on %s: %w", n.conf.GRPCAddress, err)
	}
	if err := n.cmt.Start(); err != nil {
		lis.Close()
		return fmt.Errorf("start CometBFT: %w", err)
	}
	local := rpclocal.New(n.cmt)
	svc := NewService(n.ledger, n.app.Events(), cometMempool{n: n.cmt, rpc: local}, cometChain{n: n.cmt, rpc: local})
	svc.RPCAddress = n.comet.RPC.ListenAddress
	svc.NodeVersion = Version
	svc.Metrics = n.app.Metrics()
	n.grpc = grpc.NewServer(
		// A tx plus its framing; reads answer far larger messages.
		grpc.MaxRecvMsgSize(ledger.MaxTxBytes+64<<10),
		grpc.MaxSendMsgSize(64<<20),
		grpc.MaxConcurrentStreams(4096),
	)
	tabellav1.RegisterTabellaServiceServer(n.grpc, svc)
	n.health = health.NewServer()
	healthpb.RegisterHealthServer(n.grpc, n.health)
	n.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	n.health.SetServingStatus(tabellav1.TabellaService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	reflection.Register(n.grpc)
	n.grpcLis = lis
	go func() {
		defer close(n.done)
		if err := n.grpc.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			n.log.Error("gRPC server stopped", "err", err)
		}
	}()
	n.log.Info("node started", "chain_id", n.ledger.ChainID(), "height", n.ledger.LastHeight(),
		"grpc", lis.Addr().String(), "rpc", n.comet.RPC.ListenAddress, "home", n.home)
	return nil
}

// GRPCAddr is the address the gRPC API listens on.
func (n *Node) GRPCAddr() string {
	if n.grpcLis == nil {
		return n.conf.GRPCAddress
	}
	return n.grpcLis.Addr().String()
}

// RPCAddr is CometBFT's RPC listen address.
func (n *Node) RPCAddr() string { return n.comet.RPC.ListenAddress }

// Ledger is the node's state machine.
func (n *Node) Ledger() *ledger.Ledger { return n.ledger }

// Config is the node's tabella.toml, as loaded.
func (n *Node) Config() Config { return n.conf }

// Stop shuts the gRPC API and consensus down and closes the databases.
func (n *Node) Stop() error {
	if n.health != nil {
		n.health.Shutdown()
	}
	if n.grpc != nil {
		stopped := make(chan struct{})
		go func() { n.grpc.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			n.grpc.Stop()
		}
		<-n.done
	}
	var errs []error
	if n.cmt.IsRunning() {
		if err := n.cmt.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop CometBFT: %w", err))
		}
		n.cmt.Wait()
	}
	// The last block's version may still be being written, and its
	// callback may start a snapshot: both end before the database closes.
	// A failed write is reported by ledger.Close below.
	_ = n.ledger.WaitSaved()
	n.snapshots.Wait()
	if err := n.ledger.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close ledger: %w", err))
	}
	if err := n.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close ledger database: %w", err))
	}
	return errors.Join(errs...)
}

// cometMempool submits txs straight to the node's mempool, honouring the
// caller's context (CometBFT's local RPC client does not).
type cometMempool struct {
	n   *nm.Node
	rpc *rpclocal.Local
}

func (m cometMempool) Committed(ctx context.Context, hash []byte) (TxOutcome, bool, error) {
	res, err := m.rpc.Tx(ctx, hash, false)
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return TxOutcome{}, false, nil
		}
		return TxOutcome{}, false, err
	}
	return TxOutcome{Hash: hash, Height: res.Height, Code: ledger.Code(res.TxResult.Code), Log: res.TxResult.Log}, true, nil
}

func (m cometMempool) Submit(ctx context.Context, tx []byte) (ledger.Code, string, error) {
	resCh := make(chan *abci.ResponseCheckTx, 1)
	err := m.n.Mempool().CheckTx(cmttypes.Tx(tx), func(res *abci.ResponseCheckTx) { resCh <- res }, mempl.TxInfo{})
	if errors.Is(err, mempl.ErrTxInCache) {
		return 0, "", ErrTxInMempool
	}
	if err != nil {
		var full mempl.ErrMempoolIsFull
		if errors.As(err, &full) {
			return 0, "", fmt.Errorf("mempool is full, try again shortly: %w", err)
		}
		var tooLarge mempl.ErrTxTooLarge
		if errors.As(err, &tooLarge) {
			return ledger.CodeTxTooLarge, err.Error(), nil
		}
		return 0, "", err
	}
	select {
	case res := <-resCh:
		if ledger.Code(res.Code) == ledger.CodeMempoolFull {
			return 0, "", fmt.Errorf("mempool is full, try again shortly: %s", res.Log)
		}
		return ledger.Code(res.Code), res.Log, nil
	case <-ctx.Done():
		return 0, "", ctx.Err()
	}
}

// cometChain reads headers, commits and validator sets through CometBFT's
// RPC environment (in-process, no network).
type cometChain struct {
	n   *nm.Node
	rpc *rpclocal.Local
}

func (c cometChain) Height() int64 { return c.n.BlockStore().Height() }

func (c cometChain) SignedHeader(ctx context.Context, height int64) (*cmttypes.SignedHeader, *cmttypes.ValidatorSet, error) {
	res, err := c.rpc.Commit(ctx, &height)
	if err != nil {
		return nil, nil, err
	}
	if res == nil || res.SignedHeader.Header == nil {
		return nil, nil, fmt.Errorf("no header at height %d", height)
	}
	var vals []*cmttypes.Validator
	for page, perPage := 1, 100; ; page++ {
		vr, err := c.rpc.Validators(ctx, &height, &page, &perPage)
		if err != nil {
			return nil, nil, err
		}
		vals = append(vals, vr.Validators...)
		if len(vals) >= vr.Total || len(vr.Validators) == 0 {
			break
		}
	}
	set, err := cmttypes.ValidatorSetFromExistingValidators(vals)
	if err != nil {
		return nil, nil, err
	}
	sh := res.SignedHeader
	return &sh, set, nil
}
