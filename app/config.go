package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	cmtcfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/spf13/viper"

	"github.com/tabella/tabella/ledger"
)

// Config is Tabella's own node settings, in <home>/config/tabella.toml
// beside CometBFT's config.toml.
type Config struct {
	// GRPCAddress is where the tabella.v1 gRPC API listens.
	GRPCAddress string `toml:"grpc_address"`
	// LogLevel is debug, info, warn or error; LogFormat text or json.
	LogLevel  string `toml:"log_level"`
	LogFormat string `toml:"log_format"`
	// CometBFTLogLevel filters CometBFT's own (chatty) logs.
	CometBFTLogLevel string `toml:"cometbft_log_level"`
	// IAVLCacheSize is IAVL's cache of decoded nodes, in nodes; it need
	// only hold the top of the tree (see ledger.Options.CacheSize).
	IAVLCacheSize int `toml:"iavl_cache_size"`
	// NodeCacheMiB is the memory, in MiB, kept for the tree's encoded
	// nodes in front of the database; 0 keeps none (see
	// ledger.Options.NodeCacheBytes).
	NodeCacheMiB int `toml:"node_cache_mib"`
	// IAVLFastIndex keeps IAVL's fast index of the latest state (a copy of
	// every key and value beside the tree); see ledger.Options.FastIndex.
	IAVLFastIndex bool `toml:"iavl_fast_index"`
	// SnapshotInterval takes a state-sync snapshot every that many blocks
	// (0: never); SnapshotKeepRecent is how many are kept.
	SnapshotInterval   int64 `toml:"snapshot_interval"`
	SnapshotKeepRecent int   `toml:"snapshot_keep_recent"`
	// MemoryLimitMiB is a soft limit on the node's Go memory
	// (runtime/debug.SetMemoryLimit): near it the garbage collector runs
	// more often instead of letting the process grow. 0 sets none; the
	// GOMEMLIMIT environment variable, when set, wins.
	MemoryLimitMiB int `toml:"memory_limit_mib"`
	// GCPercent is the garbage collector's pace (runtime/debug.SetGCPercent,
	// Go's GOGC): the heap may grow by that percentage of the live heap
	// before the next collection. 0 or less keeps Go's default of 100; the
	// GOGC environment variable, when set, wins.
	GCPercent int `toml:"gc_percent"`
}

// DefaultConfig returns the settings a new home starts with.
func DefaultConfig() Config {
	return Config{
		GRPCAddress:        "127.0.0.1:9090",
		LogLevel:           "info",
		LogFormat:          "text",
		CometBFTLogLevel:   "error",
		IAVLCacheSize:      ledger.DefaultCacheSize,
		NodeCacheMiB:       ledger.DefaultNodeCacheBytes >> 20,
		SnapshotInterval:   500,
		SnapshotKeepRecent: 2,
		// Under a full mempool a node's heap is about 400 MiB live; at
		// the collector's default pace the process would grow past
		// 1 GiB (docs/performance.md).
		MemoryLimitMiB: 900,
		// A validator's live heap is mostly long-lived IAVL nodes and
		// caches, so a collection at Go's default pace marks much and
		// frees little: the collector's marking was a fifth of a loaded
		// validator's CPU, and a seventh at 200. The memory limit
		// above still bounds the process (docs/performance.md).
		GCPercent: 200,
	}
}

// ConfigPaths of a node home.
func tabellaConfigPath(home string) string { return filepath.Join(home, "config", "tabella.toml") }
func cometConfigPath(home string) string   { return filepath.Join(home, "config", "config.toml") }

// LedgerDBDir is where the ledger's IAVL database lives.
func LedgerDBDir(home string) string { return filepath.Join(home, "data") }

// WriteConfig writes tabella.toml.
func WriteConfig(home string, c Config) error {
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(tabellaConfigPath(home), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintln(f, "# Tabella node settings. CometBFT's own settings are in config.toml.")
	return toml.NewEncoder(f).Encode(c)
}

// LoadConfig reads tabella.toml, filling unset fields with defaults.
func LoadConfig(home string) (Config, error) {
	c := DefaultConfig()
	_, err := toml.DecodeFile(tabellaConfigPath(home), &c)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read %s: %w", tabellaConfigPath(home), err)
	}
	return c, nil
}

// LoadCometConfig reads CometBFT's config.toml under home.
func LoadCometConfig(home string) (*cmtcfg.Config, error) {
	conf := cmtcfg.DefaultConfig()
	v := viper.New()
	v.SetConfigFile(cometConfigPath(home))
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("read %s: %w (run `tabellad init` first)", cometConfigPath(home), err)
	}
	if err := v.Unmarshal(conf); err != nil {
		return nil, fmt.Errorf("parse %s: %w", cometConfigPath(home), err)
	}
	conf.SetRoot(home)
	if err := conf.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("invalid %s: %w", cometConfigPath(home), err)
	}
	return conf, nil
}

// ParseLevel maps a level name to slog.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(strings.ToUpper(s)))
	return l, err
}

// NewLogger builds the process logger.
func NewLogger(level, format string) (*slog.Logger, error) {
	l, err := ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: use text or json", format)
}

// cometLogger adapts slog to CometBFT's logger, below a minimum level.
type cometLogger struct {
	l   *slog.Logger
	min slog.Level
}

func newCometLogger(l *slog.Logger, min slog.Level) cmtlog.Logger {
	return cometLogger{l: l.With("module", "cometbft"), min: min}
}

func (c cometLogger) log(level slog.Level, msg string, kv []any) {
	if level >= c.min {
		c.l.Log(context.Background(), level, msg, kv...)
	}
}

func (c cometLogger) Debug(msg string, kv ...any) { c.log(slog.LevelDebug, msg, kv) }
func (c cometLogger) Info(msg string, kv ...any)  { c.log(slog.LevelInfo, msg, kv) }
func (c cometLogger) Warn(msg string, kv ...any)  { c.log(slog.LevelWarn, msg, kv) }
func (c cometLogger) Error(msg string, kv ...any) { c.log(slog.LevelError, msg, kv) }
func (c cometLogger) With(kv ...any) cmtlog.Logger {
	return cometLogger{l: c.l.With(kv...), min: c.min}
}
