package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tabella/tabella/client"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// trustFlags are the ways to name a trust root.
type trustFlags struct {
	genesis     string
	trustHeight int64
	trustHash   string
	rpc         string
	witnesses   []string
}

func (f *trustFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.genesis, "genesis", "", "the chain's genesis.json: its validators are the trust root (default: <home>/config/genesis.json or <home>/genesis.json)")
	fl.Int64Var(&f.trustHeight, "trust-height", 0, "height of a header you trust (with --trust-hash), instead of genesis")
	fl.StringVar(&f.trustHash, "trust-hash", "", "hash of that header (hex)")
	fl.StringVar(&f.rpc, "rpc", "", "CometBFT RPC address of the node for the light client (default: the address --node reports)")
	fl.StringArrayVar(&f.witnesses, "witness", nil, "CometBFT RPC address of another node that cross-checks headers (repeatable)")
}

// trustRoot loads the genesis validators.
func (f *trustFlags) trustRoot(home string) (*client.TrustRoot, error) {
	path := f.genesis
	if path == "" {
		for _, p := range []string{filepath.Join(home, "config", "genesis.json"), filepath.Join(home, "genesis.json")} {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		return nil, errors.New("no trust root: pass --genesis with the chain's genesis.json (publish it with the chain; anyone can compare it)")
	}
	return client.TrustFromGenesis(path)
}

func (f *trustFlags) light(ctx context.Context, c *cli, cl *client.Client, trust *client.TrustRoot) (*client.LightVerifier, error) {
	rpc := f.rpc
	if rpc == "" {
		info, err := cl.GetChainInfo(ctx, &tabellav1.GetChainInfoRequest{})
		if err != nil {
			return nil, apiError(err)
		}
		rpc = info.RpcAddress
	}
	o := client.LightOptions{Primary: rpc, Witnesses: f.witnesses, Genesis: trust, ChainID: trust.ChainID}
	if f.trustHeight != 0 {
		h, err := hex.DecodeString(f.trustHash)
		if err != nil || len(h) != 32 {
			return nil, errors.New("--trust-hash must be a 32-byte header hash in hex")
		}
		o.TrustHeight, o.TrustHash = f.trustHeight, h
	}
	return client.NewLightVerifier(ctx, o)
}

func newReceiptCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{Use: "receipt", Short: "Get, verify and check vote receipts"}

	var tf trustFlags
	var online bool
	verify := &cobra.Command{
		Use:   "verify FILE",
		Short: "Prove that your ballot is recorded, unaltered and counted",
		Long: `Verify a receipt.

Offline (the default) it needs no network: it checks that validators trusted by
genesis (more than two thirds of the power) signed the header, that the header's
app hash is the root of the receipt's Merkle proof, that the proof holds your
ballot, and that the ballot carries your signature.

Online (--online, --rpc or --witness) it also verifies the header with
CometBFT's light client from the trust root, cross-checked by witnesses, and
proves at the latest height that your ballot is still the live one, with the
initiative's tally.`,
		Example: `  tabella receipt verify receipt.json --genesis genesis.json
  tabella receipt verify receipt.json --genesis genesis.json --online --witness http://observer.example:26657`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			r, err := client.LoadReceipt(args[0])
			if err != nil {
				return verdictFail(out, err)
			}
			trust, err := tf.trustRoot(c.home)
			if err != nil {
				return err
			}
			if !online && tf.rpc == "" && len(tf.witnesses) == 0 && tf.trustHeight == 0 {
				v, err := r.VerifyOffline(trust)
				if err != nil {
					return verdictFail(out, err)
				}
				printOffline(out, r, v.Ballot, v.Header.Height, v.Header.AppHash)
				return nil
			}
			cl, ctx, done, err := c.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			lv, err := tf.light(ctx, c, cl, trust)
			if err != nil {
				return verdictFail(out, err)
			}
			ov, err := client.VerifyOnline(ctx, r, cl, lv, trust)
			if err != nil {
				return verdictFail(out, err)
			}
			printOffline(out, r, ov.Offline.Ballot, ov.Offline.Header.Height, ov.Offline.Header.AppHash)
			fmt.Fprintf(out, "✔ The header was verified by the light client from the trust root.\n")
			if ov.Live {
				fmt.Fprintf(out, "✔ At height %d your ballot is still the live one: it is the one counted.\n", ov.Now.Height)
			} else {
				fmt.Fprintf(out, "• At height %d your live ballot is a later one (sequence %d, hash %X): that one is counted.\n", ov.Now.Height, ov.Now.Ballot.Sequence, ov.Now.Ballot.BallotHash)
			}
			printProvenTally(out, ov.Now)
			return nil
		},
	}
	tf.register(verify)
	verify.Flags().BoolVar(&online, "online", false, "also verify with the light client and prove the ballot is still live")

	var initiative, voter, outPath string
	get := &cobra.Command{
		Use:     "get",
		Short:   "Fetch a fresh receipt at the latest provable height",
		Example: "  tabella receipt get --initiative aarhus-parks --voter alice --out alice.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			vk, err := voterKey(c, initiative, voter)
			if err != nil {
				return err
			}
			cl, ctx, done, err := c.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			res, err := cl.GetReceipt(ctx, &tabellav1.GetReceiptRequest{InitiativeId: initiative, Voter: vk})
			if err != nil {
				return apiError(err)
			}
			r, err := client.ReceiptFromResponse(initiative, vk, res)
			if err != nil {
				return err
			}
			if outPath == "" {
				outPath = fmt.Sprintf("%s-%s-%d.receipt.json", initiative, hex.EncodeToString(vk[:4]), r.Sequence)
			}
			if err := r.Save(outPath); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Receipt for sequence %d (ballot %X) at height %d written to %s\n", r.Sequence, []byte(r.BallotHash), r.Height, outPath)
			return nil
		},
	}
	get.Flags().StringVar(&initiative, "initiative", "", "initiative id")
	get.Flags().StringVar(&voter, "voter", "", "voter public key (hex) or key name")
	get.Flags().StringVar(&outPath, "out", "", "output file")
	_ = get.MarkFlagRequired("initiative")
	_ = get.MarkFlagRequired("voter")

	var ctf trustFlags
	var cInitiative, cVoter string
	check := &cobra.Command{
		Use:   "check",
		Short: "Prove whether a voter has a ballot recorded (an absence proof when not)",
		Long: `Ask the node for proof, verified against a light-client-verified header, of
whether the voter's key has a ballot in the initiative. For a voter who was told
"accepted" by a portal: a proof of absence shows the ballot never reached the ledger.`,
		Example: "  tabella receipt check --initiative aarhus-parks --voter 6e91abb6...190a --genesis genesis.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			vk, err := voterKey(c, cInitiative, cVoter)
			if err != nil {
				return err
			}
			trust, err := ctf.trustRoot(c.home)
			if err != nil {
				return err
			}
			cl, ctx, done, err := c.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			lv, err := ctf.light(ctx, c, cl, trust)
			if err != nil {
				return verdictFail(out, err)
			}
			ps, err := client.ProveState(ctx, cl, lv, trust.ChainID, cInitiative, vk)
			if err != nil {
				return verdictFail(out, err)
			}
			if ps.Initiative == nil {
				return verdictFail(out, fmt.Errorf("initiative %q does not exist at height %d (proven absent)", cInitiative, ps.Height))
			}
			if ps.Ballot == nil {
				fmt.Fprintf(out, "✘ PROVEN ABSENT: no ballot from %x is recorded in %s at height %d.\n  The node proved it with a non-membership proof against app hash %X, in a header the light client verified.\n", vk, cInitiative, ps.Height, ps.Header.AppHash)
				return errAbsent
			}
			sel := fmt.Sprintf("selections %v", ps.Ballot.Selections)
			if ps.Ballot.Sealed {
				sel = "sealed selections"
			}
			fmt.Fprintf(out, "✔ RECORDED: the ballot of %x in %s (sequence %d, %s, hash %X) is in the state of height %d,\n  proven against a header the light client verified.\n", vk, cInitiative, ps.Ballot.Sequence, sel, ps.Ballot.BallotHash, ps.Height)
			printProvenTally(out, ps)
			return nil
		},
	}
	ctf.register(check)
	check.Flags().StringVar(&cInitiative, "initiative", "", "initiative id")
	check.Flags().StringVar(&cVoter, "voter", "", "voter public key (hex) or key name")
	_ = check.MarkFlagRequired("initiative")
	_ = check.MarkFlagRequired("voter")

	cmd.AddCommand(verify, get, check)
	return cmd
}

