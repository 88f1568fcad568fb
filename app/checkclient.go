package app

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	abcicli "github.com/cometbft/cometbft/abci/client"
	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/proxy"

	"github.com/tabella/tabella/ledger"
)

// CometBFT's mempool calls CheckTx once per tx, and three quarters of a
// validator's txs on a four-party network arrive by gossip, not through its
// own API (whose handler verifies signatures in shared batches before the
// mempool sees them). Checked one by one, a gossiped ballot's two ed25519
// signatures cost about twice what they cost in a batch. The mempool only
// ever asks through CheckTxAsync, which a socket or gRPC client answers
// later anyway; so the client below queues those requests and a worker
// checks the queued txs together: PreVerifyBatch verifies their signatures
// in one batch, then CheckTx gives each verdict in arrival order.
const (
	// checkBatchMax bounds the txs checked together: larger batches
	// verify no faster per signature than this, and a huge one would hold
	// back the first tx's answer.
	checkBatchMax = 512
	// checkBatchWait is how long the worker waits for company when the
	// queue holds a tx whose signatures are not verified yet. It delays a
	// gossiped tx's admission, never consensus (Flush does not wait).
	checkBatchWait = 20 * time.Millisecond
	// checkQueueLen bounds the requests waiting; past it CheckTxAsync
	// blocks, which slows the peers' gossip rather than growing memory.
	checkQueueLen = 8192
)

// clientCreator gives every ABCI connection its own lock (CheckTx runs
// while FinalizeBlock executes; the ledger guards what they share) and
// batches the mempool's CheckTxAsync requests.
type clientCreator struct {
	app  *Application
	room *atomic.Pointer[mempoolRoom]
}

var _ proxy.ClientCreator = (*clientCreator)(nil)

// mempoolRoom reports how many more txs and bytes the mempool takes.
type mempoolRoom func() (txs int, bytes int64)

// newClientCreator returns the ABCI client creator of an in-process node.
func newClientCreator(app *Application) *clientCreator {
	return &clientCreator{app: app, room: new(atomic.Pointer[mempoolRoom])}
}

// NewABCIClient implements proxy.ClientCreator. Every connection gets the
// batching client; only the mempool's uses CheckTxAsync.
func (c *clientCreator) NewABCIClient() (abcicli.Client, error) {
	return newBatchingClient(c.app, c.room), nil
}

// SetMempoolRoom tells the clients how full the mempool is. CometBFT's
// mempool checks its room when a tx arrives, and again when CheckTx
// answers OK, dropping the tx if it is full by then while still telling
// the submitter OK: harmless when answers are immediate, but queued txs
// arrive together. So the worker answers MEMPOOL_FULL, without checking,
// to txs that would not fit once the txs it accepted before them are in.
func (c *clientCreator) SetMempoolRoom(room mempoolRoom) { c.room.Store(&room) }

// batchingClient is CometBFT's local client, with one lock per
// connection, except that CheckTxAsync queues the request for a worker.
type batchingClient struct {
	abcicli.Client // the local client: every other call

	app   *Application
	room  *atomic.Pointer[mempoolRoom] // unset: unbounded
	queue chan *abcicli.ReqRes
	flush chan struct{} // poked by Flush: stop waiting for company

	resCb     atomic.Pointer[abcicli.Callback]
	submitted atomic.Uint64 // requests queued so far
	flushing  atomic.Int32  // Flush calls waiting

	mu        sync.Mutex
	processed uint64        // requests answered so far
	progress  chan struct{} // closed and replaced when processed grows

	startOnce sync.Once
}

func newBatchingClient(app *Application, room *atomic.Pointer[mempoolRoom]) *batchingClient {
	c := &batchingClient{
		Client:   abcicli.NewLocalClient(nil, app),
		app:      app,
		room:     room,
		queue:    make(chan *abcicli.ReqRes, checkQueueLen),
		flush:    make(chan struct{}, 1),
		progress: make(chan struct{}),
	}
	return c
}

// Start starts the local client and the worker, which ends when the client
// stops.
func (c *batchingClient) Start() error {
	if err := c.Client.Start(); err != nil {
		return err
	}
	c.startOnce.Do(func() { go c.run() })
	return nil
}

// SetResponseCallback sets the callback every answered request also goes
// to.
func (c *batchingClient) SetResponseCallback(cb abcicli.Callback) {
	c.resCb.Store(&cb)
	c.Client.SetResponseCallback(cb)
}

