// Command tabella is the Tabella CLI for citizens, portals, organisers,
// issuers, consortium parties and auditors.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tabella/tabella/client"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

// cli holds the global flags.
type cli struct {
	node    string
	home    string
	output  string
	timeout time.Duration
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func newRootCmd() *cobra.Command {
	c := &cli{}
	root := &cobra.Command{
		Use:           "tabella",
		Short:         "Vote, verify and administer initiatives on a Tabella ledger",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if c.output != "text" && c.output != "json" {
				return fmt.Errorf("--output %q: use text or json", c.output)
			}
			return nil
		},
	}
	home := filepath.Join(os.Getenv("HOME"), ".tabella")
	pf := root.PersistentFlags()
	pf.StringVar(&c.node, "node", envOr("TABELLA_NODE", "127.0.0.1:9090"), "gRPC address of a Tabella node ($TABELLA_NODE)")
	pf.StringVar(&c.home, "home", envOr("TABELLA_HOME", home), "directory holding keys/ and credentials/ ($TABELLA_HOME)")
	pf.StringVarP(&c.output, "output", "o", "text", "output format: text or json")
	pf.DurationVar(&c.timeout, "timeout", 60*time.Second, "how long to wait for the node")
	root.AddCommand(
		newKeysCmd(c),
		newCredentialCmd(c),
		newInitiativeCmd(c),
		newVoteCmd(c),
		newProposalCmd(c),
		newCandidateCmd(c),
		newPetitionCmd(c),
		newTallyCmd(c),
		newBallotCmd(c),
		newGovCmd(c),
		newPartiesCmd(c),
		newInfoCmd(c),
		newReceiptCmd(c),
		newAuditCmd(c),
		newTrusteeCmd(c),
		newBenchCmd(c),
	)
	return root
}

// dial connects to --node and returns a context bounded by --timeout.
func (c *cli) dial(cmd *cobra.Command) (*client.Client, context.Context, context.CancelFunc, error) {
	cl, err := client.Dial(c.node)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), c.timeout)
	return cl, ctx, func() { cancel(); cl.Close() }, nil
}

// dialChain dials the node and reads its chain id, which every tx signs:
// the start of each command that submits a tx.
func (c *cli) dialChain(cmd *cobra.Command) (*client.Client, context.Context, string, context.CancelFunc, error) {
	cl, ctx, done, err := c.dial(cmd)
	if err != nil {
		return nil, nil, "", nil, err
	}
	chainID, err := cl.ChainID(ctx)
	if err != nil {
		done()
		return nil, nil, "", nil, apiError(err)
	}
	return cl, ctx, chainID, done, nil
}

// print writes v as JSON with --output json, else calls text.
func (c *cli) print(w io.Writer, v any, text func(io.Writer)) error {
	if c.output == "json" {
		var b []byte
		var err error
		if m, ok := v.(proto.Message); ok {
			b, err = protojson.MarshalOptions{Indent: "  ", EmitUnpopulated: true}.Marshal(m)
		} else {
			b, err = json.MarshalIndent(v, "", "  ")
		}
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	}
	text(w)
	return nil
}

// apiError turns a gRPC error into a readable one.
func apiError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s", client.Describe(err))
}
