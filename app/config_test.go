package app

import (
	"os"
	"path/filepath"
	"testing"
)

// TestConfigFile: tabella.toml round-trips, a missing file gives the
// defaults, and a field the operator sets (memory_limit_mib = 0 turns the
// soft memory limit off) overrides its default while the others keep
// theirs.
func TestConfigFile(t *testing.T) {
	home := t.TempDir()
	if c, err := LoadConfig(home); err != nil || c != DefaultConfig() {
		t.Fatalf("no file: %+v, %v", c, err)
	}
	want := DefaultConfig()
	want.MemoryLimitMiB = 1500
	want.IAVLCacheSize = 50_000
	if err := WriteConfig(home, want); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadConfig(home); err != nil || got != want {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(home, "config", "tabella.toml"), []byte("memory_limit_mib = 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if got.MemoryLimitMiB != 0 || got.IAVLCacheSize != DefaultConfig().IAVLCacheSize {
		t.Fatalf("partial file: %+v", got)
	}
}
