package app

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFileMarker: no file is no marker; a stored marker reads back and is
// replaced whole; a torn or foreign file is an error, not height 0 (which
// would make the ledger discard every version it has).
func TestFileMarker(t *testing.T) {
	dir := t.TempDir()
	m := FileMarker{Path: filepath.Join(dir, "tabella.committed")}
	if h, bt, err := m.Load(); err != nil || h != 0 || bt != 0 {
		t.Fatalf("missing marker: %d %d %v", h, bt, err)
	}
	for _, want := range [][2]int64{{1, 1_800_000_001}, {2, 1_800_000_005}} {
		if err := m.Store(want[0], want[1]); err != nil {
			t.Fatal(err)
		}
		if h, bt, err := m.Load(); err != nil || h != want[0] || bt != want[1] {
			t.Fatalf("stored %v, loaded %d %d %v", want, h, bt, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("files left beside the marker: %v", entries)
	}
	for _, content := range [][]byte{{}, make([]byte, 15), make([]byte, 17)} {
		if err := os.WriteFile(m.Path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.Load(); err == nil {
			t.Fatalf("a %d-byte marker file loaded", len(content))
		}
	}
	if err := (FileMarker{Path: filepath.Join(dir, "missing", "m")}).Store(1, 1); err == nil {
		t.Fatal("stored into a missing directory")
	}
}
