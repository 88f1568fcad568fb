package app

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/tabella/tabella/ledger"
)

// SnapshotChunkSize is the size of one state-sync chunk.
const SnapshotChunkSize = 4 << 20

// snapshotMeta is <dir>/<height>/meta.json and the ABCI snapshot metadata.
type snapshotMeta struct {
	Height      uint64   `json:"height"`
	Format      uint32   `json:"format"`
	BlockTime   int64    `json:"block_time"`
	ChunkHashes [][]byte `json:"chunk_hashes"`
}

func (m *snapshotMeta) hash() []byte {
	h := sha256.New()
	for _, c := range m.ChunkHashes {
		h.Write(c)
	}
	return h.Sum(nil)
}

// Snapshots takes state-sync snapshots (a gzipped IAVL export, split into
// chunks) every Interval blocks in the background, serves them to peers,
// and restores one on a node that joins by state sync.
type Snapshots struct {
	dir      string
	interval int64
	keep     int
	ledger   *ledger.Ledger
	log      *slog.Logger

	mu       sync.Mutex
	creating bool
	wg       sync.WaitGroup
	restore  *restore
}

type restore struct {
	meta    snapshotMeta
	appHash []byte
	file    *os.File
	next    uint32
}

// NewSnapshots manages snapshots under dir. interval 0 disables taking
// them (restoring still works).
func NewSnapshots(dir string, interval int64, keep int, l *ledger.Ledger, log *slog.Logger) (*Snapshots, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if keep < 1 {
		keep = 2
	}
	return &Snapshots{dir: dir, interval: interval, keep: keep, ledger: l, log: log}, nil
}

// Wait blocks until a snapshot being taken is done.
func (s *Snapshots) Wait() { s.wg.Wait() }

// MaybeTake starts a snapshot of height when it is due and none is running.
func (s *Snapshots) MaybeTake(height, blockTime int64) {
	if s.interval <= 0 || height%s.interval != 0 {
		return
	}
	s.mu.Lock()
	if s.creating {
		s.mu.Unlock()
		s.log.Warn("skipping snapshot: the previous one is still being written", "height", height)
		return
	}
	s.creating = true
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { s.mu.Lock(); s.creating = false; s.mu.Unlock() }()
		if err := s.take(height, blockTime); err != nil {
			s.log.Error("snapshot failed", "height", height, "err", err)
			return
		}
		s.prune()
	}()
}

