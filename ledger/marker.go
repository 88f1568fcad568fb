package ledger

import (
	"encoding/binary"
	"fmt"

	corestore "cosmossdk.io/core/store"
)

// CommitMarker keeps the ledger's commit marker: the height and block time
// of the last completed commit. IAVL may save part of a version before a
// crash, so Open discards every version after the marker; the marker must
// therefore never name a version that is not durable yet. It may lag one
// that is: CometBFT then replays that block.
type CommitMarker interface {
	// Load returns the marker; 0, 0 when none was stored.
	Load() (height, blockTime int64, err error)
	// Store replaces the marker once the version it names is durable.
	Store(height, blockTime int64) error
}

// keyCommitMarker is the marker's key in the ledger's database when
// Options.Marker is nil, and where a marker stored there by an earlier
// version of Tabella is found.
var keyCommitMarker = []byte("tabella/committed")

// EncodeMarker is the 16-byte form of a marker a CommitMarker may store:
// uint64be(height) || uint64be(block time, unix seconds).
func EncodeMarker(height, blockTime int64) []byte {
	return concat(be64(uint64(height)), be64(uint64(blockTime)))
}

// DecodeMarker reads an encoded marker; nil or empty is no marker.
func DecodeMarker(b []byte) (height, blockTime int64, err error) {
	if len(b) == 0 {
		return 0, 0, nil
	}
	if len(b) != 16 {
		return 0, 0, fmt.Errorf("commit marker has %d bytes, want 16", len(b))
	}
	return int64(binary.BigEndian.Uint64(b[:8])), int64(binary.BigEndian.Uint64(b[8:])), nil
}

// dbMarker keeps the marker under keyCommitMarker in the ledger's own
// database. Its synced write also makes the version's IAVL writes, which
// went to the same journal before it, durable. The cost: one key rewritten
// every block in a database whose other keys only grow, so every table
// goleveldb writes spans that key and compactions must merge tables they
// could otherwise move; a node keeps its marker in a file instead
// (app.FileMarker).
type dbMarker struct{ db corestore.KVStoreWithBatch }

func (m dbMarker) Load() (int64, int64, error) {
	b, err := m.db.Get(keyCommitMarker)
	if err != nil {
		return 0, 0, fmt.Errorf("read commit marker: %w", err)
	}
	return DecodeMarker(b)
}

func (m dbMarker) Store(height, blockTime int64) error {
	batch := m.db.NewBatch()
	defer batch.Close()
	if err := batch.Set(keyCommitMarker, EncodeMarker(height, blockTime)); err != nil {
		return err
	}
	return batch.WriteSync()
}

// adoptLegacyMarker moves a marker an earlier Tabella kept in the database
// to an external store, then deletes the database's copy. The database's
// copy wins when it is ahead (an earlier Tabella ran on this home after a
// later one); when a crash came between the move and the deletion the two
// are equal. A copy left in the database would sit in a table of its own
// range forever, and every table written after it would overlap that one.
func adoptLegacyMarker(db corestore.KVStoreWithBatch, m CommitMarker) error {
	legacyHeight, legacyTime, err := dbMarker{db}.Load()
	if err != nil || legacyHeight == 0 {
		return err
	}
	height, _, err := m.Load()
	if err != nil {
		return err
	}
	if legacyHeight > height {
		if err := m.Store(legacyHeight, legacyTime); err != nil {
			return fmt.Errorf("move the commit marker out of the database: %w", err)
		}
	}
	batch := db.NewBatch()
	defer batch.Close()
	if err := batch.Delete(keyCommitMarker); err != nil {
		return err
	}
	return batch.WriteSync()
}
