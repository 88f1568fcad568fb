package app

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tabella/tabella/ledger"
)

// Metrics are the application's Prometheus metrics, served beside
// CometBFT's on its instrumentation listener (namespace "tabella").
type Metrics struct {
	txs            *prometheus.CounterVec
	checkTxs       *prometheus.CounterVec
	apiRejects     *prometheus.CounterVec
	checkTxSeconds prometheus.Histogram
	checkTxBatch   prometheus.Histogram
	blockSeconds   prometheus.Histogram
	commitSeconds  prometheus.Histogram
	blockTxs       prometheus.Histogram
	tallyUpdates   prometheus.Counter
	height         prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		txs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tabella", Name: "txs_total",
			Help: "Transactions executed in blocks, by message type and result code name (OK for accepted).",
		}, []string{"type", "code"}),
		checkTxs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tabella", Name: "checktx_total",
			Help: "Mempool admission checks, by message type and result code name.",
		}, []string{"type", "code"}),
		apiRejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tabella", Name: "api_rejected_total",
			Help: "Txs the gRPC API refused before the mempool (size, decoding, signatures), by message type and result code name.",
		}, []string{"type", "code"}),
		checkTxSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "tabella", Name: "checktx_seconds", Help: "CheckTx latency.",
			Buckets: prometheus.ExponentialBuckets(20e-6, 2, 14),
		}),
		checkTxBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "tabella", Name: "checktx_batch_txs",
			Help:    "Transactions the mempool's connection checked together, their signatures verified in one batch.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		blockSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "tabella", Name: "finalize_block_seconds", Help: "FinalizeBlock latency (execution and IAVL writes).",
			Buckets: prometheus.ExponentialBuckets(1e-4, 2, 16),
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "tabella", Name: "commit_seconds", Help: "Time from Commit to the version being on disk (IAVL SaveVersion and the commit marker), written off the block cycle.",
			Buckets: prometheus.ExponentialBuckets(1e-4, 2, 16),
		}),
		blockTxs: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "tabella", Name: "block_txs", Help: "Transactions per block.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 16),
		}),
		tallyUpdates: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "tabella", Name: "tally_updates_total", Help: "Ballots applied to a running tally (revotes included).",
		}),
		height: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "tabella", Name: "height", Help: "Last committed height.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.txs, m.checkTxs, m.apiRejects, m.checkTxSeconds, m.checkTxBatch, m.blockSeconds, m.commitSeconds, m.blockTxs, m.tallyUpdates, m.height} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// txType names a tx's message for metric labels.
func txType(tx []byte) string {
	body, err := ledger.DecodeTxUnverified(tx)
	if err != nil {
		return "undecodable"
	}
	return ledger.MsgType(body)
}

// resultType is r's message type, from the ledger when it decoded tx.
func resultType(tx []byte, r ledger.TxResult) string {
	if r.Type != "" {
		return r.Type
	}
	return txType(tx)
}

func (m *Metrics) observeCheckTx(tx []byte, r ledger.TxResult, d time.Duration) {
	if m == nil {
		return
	}
	m.checkTxs.WithLabelValues(resultType(tx, r), r.Code.String()).Inc()
	m.checkTxSeconds.Observe(d.Seconds())
}

func (m *Metrics) observeCheckBatch(n int) {
	if m == nil {
		return
	}
	m.checkTxBatch.Observe(float64(n))
}

// observeAPIReject counts a tx the API refused before it reached CheckTx;
// typ is the tx's message type (txType), or "empty" or "oversized" for a
// tx refused on its size alone, which is not decoded.
func (m *Metrics) observeAPIReject(typ string, code ledger.Code) {
	if m == nil {
		return
	}
	m.apiRejects.WithLabelValues(typ, code.String()).Inc()
}

func (m *Metrics) observeBlock(txs [][]byte, res *ledger.BlockResult, d time.Duration) {
	if m == nil {
		return
	}
	m.blockSeconds.Observe(d.Seconds())
	m.blockTxs.Observe(float64(len(txs)))
	for i, r := range res.TxResults {
		typ := resultType(txs[i], r)
		m.txs.WithLabelValues(typ, r.Code.String()).Inc()
		if r.Code == ledger.CodeOK && typ == "cast_ballot" {
			m.tallyUpdates.Inc()
		}
	}
}

func (m *Metrics) observeCommit(height int64, d time.Duration) {
	if m == nil {
		return
	}
	m.commitSeconds.Observe(d.Seconds())
	m.height.Set(float64(height))
}
