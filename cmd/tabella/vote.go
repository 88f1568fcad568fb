package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

func newInitiativeCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "initiative",
		Short: "Create, show, list and cancel initiatives",
		Example: `  tabella initiative create --file docs/examples/election.yaml --dry-run
  tabella initiative show aarhus-parks
  tabella initiative list --status voting`,
	}

	var key, organiser string
	var dryRun, noWait bool
	var file string
	create := &cobra.Command{
		Use:   "create --file SPEC.yaml",
		Short: "Validate a spec file and create the initiative (for organisers)",
		Example: `  tabella initiative create --file parks.yaml --organiser demo-city --key demo-city
  tabella initiative create --file parks.yaml --dry-run   # only validate
  tabella initiative create --file docs/examples/budget.yaml --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			if dryRun {
				if _, err := client.ParseSpec(data, time.Now()); err != nil {
					return fmt.Errorf("%s: %w", file, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s is valid\n", file)
				return nil
			}
			cl, ctx, done, err := c.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			info, err := cl.GetChainInfo(ctx, &tabellav1.GetChainInfoRequest{})
			if err != nil {
				return apiError(err)
			}
			// Relative times count from the chain's clock, not this machine's.
			spec, err := client.ParseSpec(data, time.Unix(info.BlockTime, 0))
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			k, err := client.LoadKey(c.home, key)
			if err != nil {
				return err
			}
			tx, err := client.CreateInitiativeTx(info.ChainId, k.Private, organiser, spec)
			if err != nil {
				return err
			}
			res, err := cl.Broadcast(ctx, tx, !noWait)
			if err != nil {
				return apiError(err)
			}
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "Initiative %s created (tx %X", spec.Id, res.TxHash)
				if res.Height > 0 {
					fmt.Fprintf(w, ", height %d", res.Height)
				}
				fmt.Fprintln(w, ")")
			})
		},
	}
	create.Flags().StringVarP(&file, "file", "f", "", "initiative spec (YAML, see docs/initiatives.md)")
	create.Flags().StringVar(&key, "key", "", "organiser's key name or key file")
	create.Flags().StringVar(&organiser, "organiser", "", "organiser id registered on the ledger")
	create.Flags().BoolVar(&dryRun, "dry-run", false, "validate the file only; no node needed")
	create.Flags().BoolVar(&noWait, "no-wait", false, "return once the node accepted the tx, before it is committed")
	_ = create.MarkFlagRequired("file")

	var height int64
	show := &cobra.Command{
		Use:     "show ID",
		Short:   "Show an initiative: rules, lifecycle, options, proposals and result",
		Example: "  tabella initiative show aarhus-parks\n  tabella initiative show aarhus-parks --height 120   # as it was at height 120",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, ctx, done, err := c.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			res, err := cl.GetInitiative(ctx, &tabellav1.GetInitiativeRequest{Id: args[0], Height: height})
			if err != nil {
				return apiError(err)
			}
			tally, err := cl.GetTally(ctx, &tabellav1.GetTallyRequest{InitiativeId: args[0], Height: res.Height})
			if err != nil {
				return apiError(err)
			}
			var props *tabellav1.ListProposalsResponse
			if res.Initiative.Spec.Proposals != nil {
				if props, err = cl.ListProposals(ctx, &tabellav1.ListProposalsRequest{InitiativeId: args[0], Height: res.Height, PageSize: 50}); err != nil {
					return apiError(err)
				}
			}
			var sd *tabellav1.GetSealedResponse
			if ledger.Sealed(res.Initiative.Spec) {
				if sd, err = cl.GetSealed(ctx, &tabellav1.GetSealedRequest{InitiativeId: args[0], Height: res.Height}); err != nil {
					return apiError(err)
				}
			}
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				printInitiative(w, res.Initiative, tally.Tally, props.GetProposals(), props.GetNextPageToken() != "")
				if sd != nil {
					printSealed(w, res.Initiative.Spec, sd)
				}
			})
		},
	}
	show.Flags().Int64Var(&height, "height", 0, "read at this height (default: latest)")

	var statusName, pageToken string
	var limit uint32
	list := &cobra.Command{
		Use:     "list",
		Short:   "List initiatives, optionally by status",
		Example: "  tabella initiative list\n  tabella initiative list --status voting",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st := tabellav1.InitiativeStatus_INITIATIVE_STATUS_UNSPECIFIED
			if statusName != "" {
				v, ok := tabellav1.InitiativeStatus_value["INITIATIVE_STATUS_"+strings.ToUpper(statusName)]
				if !ok {
					return fmt.Errorf("--status %q: use scheduled, proposals, review, voting, closing, closed or cancelled", statusName)
				}
				st = tabellav1.InitiativeStatus(v)
			}
			cl, ctx, done, err := c.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			res, err := cl.ListInitiatives(ctx, &tabellav1.ListInitiativesRequest{Status: st, PageSize: limit, PageToken: pageToken})
			if err != nil {
				return apiError(err)
			}
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				if len(res.Initiatives) == 0 {
					fmt.Fprintln(w, "No initiatives.")
				}
				for _, in := range res.Initiatives {
					fmt.Fprintf(w, "%-24s %-12s %-10s %s\n", in.Spec.Id, trimEnum(in.Spec.Kind.String()), trimEnum(in.Status.String()), in.Spec.Title)
				}
				if res.NextPageToken != "" {
					fmt.Fprintf(w, "More: --page-token %s\n", res.NextPageToken)
				}
			})
		},
	}
	list.Flags().StringVar(&statusName, "status", "", "only initiatives with this status")
	list.Flags().Uint32Var(&limit, "limit", 50, "page size (at most 500)")
	list.Flags().StringVar(&pageToken, "page-token", "", "continue after a previous page")

	cmd.AddCommand(create, show, list, newInitiativeCancelCmd(c))
	return cmd
}

func trimEnum(s string) string {
	for _, p := range []string{"INITIATIVE_STATUS_", "INITIATIVE_KIND_", "GOV_STATUS_", "PARTY_KIND_"} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

func fmtUnix(t int64) string { return time.Unix(t, 0).UTC().Format(time.RFC3339) }

// optionIndexes resolves --option values given as ids or indexes.
func optionIndexes(spec *tabellav1.InitiativeSpec, opts []string) ([]uint32, error) {
	var out []uint32
	for _, o := range opts {
		found := false
		for i, opt := range spec.Options {
			if opt.Id == o {
				out = append(out, uint32(i))
				found = true
				break
			}
		}
		if found {
			continue
		}
		n, err := strconv.ParseUint(o, 10, 32)
		if err != nil || int(n) >= len(spec.Options) {
			var ids []string
			for _, opt := range spec.Options {
				ids = append(ids, opt.Id)
			}
			return nil, fmt.Errorf("--option %q: not an option of %s (options: %s)", o, spec.Id, strings.Join(ids, ", "))
		}
		out = append(out, uint32(n))
	}
	seen := map[uint32]bool{}
	for _, i := range out {
		if seen[i] {
			return nil, fmt.Errorf("--option: %s is selected twice", optionID(spec, i))
		}
		seen[i] = true
	}
	return out, nil
}

// ballotArgs are the flags of a ballot or a petition signature.
type ballotArgs struct {
	initiative, key, credPath string
	options                   []string
	sequence                  uint64
	noWait, noReceipt         bool
	receiptPath               string
}

func (a *ballotArgs) flags(cmd *cobra.Command, withOptions bool) {
	f := cmd.Flags()
	f.StringVar(&a.initiative, "initiative", "", "initiative id")
	f.StringVar(&a.key, "key", "", "your key name or key file; in an anonymous initiative, the local name of your fresh key (default \"default\")")
	f.StringVar(&a.credPath, "credential", "", "credential file (default: <home>/credentials/<key>.json)")
	if withOptions {
		f.StringArrayVar(&a.options, "option", nil, "option id or index (repeat for several; none for a petition)")
	}
	f.Uint64Var(&a.sequence, "sequence", 0, "ballot sequence (default: one more than your live ballot)")
	f.BoolVar(&a.noWait, "no-wait", false, "return once the node accepted the ballot, before it is committed (no receipt)")
	f.BoolVar(&a.noReceipt, "no-receipt", false, "do not wait for and write a receipt")
	f.StringVar(&a.receiptPath, "receipt", "", "receipt file (default: <home>/receipts/<initiative>-<key>-<sequence>.json)")
	_ = cmd.MarkFlagRequired("initiative")
}

// loadVoter loads a key and the credential that goes with it.
func (c *cli) loadVoter(key, credPath string) (*client.Key, *tabellav1.SignedCredential, error) {
	k, err := client.LoadKey(c.home, key)
	if err != nil {
		return nil, nil, err
	}
	if credPath == "" {
		credPath = filepath.Join(c.home, "credentials", k.Name+".json")
	}
	cred, err := client.LoadCredential(credPath)
	if err != nil {
		return nil, nil, fmt.Errorf("credential: %w (pass --credential FILE)", err)
	}
	return k, cred, nil
}

// nextSequence is one more than the voter's live ballot (or withdrawal),
// or 1.
func nextSequence(ctx context.Context, cl *client.Client, initiative string, voter []byte) (uint64, error) {
	prev, err := cl.GetBallot(ctx, &tabellav1.GetBallotRequest{InitiativeId: initiative, Voter: voter})
	switch {
	case err == nil:
		return prev.Ballot.Sequence + 1, nil
	case status.Code(err) != codes.NotFound:
		return 0, apiError(err)
	}
	return 1, nil
}

// castBallot signs and submits a ballot (a petition signature when it
// selects nothing), and writes a receipt once it is provable.
func (c *cli) castBallot(cmd *cobra.Command, a *ballotArgs, what string) error {
	cl, ctx, done, err := c.dial(cmd)
	if err != nil {
		return err
	}
	defer done()
	info, err := cl.GetChainInfo(ctx, &tabellav1.GetChainInfoRequest{})
	if err != nil {
		return apiError(err)
	}
	in, err := cl.GetInitiative(ctx, &tabellav1.GetInitiativeRequest{Id: a.initiative})
	if err != nil {
		return apiError(err)
	}
	// An anonymous initiative takes the fresh key and its token from
	// `credential request` and `finalize`; a public one a key and its
	// credential.
	var (
		k     *client.Key
		cred  *tabellav1.SignedCredential
		token *tabellav1.AnonymousToken
	)
	if ledger.Anonymous(in.Initiative.Spec) {
		if a.credPath != "" {
			return fmt.Errorf("initiative %s is anonymous: it takes the token from `tabella credential finalize`, not --credential", a.initiative)
		}
		if k, token, err = c.anonymousVoter(a.initiative, a.key); err != nil {
			return err
		}
	} else {
		if a.key == "" {
			return fmt.Errorf("--key is required: the key your credential certifies")
		}
		if k, cred, err = c.loadVoter(a.key, a.credPath); err != nil {
			return err
		}
	}
	petition := kindOf(in.Initiative) == tabellav1.InitiativeKind_INITIATIVE_KIND_PETITION
	if !petition && len(a.options) == 0 {
		return fmt.Errorf("--option is required: choose at least one option of %s (tabella initiative show %s lists them)", a.initiative, a.initiative)
	}
	sel, err := optionIndexes(in.Initiative.Spec, a.options)
	if err != nil {
		return err
	}
	seq := a.sequence
	if seq == 0 {
		if seq, err = nextSequence(ctx, cl, a.initiative, k.Public()); err != nil {
			return err
		}
	}
	var tx []byte
	sealedMode := ledger.Sealed(in.Initiative.Spec)
	switch {
	case sealedMode:
		// Encrypt to the joint key and prove the ballot valid for this
		// voter key: the selections never leave this machine in clear.
		sd, err := cl.GetSealed(ctx, &tabellav1.GetSealedRequest{InitiativeId: a.initiative})
		if err != nil {
			return apiError(err)
		}
		ballot, err := client.SealBallot(rand.Reader, info.ChainId, sd.State, k.Public(), sel)
		if err != nil {
			return err
		}
		tx, err = client.SealedBallotTx(info.ChainId, k.Private, a.initiative, cred, token, ballot, seq)
		if err != nil {
			return err
		}
	case token != nil:
		tx, err = client.AnonymousBallotTx(info.ChainId, k.Private, a.initiative, token, sel, seq)
	default:
		tx, err = client.BallotTx(info.ChainId, k.Private, a.initiative, cred, sel, seq)
	}
	if err != nil {
		return err
	}
	res, err := cl.Broadcast(ctx, tx, !a.noWait)
	if err != nil {
		return apiError(err)
	}
	receiptPath := a.receiptPath
	if res.Height > 0 && !a.noReceipt {
		if receiptPath == "" {
			receiptPath = filepath.Join(c.home, "receipts", fmt.Sprintf("%s-%s-%d.json", a.initiative, k.Name, seq))
		}
		if _, err := writeVoteReceipt(ctx, cl, a.initiative, k.Public(), res.TxHash, res.Height, receiptPath); err != nil {
			return fmt.Errorf("the %s is committed at height %d, but the receipt could not be written: %w (fetch one later with `tabella receipt get`)", what, res.Height, err)
		}
	} else {
		receiptPath = ""
	}
	return c.print(cmd.OutOrStdout(), res, func(w io.Writer) {
		if petition {
			fmt.Fprintf(w, "Signature recorded for %s (sequence %d)\n  ballot hash: %s\n", a.initiative, seq, strings.ToUpper(hex.EncodeToString(res.TxHash)))
		} else {
			fmt.Fprintf(w, "Ballot recorded for %s (sequence %d)\n  ballot hash: %s\n", a.initiative, seq, strings.ToUpper(hex.EncodeToString(res.TxHash)))
		}
		if token != nil {
			fmt.Fprintf(w, "  voter key:   %x (your fresh key for this initiative)\n", []byte(k.Public()))
		}
		if sealedMode {
			fmt.Fprintf(w, "  sealed:      your selections are encrypted to the trustees' joint key; only the closing tally is decrypted\n")
		}
		if res.Height > 0 {
			fmt.Fprintf(w, "  committed at height %d\n", res.Height)
		}
		if receiptPath != "" {
			fmt.Fprintf(w, "  receipt:     %s\n  verify it:   tabella receipt verify %s\n", receiptPath, receiptPath)
		}
	})
}

func newVoteCmd(c *cli) *cobra.Command {
	a := &ballotArgs{}
	cmd := &cobra.Command{
		Use:   "vote",
		Short: "Sign and cast a ballot with your key and credential",
		Example: `  tabella vote --initiative aarhus-parks --key alice --option north
  tabella vote --initiative aarhus-parks --key alice --option riverside   # revote, if allowed
  tabella vote --initiative pb-2027 --key alice --option playground --option benches
  tabella vote --initiative harbour-bath --key alice                      # sign a petition`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return c.castBallot(cmd, a, "ballot") },
	}
	a.flags(cmd, true)
	return cmd
}

