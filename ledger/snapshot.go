package ledger

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cosmos/iavl"
)

// SnapshotFormat is the format of ledger snapshot streams: the IAVL export
// of one version, each node as
//
//	int8 height || varint version || uvarint len(key) || key
//	[|| uvarint len(value) || value   — leaves (height 0) only]
//
// in the exporter's post-order.
const SnapshotFormat = 1

// ExportVersion writes the committed state at version to w. It may run
// concurrently with block execution.
func (l *Ledger) ExportVersion(version int64, w io.Writer) error {
	t, err := l.reader.GetImmutable(version)
	if err != nil {
		return fmt.Errorf("open version %d: %w", version, err)
	}
	exp, err := t.Export()
	if err != nil {
		return fmt.Errorf("export version %d: %w", version, err)
	}
	defer exp.Close()
	bw := bufio.NewWriterSize(w, 1<<20)
	var buf []byte
	for {
		n, err := exp.Next()
		if errors.Is(err, iavl.ErrorExportDone) {
			break
		}
		if err != nil {
			return fmt.Errorf("export version %d: %w", version, err)
		}
		buf = append(buf[:0], byte(n.Height))
		buf = binary.AppendVarint(buf, n.Version)
		buf = binary.AppendUvarint(buf, uint64(len(n.Key)))
		buf = append(buf, n.Key...)
		if n.Height == 0 {
			buf = binary.AppendUvarint(buf, uint64(len(n.Value)))
			buf = append(buf, n.Value...)
		}
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ImportVersion rebuilds an empty ledger from a snapshot stream of
// version, and checks the result hashes to wantHash (the app hash CometBFT
// trusts for that height). blockTime is the snapshot's block time.
func (l *Ledger) ImportVersion(version, blockTime int64, r io.Reader, wantHash []byte) (err error) {
	if err := l.waitSaved(); err != nil {
		return err
	}
	if l.tree.Version() != 0 || l.pending != nil {
		return fmt.Errorf("import into a ledger at height %d: it must be empty", l.tree.Version())
	}
	imp, err := l.tree.Import(version)
	if err != nil {
		return fmt.Errorf("start import: %w", err)
	}
	defer imp.Close()
	defer func() {
		if err != nil {
			// Leave an empty ledger behind, as Open would after a crash:
			// without a commit marker, nothing imported counts.
			_ = l.tree.DeleteVersionsFrom(1)
		}
	}()
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		h, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		n := &iavl.ExportNode{Height: int8(h)}
		if n.Version, err = binary.ReadVarint(br); err != nil {
			return fmt.Errorf("snapshot node version: %w", err)
		}
		if n.Key, err = readBytes(br); err != nil {
			return fmt.Errorf("snapshot node key: %w", err)
		}
		if n.Height == 0 {
			if n.Value, err = readBytes(br); err != nil {
				return fmt.Errorf("snapshot node value: %w", err)
			}
		}
		if err := imp.Add(n); err != nil {
			return fmt.Errorf("import node: %w", err)
		}
	}
	if err := imp.Commit(); err != nil {
		return fmt.Errorf("commit import: %w", err)
	}
	if got := l.tree.Hash(); !bytes.Equal(got, wantHash) {
		return fmt.Errorf("imported state hashes to %X, the trusted app hash is %X", got, wantHash)
	}
	if err := l.marker.Store(version, blockTime); err != nil {
		return fmt.Errorf("write commit marker %d: %w", version, err)
	}
	cid, err := l.tree.Get(keyChainID)
	if err != nil {
		return err
	}
	l.chainID = string(cid)
	l.mu.Lock()
	l.lastTime = blockTime
	l.mu.Unlock()
	if err := l.refreshCommitted(); err != nil {
		return err
	}
	l.ballots.rebuild(l.committed)
	return nil
}

// maxSnapshotField caps one key or value in a snapshot stream.
const maxSnapshotField = 4 * MaxTxBytes

func readBytes(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > maxSnapshotField {
		return nil, fmt.Errorf("field of %d bytes exceeds the limit", n)
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return b, err
}