var errAbsent = errors.New("no ballot is recorded for this voter")

// voterKey resolves --voter: a hex public key, or a key name (in an
// anonymous initiative, the name of the voter's fresh key for it).
func voterKey(c *cli, initiative, s string) ([]byte, error) {
	if vk, err := client.ParsePublicKey(s); err == nil {
		return vk, nil
	}
	k, err := c.signingKey(initiative, s)
	if err != nil {
		return nil, fmt.Errorf("--voter %q is neither a hex public key nor a key name: %w", s, err)
	}
	return k.Public(), nil
}

func verdictFail(w io.Writer, err error) error {
	var ve *client.VerifyError
	if errors.As(err, &ve) {
		fmt.Fprintf(w, "✘ VERIFICATION FAILED (%s check): %v\n", ve.Check, ve.Err)
		return fmt.Errorf("verification failed: %s", ve.Check)
	}
	fmt.Fprintf(w, "✘ VERIFICATION FAILED: %v\n", err)
	return err
}

func printOffline(w io.Writer, r *client.Receipt, b *tabellav1.BallotRecord, headerHeight int64, appHash []byte) {
	fmt.Fprintf(w, "✔ Your ballot is recorded and unaltered.\n")
	fmt.Fprintf(w, "  initiative %s, voter %x\n", r.InitiativeID, []byte(r.Voter))
	sel := fmt.Sprintf("selections %v", b.GetSelections())
	if b.GetSealed() {
		sel = "sealed (encrypted) selections"
	}
	fmt.Fprintf(w, "  ballot %X, sequence %d, %s, recorded at height %d\n", []byte(r.BallotHash), r.Sequence, sel, r.BallotHeight)
	fmt.Fprintf(w, "  proven in the state of height %d (app hash %X),\n  which header %d commits to, signed by more than two thirds of the trusted validators.\n", r.Height, appHash, headerHeight)
	if b.GetSealed() {
		fmt.Fprintf(w, "  the ballot carries your signature over exactly these encrypted selections and their proofs; it is counted in the encrypted tally.\n")
		return
	}
	fmt.Fprintf(w, "  the ballot carries your signature over exactly these selections.\n")
}

