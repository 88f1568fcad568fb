package main

import (
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
	cmd := &cobra.Command{Use: "initiative", Short: "Create, show and list initiatives"}

	var key, organiser string
	var dryRun, noWait bool
	var file string
	create := &cobra.Command{
		Use:   "create --file SPEC.yaml",
		Short: "Validate a spec file and create the initiative (for organisers)",
		Example: `  tabella initiative create --file parks.yaml --organiser demo-city --key demo-city
  tabella initiative create --file parks.yaml --dry-run   # only validate`,
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
		Short:   "Show an initiative: options, schedule, eligibility, status and result",
		Example: "  tabella initiative show aarhus-parks",
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
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) { printInitiative(w, res.Initiative) })
		},
	}
	show.Flags().Int64Var(&height, "height", 0, "read at this height (default: latest)")

	var statusName, pageToken string
	var limit uint32
	list := &cobra.Command{
		Use:     "list",
		Short:   "List initiatives, optionally by status",
		Example: "  tabella initiative list --status voting",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st := tabellav1.InitiativeStatus_INITIATIVE_STATUS_UNSPECIFIED
			if statusName != "" {
				v, ok := tabellav1.InitiativeStatus_value["INITIATIVE_STATUS_"+strings.ToUpper(statusName)]
				if !ok {
					return fmt.Errorf("--status %q: use scheduled, voting, closed or cancelled", statusName)
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
					fmt.Fprintf(w, "%-24s %-10s %s\n", in.Spec.Id, trimEnum(in.Status.String()), in.Spec.Title)
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

	cmd.AddCommand(create, show, list)
	return cmd
}

func trimEnum(s string) string {
	for _, p := range []string{"INITIATIVE_STATUS_", "INITIATIVE_KIND_", "GOV_STATUS_", "PARTY_KIND_"} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

func fmtUnix(t int64) string { return time.Unix(t, 0).UTC().Format(time.RFC3339) }

func printInitiative(w io.Writer, in *tabellav1.Initiative) {
	s := in.Spec
	fmt.Fprintf(w, "%s — %s\n", s.Id, s.Title)
	fmt.Fprintf(w, "  kind:        %s, by organiser %s\n", trimEnum(s.Kind.String()), in.OrganiserId)
	fmt.Fprintf(w, "  status:      %s\n", trimEnum(in.Status.String()))
	fmt.Fprintf(w, "  voting:      %s → %s (block time)\n", fmtUnix(s.Schedule.VotingOpensAt), fmtUnix(s.Schedule.VotingClosesAt))
	if s.Summary != "" {
		fmt.Fprintf(w, "  summary:     %s\n", s.Summary)
	}
	if s.DocumentUri != "" {
		fmt.Fprintf(w, "  document:    %s (sha256 %x)\n", s.DocumentUri, s.DocumentSha256)
	}
	fmt.Fprintf(w, "  ballot:      choose %d to %d; revoting %s\n", s.Ballot.MinSelections, s.Ballot.MaxSelections, map[bool]string{true: "allowed", false: "not allowed"}[s.Ballot.RevotingAllowed])
	var rules []string
	for _, p := range s.Eligibility.Predicates {
		rules = append(rules, ledger.FormatPredicate(p))
	}
	fmt.Fprintf(w, "  eligibility: credentials from %s", strings.Join(s.Eligibility.IssuerIds, ", "))
	if len(rules) > 0 {
		fmt.Fprintf(w, "; %s", strings.Join(rules, " and "))
	}
	fmt.Fprintln(w)
	if q := s.GetResultRule().GetQuorum(); q > 0 {
		fmt.Fprintf(w, "  quorum:      %d ballots\n", q)
	}
	fmt.Fprintln(w, "  options:")
	for i, o := range s.Options {
		fmt.Fprintf(w, "    [%d] %-12s %s\n", i, o.Id, o.Title)
	}
	if r := in.Result; r != nil {
		printResult(w, s, r)
	}
}

func printResult(w io.Writer, s *tabellav1.InitiativeSpec, r *tabellav1.Result) {
	var names []string
	for _, i := range r.Winners {
		names = append(names, s.Options[i].Id)
	}
	winner := "none"
	if len(names) > 0 {
		winner = strings.Join(names, ", ")
		if len(names) > 1 {
			winner += " (tie)"
		}
	}
	fmt.Fprintf(w, "  result:      closed at height %d: winner %s; turnout %d; quorum %s\n", r.ClosedHeight, winner, r.Turnout, map[bool]string{true: "met", false: "NOT met"}[r.QuorumMet])
}

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
	return out, nil
}

func newVoteCmd(c *cli) *cobra.Command {
	var (
		initiative, key, credPath string
		options                   []string
		sequence                  uint64
		noWait, noReceipt         bool
		receiptPath               string
	)
	cmd := &cobra.Command{
		Use:   "vote",
		Short: "Sign and cast a ballot with your key and credential",
		Example: `  tabella vote --initiative aarhus-parks --key alice --option north
  tabella vote --initiative aarhus-parks --key alice --option riverside   # revote, if allowed`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := client.LoadKey(c.home, key)
			if err != nil {
				return err
			}
			if credPath == "" {
				credPath = filepath.Join(c.home, "credentials", k.Name+".json")
			}
			cred, err := client.LoadCredential(credPath)
			if err != nil {
				return fmt.Errorf("credential: %w (pass --credential FILE)", err)
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
			in, err := cl.GetInitiative(ctx, &tabellav1.GetInitiativeRequest{Id: initiative})
			if err != nil {
				return apiError(err)
			}
			sel, err := optionIndexes(in.Initiative.Spec, options)
			if err != nil {
				return err
			}
			if sequence == 0 {
				sequence = 1
				prev, err := cl.GetBallot(ctx, &tabellav1.GetBallotRequest{InitiativeId: initiative, Voter: k.Public()})
				switch {
				case err == nil:
					sequence = prev.Ballot.Sequence + 1
				case status.Code(err) != codes.NotFound:
					return apiError(err)
				}
			}
			tx, err := client.BallotTx(info.ChainId, k.Private, initiative, cred, sel, sequence)
			if err != nil {
				return err
			}
			res, err := cl.Broadcast(ctx, tx, !noWait)
			if err != nil {
				return apiError(err)
			}
			if res.Height > 0 && !noReceipt {
				if receiptPath == "" {
					receiptPath = filepath.Join(c.home, "receipts", fmt.Sprintf("%s-%s-%d.json", initiative, k.Name, sequence))
				}
				if _, err := writeVoteReceipt(ctx, cl, initiative, k.Public(), res.TxHash, res.Height, receiptPath); err != nil {
					return fmt.Errorf("the ballot is committed at height %d, but the receipt could not be written: %w (fetch one later with `tabella receipt get`)", res.Height, err)
				}
			} else {
				receiptPath = ""
			}
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "Ballot recorded for %s (sequence %d)\n  ballot hash: %s\n", initiative, sequence, strings.ToUpper(hex.EncodeToString(res.TxHash)))
				if res.Height > 0 {
					fmt.Fprintf(w, "  committed at height %d\n", res.Height)
				}
				if receiptPath != "" {
					fmt.Fprintf(w, "  receipt:     %s\n  verify it:   tabella receipt verify %s\n", receiptPath, receiptPath)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&initiative, "initiative", "", "initiative id")
	f.StringVar(&key, "key", "", "your key name or key file")
	f.StringVar(&credPath, "credential", "", "credential file (default: <home>/credentials/<key>.json)")
	f.StringArrayVar(&options, "option", nil, "option id or index (repeat for several)")
	f.Uint64Var(&sequence, "sequence", 0, "ballot sequence (default: one more than your live ballot)")
	f.BoolVar(&noWait, "no-wait", false, "return once the node accepted the ballot, before it is committed (no receipt)")
	f.BoolVar(&noReceipt, "no-receipt", false, "do not wait for and write a receipt")
	f.StringVar(&receiptPath, "receipt", "", "receipt file (default: <home>/receipts/<initiative>-<key>-<sequence>.json)")
	for _, r := range []string{"initiative", "key", "option"} {
		_ = cmd.MarkFlagRequired(r)
	}
	return cmd
}

func newTallyCmd(c *cli) *cobra.Command {
	var height int64
	cmd := &cobra.Command{
		Use:     "tally ID",
		Short:   "Show an initiative's running tally, or its frozen result once closed",
		Example: "  tabella tally aarhus-parks",
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
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				s := in.Initiative.Spec
				fmt.Fprintf(w, "%s — %s (%s, height %d)\n", s.Id, s.Title, trimEnum(res.Status.String()), res.Height)
				for i, n := range res.Tally.Counts {
					fmt.Fprintf(w, "  %-14s %8d\n", s.Options[i].Id, n)
				}
				fmt.Fprintf(w, "  turnout %d voters, %d ballots cast (revotes included)\n", res.Tally.Turnout, res.Tally.BallotsCast)
				if res.Result != nil {
					printResult(w, s, res.Result)
				}
			})
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
			vk, err := client.ParsePublicKey(voter)
			if err != nil {
				// Accept a key name too.
				k, kerr := client.LoadKey(c.home, voter)
				if kerr != nil {
					return fmt.Errorf("--voter: %w", err)
				}
				vk = k.Public()
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
				fmt.Fprintf(w, "Ballot of %x in %s\n  sequence:    %d\n  selections:  %v\n  issuer:      %s\n  ballot hash: %X\n  recorded at: height %d\n", b.Voter, b.InitiativeId, b.Sequence, b.Selections, b.IssuerId, b.BallotHash, b.Height)
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