func newTallyCmd(c *cli) *cobra.Command {
	var height int64
	cmd := &cobra.Command{
		Use:     "tally ID",
		Short:   "Show an initiative's running tally, or its frozen result once closed",
		Example: "  tabella tally aarhus-parks\n  tabella -o json tally aarhus-parks",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, ctx, done, err := c.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			res, err := cl.GetTally(ctx, &tabellav1.GetTallyRequest{InitiativeId: args[0], Height: height})
			if err != nil {
				return apiError(err)
			}
			in, err := cl.GetInitiative(ctx, &tabellav1.GetInitiativeRequest{Id: args[0], Height: res.Height})
			if err != nil {
				return apiError(err)
			}
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) { printTally(w, in.Initiative.Spec, res) })
		},
	}
	cmd.Flags().Int64Var(&height, "height", 0, "read at this height (default: latest)")
	return cmd
}

func newBallotCmd(c *cli) *cobra.Command {
	var initiative, voter string
	var height int64
	cmd := &cobra.Command{
		Use:     "ballot",
		Short:   "Show the live ballot of a voter",
		Example: "  tabella ballot --initiative aarhus-parks --voter 6e91abb6...190a",
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
			res, err := cl.GetBallot(ctx, &tabellav1.GetBallotRequest{InitiativeId: initiative, Voter: vk, Height: height})
			if err != nil {
				return apiError(err)
			}
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				b := res.Ballot
				sel := fmt.Sprint(b.Selections)
				if b.Sealed {
					sel = "sealed (encrypted; counted in the encrypted tally)"
				}
				fmt.Fprintf(w, "Ballot of %x in %s\n  sequence:    %d\n  selections:  %s\n  issuer:      %s\n  ballot hash: %X\n  recorded at: height %d\n", b.Voter, b.InitiativeId, b.Sequence, sel, b.IssuerId, b.BallotHash, b.Height)
			})
		},
	}
	cmd.Flags().StringVar(&initiative, "initiative", "", "initiative id")
	cmd.Flags().StringVar(&voter, "voter", "", "voter public key (hex) or key name")
	cmd.Flags().Int64Var(&height, "height", 0, "read at this height (default: latest)")
	_ = cmd.MarkFlagRequired("initiative")
	_ = cmd.MarkFlagRequired("voter")
	return cmd
}
