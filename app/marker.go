package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tabella/tabella/ledger"
)

// FileMarker keeps the ledger's commit marker (ledger.CommitMarker) in a
// file of its own beside the ledger's database, whose keys then only grow
// and whose tables goleveldb can move down its levels without merging
// them (docs/performance.md).
//
// Store writes a temporary file, syncs it and renames it over the marker,
// so a crash leaves the old marker or the new one, never a torn one. The
// rename itself is not synced: a crash may bring back the previous marker,
// and CometBFT then replays the block after it, which is all a lagging
// marker costs.
type FileMarker struct{ Path string }

var _ ledger.CommitMarker = FileMarker{}

// Load reads the marker; a missing file is no marker (a new node, or one
// whose marker is still in the database).
func (m FileMarker) Load() (height, blockTime int64, err error) {
	b, err := os.ReadFile(m.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read commit marker: %w", err)
	}
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("read commit marker %s: the file is empty", m.Path)
	}
	height, blockTime, err = ledger.DecodeMarker(b)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", m.Path, err)
	}
	return height, blockTime, nil
}

// Store replaces the marker.
func (m FileMarker) Store(height, blockTime int64) error {
	tmp := m.Path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write commit marker: %w", err)
	}
	_, err = f.Write(ledger.EncodeMarker(height, blockTime))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, m.Path)
	}
	if err != nil {
		return fmt.Errorf("write commit marker %s: %w", m.Path, err)
	}
	return nil
}

// LedgerMarkerPath is where a node keeps its ledger's commit marker.
func LedgerMarkerPath(home string) string {
	return filepath.Join(LedgerDBDir(home), "tabella.committed")
}