func printProvenTally(w io.Writer, ps *client.ProvenState) {
	if ps.Initiative == nil || ps.Tally == nil {
		return
	}
	s := ps.Initiative.Spec
	fmt.Fprintf(w, "  %s is %s at height %d; proven tally: ", s.Id, trimEnum(ps.Initiative.Status.String()), ps.Height)
	var parts []string
	for i, n := range ps.Tally.Counts {
		parts = append(parts, fmt.Sprintf("%s %d", optionID(s, uint32(i)), n))
	}
	if len(parts) == 0 {
		parts = append(parts, "(counts not included: too many options, or hidden until voting closes)")
	}
	fmt.Fprintf(w, "%s; turnout %d\n", strings.Join(parts, ", "), ps.Tally.Turnout)
	if r := ps.Initiative.Result; r != nil {
		printResult(w, s, r)
	}
}

// writeVoteReceipt waits until the ballot is provable and saves a receipt.
func writeVoteReceipt(ctx context.Context, cl *client.Client, initiative string, voter []byte, txHash []byte, height int64, path string) (*client.Receipt, error) {
	stream, err := cl.WatchTx(ctx, &tabellav1.WatchTxRequest{TxHash: txHash})
	if err != nil {
		return nil, apiError(err)
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			return nil, fmt.Errorf("waiting for the ballot to become provable: %s", client.Describe(err))
		}
		if ev.Stage == tabellav1.TxStage_TX_STAGE_PROVABLE {
			break
		}
		if ev.Stage == tabellav1.TxStage_TX_STAGE_REJECTED {
			return nil, fmt.Errorf("the ballot was rejected in block %d: %s", ev.Height, ev.Log)
		}
	}
	res, err := cl.GetReceipt(ctx, &tabellav1.GetReceiptRequest{InitiativeId: initiative, Voter: voter, Height: height})
	if err != nil {
		return nil, apiError(err)
	}
	r, err := client.ReceiptFromResponse(initiative, voter, res)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return r, r.Save(path)
}
