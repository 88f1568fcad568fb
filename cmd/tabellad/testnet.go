package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tabella/tabella/app"
)

func newTestnetCmd() *cobra.Command {
	var (
		parties, output, chainID string
		basePort                 int
		blockTime                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "testnet",
		Short: "Generate a local multi-party network: one validator per party, observers, a shared genesis",
		Long: `Generate node homes for a local network from a parties file: one validator
node per party (equal power unless the file says otherwise), one node per
observer, and a genesis holding the consortium. Keys the file leaves out (party
admins, organisers, issuers) are generated under <output>/keys, so the CLI can
use them with --home <output>. Node i listens on 127.0.0.1 at base-port+10i
(P2P), +1 (CometBFT RPC), +2 (gRPC) and +3 (Prometheus). <output>/network.json
describes the result; scripts/localnet.sh starts and stops it.`,
		Example: `  tabellad testnet --parties testnet/parties.yaml --output testnet/out
  scripts/localnet.sh start testnet/out     # or: make localnet`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pf, err := app.LoadPartiesFile(parties)
			if err != nil {
				return err
			}
			net, err := app.GenerateTestnet(app.TestnetOptions{Parties: pf, Output: output, ChainID: chainID, BasePort: basePort, BlockTime: blockTime})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Generated chain %s in %s\n", net.ChainID, output)
			for _, n := range net.Nodes {
				role := "validator of " + n.PartyID
				if !n.Validator {
					role = "observer"
				}
				fmt.Fprintf(w, "  %-22s %-30s gRPC %s  RPC %s\n", n.Name, role, n.GRPCAddr(), n.RPCAddr())
			}
			fmt.Fprintf(w, "Start it with: scripts/localnet.sh start %s\n", output)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&parties, "parties", "testnet/parties.yaml", "parties YAML file")
	f.StringVar(&output, "output", "testnet/out", "output directory")
	f.StringVar(&chainID, "chain-id", "", "chain id (default: the parties file's)")
	f.IntVar(&basePort, "base-port", 27000, "first port; each node uses ten from here")
	f.DurationVar(&blockTime, "block-time", time.Second, "pause after each block (timeout_commit)")
	return cmd
}