func (s *Snapshots) take(height, blockTime int64) error {
	tmp, err := os.MkdirTemp(s.dir, "tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cw := &chunkWriter{dir: tmp}
	zw := gzip.NewWriter(cw)
	if err := s.ledger.ExportVersion(height, zw); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := cw.close(); err != nil {
		return err
	}
	meta := snapshotMeta{Height: uint64(height), Format: ledger.SnapshotFormat, BlockTime: blockTime, ChunkHashes: cw.hashes}
	b, _ := json.Marshal(meta)
	if err := os.WriteFile(filepath.Join(tmp, "meta.json"), b, 0o644); err != nil {
		return err
	}
	final := filepath.Join(s.dir, strconv.FormatInt(height, 10))
	_ = os.RemoveAll(final)
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	s.log.Info("snapshot taken", "height", height, "chunks", len(cw.hashes), "bytes", cw.total)
	return nil
}

// chunkWriter splits a stream into files chunk-00000, chunk-00001, ...
type chunkWriter struct {
	dir    string
	cur    *os.File
	size   int
	hash   io.Writer
	sum    func() []byte
	hashes [][]byte
	total  int64
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if c.cur == nil {
			f, err := os.Create(filepath.Join(c.dir, fmt.Sprintf("chunk-%05d", len(c.hashes))))
			if err != nil {
				return written, err
			}
			h := sha256.New()
			c.cur, c.size, c.hash, c.sum = f, 0, h, func() []byte { return h.Sum(nil) }
		}
		n := min(len(p), SnapshotChunkSize-c.size)
		if _, err := c.cur.Write(p[:n]); err != nil {
			return written, err
		}
		c.hash.Write(p[:n])
		c.size += n
		c.total += int64(n)
		written += n
		p = p[n:]
		if c.size == SnapshotChunkSize {
			if err := c.finish(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

func (c *chunkWriter) finish() error {
	c.hashes = append(c.hashes, c.sum())
	err := c.cur.Close()
	c.cur = nil
	return err
}

func (c *chunkWriter) close() error {
	if c.cur != nil {
		return c.finish()
	}
	return nil
}

// list returns the complete snapshots, newest first.
func (s *Snapshots) list() ([]snapshotMeta, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []snapshotMeta
	for _, e := range entries {
		if _, err := strconv.ParseUint(e.Name(), 10, 64); err != nil || !e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.dir, e.Name(), "meta.json"))
		if err != nil {
			continue
		}
		var m snapshotMeta
		if json.Unmarshal(b, &m) == nil {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Height > out[j].Height })
	return out, nil
}

func (s *Snapshots) prune() {
	list, err := s.list()
	if err != nil {
		return
	}
	for _, m := range list[min(len(list), s.keep):] {
		_ = os.RemoveAll(filepath.Join(s.dir, strconv.FormatUint(m.Height, 10)))
	}
}

// List answers ListSnapshots.
func (s *Snapshots) List() []*abci.Snapshot {
	list, err := s.list()
	if err != nil {
		s.log.Error("list snapshots", "err", err)
		return nil
	}
	out := make([]*abci.Snapshot, 0, len(list))
	for _, m := range list {
		md, _ := json.Marshal(m)
		out = append(out, &abci.Snapshot{Height: m.Height, Format: m.Format, Chunks: uint32(len(m.ChunkHashes)), Hash: m.hash(), Metadata: md})
	}
	return out
}

// LoadChunk answers LoadSnapshotChunk.
func (s *Snapshots) LoadChunk(height uint64, format, chunk uint32) []byte {
	b, err := os.ReadFile(filepath.Join(s.dir, strconv.FormatUint(height, 10), fmt.Sprintf("chunk-%05d", chunk)))
	if err != nil {
		return nil
	}
	return b
}

// Offer answers OfferSnapshot: accept a format-1 snapshot whose metadata
// matches its hash; the chunks are checked against it as they arrive and
// the restored state against the trusted app hash.
func (s *Snapshots) Offer(snap *abci.Snapshot, appHash []byte) abci.ResponseOfferSnapshot_Result {
	if snap == nil || snap.Format != ledger.SnapshotFormat {
		return abci.ResponseOfferSnapshot_REJECT_FORMAT
	}
	var m snapshotMeta
	if err := json.Unmarshal(snap.Metadata, &m); err != nil || m.Height != snap.Height || uint32(len(m.ChunkHashes)) != snap.Chunks || !bytes.Equal(m.hash(), snap.Hash) {
		return abci.ResponseOfferSnapshot_REJECT
	}
	f, err := os.CreateTemp(s.dir, "restore-")
	if err != nil {
		s.log.Error("restore: temp file", "err", err)
		return abci.ResponseOfferSnapshot_ABORT
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.restore != nil {
		s.restore.discard()
	}
	s.restore = &restore{meta: m, appHash: appHash, file: f}
	s.log.Info("restoring snapshot", "height", m.Height, "chunks", len(m.ChunkHashes))
	return abci.ResponseOfferSnapshot_ACCEPT
}

func (r *restore) discard() {
	r.file.Close()
	os.Remove(r.file.Name())
}

// ApplyChunk answers ApplySnapshotChunk; after the last chunk it imports
// the state and checks its hash.
func (s *Snapshots) ApplyChunk(index uint32, chunk []byte, sender string) *abci.ResponseApplySnapshotChunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.restore
	if r == nil {
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ABORT}
	}
	if index != r.next {
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_RETRY, RefetchChunks: []uint32{r.next}}
	}
	sum := sha256.Sum256(chunk)
	if !bytes.Equal(sum[:], r.meta.ChunkHashes[index]) {
		s.log.Warn("restore: chunk does not match its hash", "index", index, "sender", sender)
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_RETRY, RefetchChunks: []uint32{index}, RejectSenders: []string{sender}}
	}
	if _, err := r.file.Write(chunk); err != nil {
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ABORT}
	}
	r.next++
	if int(r.next) < len(r.meta.ChunkHashes) {
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ACCEPT}
	}
	defer func() { r.discard(); s.restore = nil }()
	if err := s.importFile(r); err != nil {
		s.log.Error("restore failed", "height", r.meta.Height, "err", err)
		return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT}
	}
	s.log.Info("snapshot restored", "height", r.meta.Height)
	return &abci.ResponseApplySnapshotChunk{Result: abci.ResponseApplySnapshotChunk_ACCEPT}
}

func (s *Snapshots) importFile(r *restore) error {
	if _, err := r.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	zr, err := gzip.NewReader(r.file)
	if err != nil {
		return err
	}
	defer zr.Close()
	if err := s.ledger.ImportVersion(int64(r.meta.Height), r.meta.BlockTime, zr, r.appHash); err != nil {
		return err
	}
	return nil
}
