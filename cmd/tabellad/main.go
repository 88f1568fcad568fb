// Command tabellad runs a Tabella node: a CometBFT validator or full node
// with the Tabella ledger in-process and the tabella.v1 gRPC API.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tabella/tabella/app"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "tabellad",
		Short:         "Run a Tabella node (CometBFT + the Tabella ledger + the gRPC API)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newInitCmd(), newStartCmd(), newDevCmd(), newTestnetCmd(), newShowValidatorCmd(), newVersionCmd())
	return root
}

func defaultHome() string {
	if h := os.Getenv("TABELLAD_HOME"); h != "" {
		return h
	}
	dir, err := os.UserHomeDir()
	if err != nil {
		return ".tabellad"
	}
	return filepath.Join(dir, ".tabellad")
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the node version",
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), app.Version) },
	}
}

func newInitCmd() *cobra.Command {
	var (
		home, chainID, moniker, parties string
		grpcAddr, rpcAddr, p2pAddr      string
		genesisTime                     string
	)
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a node home: config, node and validator keys, genesis from a parties file",
		Example: `  # A party's validator: the parties file names this node's key as "self".
  tabellad init --home ~/.tabellad --chain-id aarhus-2026 --moniker city-council \
      --parties parties.yaml`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if parties == "" {
				return errors.New("--parties is required: a YAML file describing the consortium (see docs/operators.md)")
			}
			pf, err := app.LoadPartiesFile(parties)
			if err != nil {
				return err
			}
			if chainID == "" {
				chainID = pf.ChainID
			}
			if chainID == "" {
				return errors.New("--chain-id is required (or chain_id in the parties file)")
			}
			if _, err := os.Stat(filepath.Join(home, "config", "genesis.json")); err == nil {
				return fmt.Errorf("%s already has a genesis; refusing to overwrite it", home)
			}
			valKey, err := app.InitHome(app.HomeOptions{Home: home, Moniker: moniker, GRPCAddress: grpcAddr, RPCAddress: rpcAddr, P2PAddress: p2pAddr})
			if err != nil {
				return err
			}
			g, err := pf.Genesis(valKey)
			if err != nil {
				return err
			}
			gt := time.Now().UTC()
			if genesisTime != "" {
				if gt, err = time.Parse(time.RFC3339, genesisTime); err != nil {
					return fmt.Errorf("--genesis-time: %w", err)
				}
			}
			if err := app.WriteGenesis(home, chainID, gt, g); err != nil {
				return err
			}
			id, _ := app.NodeID(home)
			fmt.Fprintf(cmd.OutOrStdout(), "Initialised %s for chain %s\n  node id:       %s\n  validator key: %x\nStart it with: tabellad start --home %s\n", home, chainID, id, valKey, home)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&home, "home", defaultHome(), "node home directory")
	f.StringVar(&chainID, "chain-id", "", "chain id (default: chain_id from the parties file)")
	f.StringVar(&moniker, "moniker", "tabella-node", "node name shown to peers")
	f.StringVar(&parties, "parties", "", "parties YAML file describing the consortium")
	f.StringVar(&grpcAddr, "grpc", "127.0.0.1:9090", "gRPC API listen address")
	f.StringVar(&rpcAddr, "rpc", "tcp://127.0.0.1:26657", "CometBFT RPC listen address")
	f.StringVar(&p2pAddr, "p2p", "tcp://127.0.0.1:26656", "CometBFT P2P listen address")
	f.StringVar(&genesisTime, "genesis-time", "", "genesis time, RFC 3339 (default: now)")
	return cmd
}

func newStartCmd() *cobra.Command {
	var home string
	cmd := &cobra.Command{
		Use:     "start",
		Short:   "Start the node and serve the gRPC API until interrupted",
		Example: "  tabellad start --home ~/.tabellad",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runNode(ctx, home, nil)
		},
	}
	cmd.Flags().StringVar(&home, "home", defaultHome(), "node home directory")
	return cmd
}

// runNode starts a node and blocks until ctx ends; ready, if set, runs once
// the node is up.
func runNode(ctx context.Context, home string, ready func(*app.Node) error) error {
	n, err := app.OpenNode(home, nil)
	if err != nil {
		return err
	}
	// Process-wide settings, so the binary sets them, not the app package.
	if mib := n.Config().MemoryLimitMiB; mib > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(mib) << 20)
	}
	if pct := n.Config().GCPercent; pct > 0 && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(pct)
	}
	if err := n.Start(ctx); err != nil {
		_ = n.Stop()
		return err
	}
	var readyErr error
	if ready != nil {
		readyErr = ready(n)
	}
	if readyErr == nil {
		<-ctx.Done()
	}
	if err := n.Stop(); err != nil {
		return err
	}
	return readyErr
}

func newShowValidatorCmd() *cobra.Command {
	var home string
	cmd := &cobra.Command{
		Use:     "show-validator",
		Short:   "Print this node's consensus public key (hex), for a parties file or a set-validator proposal",
		Example: "  tabellad show-validator --home ~/.tabellad",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := app.ValidatorKey(home)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%x\n", k)
			return nil
		},
	}
	cmd.Flags().StringVar(&home, "home", defaultHome(), "node home directory")
	return cmd
}