// CheckTxAsync queues req; the ReqRes is answered when the worker has
// checked it. A full queue makes the caller wait.
func (c *batchingClient) CheckTxAsync(ctx context.Context, req *abci.RequestCheckTx) (*abcicli.ReqRes, error) {
	rr := abcicli.NewReqRes(abci.ToRequestCheckTx(req))
	select {
	case <-c.Quit():
		return nil, errClientStopped
	default:
	}
	select {
	case c.queue <- rr:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.Quit():
		return nil, errClientStopped
	}
	c.submitted.Add(1)
	return rr, nil
}

var errClientStopped = errors.New("ABCI client stopped")

// Flush returns once every request queued before it has been answered. The
// mempool flushes, with its lock held so no CheckTxAsync runs meanwhile,
// before it updates after a block.
func (c *batchingClient) Flush(ctx context.Context) error {
	target := c.submitted.Load()
	c.flushing.Add(1)
	defer c.flushing.Add(-1)
	select {
	case c.flush <- struct{}{}:
	default:
	}
	c.mu.Lock()
	for c.processed < target {
		progress := c.progress
		c.mu.Unlock()
		select {
		case <-progress:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.Quit():
			return errClientStopped
		}
		c.mu.Lock()
	}
	c.mu.Unlock()
	return nil
}

// run answers queued requests in batches until the client stops.
func (c *batchingClient) run() {
	batch := make([]*abcicli.ReqRes, 0, checkBatchMax)
	for {
		select {
		case rr := <-c.queue:
			batch = c.gather(append(batch[:0], rr))
			c.check(batch)
		case <-c.Quit():
			return
		}
	}
}

// gather adds queued requests to batch. While the batch holds a tx whose
// signatures are not verified yet and no Flush waits, it waits up to
// checkBatchWait for more.
func (c *batchingClient) gather(batch []*abcicli.ReqRes) []*abcicli.ReqRes {
	unverified := !c.app.ledger.Preverified(batch[0].Request.GetCheckTx().Tx)
	var deadline <-chan time.Time
	for len(batch) < checkBatchMax {
		var rr *abcicli.ReqRes
		select {
		case rr = <-c.queue:
		default:
			if !unverified || c.flushing.Load() > 0 {
				return batch
			}
			if deadline == nil {
				deadline = time.After(checkBatchWait)
			}
			select {
			case rr = <-c.queue:
			case <-deadline:
				return batch
			case <-c.flush:
				return batch
			case <-c.Quit():
				return batch
			}
		}
		batch = append(batch, rr)
		if !unverified && !c.app.ledger.Preverified(rr.Request.GetCheckTx().Tx) {
			unverified = true
		}
	}
	return batch
}

// check verifies the batch's signatures together, then checks each tx in
// order and answers it.
func (c *batchingClient) check(batch []*abcicli.ReqRes) {
	txs := make([][]byte, len(batch))
	for i, rr := range batch {
		txs[i] = rr.Request.GetCheckTx().Tx
	}
	c.app.ledger.PreVerifyBatch(txs)
	c.app.metrics.observeCheckBatch(len(batch))
	freeTxs, freeBytes := math.MaxInt, int64(math.MaxInt64)
	if room := c.room.Load(); room != nil {
		freeTxs, freeBytes = (*room)()
	}
	for i, rr := range batch {
		req := rr.Request.GetCheckTx()
		// A recheck is of a tx already in the mempool: it takes no room.
		fresh := req.Type == abci.CheckTxType_New
		var res *abci.ResponseCheckTx
		if fresh && (freeTxs < 1 || int64(len(txs[i])) > freeBytes) {
			res = &abci.ResponseCheckTx{Code: uint32(ledger.CodeMempoolFull), Codespace: ledger.Codespace, Log: "the mempool is full"}
		} else {
			var err error
			res, err = c.app.CheckTx(context.Background(), req)
			if err != nil {
				// Application.CheckTx gives its verdicts as codes, never
				// as errors; if that changes, a rejection is the safe
				// answer.
				res = &abci.ResponseCheckTx{Code: uint32(ledger.CodeInternal), Codespace: ledger.Codespace, Log: err.Error()}
			}
			if fresh && res.Code == abci.CodeTypeOK {
				freeTxs--
				freeBytes -= int64(len(txs[i]))
			}
		}
		rr.Response = abci.ToResponseCheckTx(res)
		rr.Done()
		if cb := c.resCb.Load(); cb != nil && *cb != nil {
			(*cb)(rr.Request, rr.Response)
		}
		rr.InvokeCallback()
	}
	c.mu.Lock()
	c.processed += uint64(len(batch))
	close(c.progress)
	c.progress = make(chan struct{})
	c.mu.Unlock()
}
