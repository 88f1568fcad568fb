package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tabella/tabella/client"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// submitTx signs a tx built by build with the chain id, submits it and
// waits for its block unless noWait.
func (c *cli) submitTx(cmd *cobra.Command, noWait bool, build func(chainID string) ([]byte, error)) (*tabellav1.BroadcastTxResponse, *client.Client, func(), error) {
	cl, ctx, chainID, done, err := c.dialChain(cmd)
	if err != nil {
		return nil, nil, nil, err
	}
	tx, err := build(chainID)
	if err != nil {
		done()
		return nil, nil, nil, err
	}
	res, err := cl.Broadcast(ctx, tx, !noWait)
	if err != nil {
		done()
		return nil, nil, nil, apiError(err)
	}
	return res, cl, done, nil
}

func committedAt(w io.Writer, res *tabellav1.BroadcastTxResponse) {
	fmt.Fprintf(w, "  tx %s", strings.ToUpper(hex.EncodeToString(res.TxHash)))
	if res.Height > 0 {
		fmt.Fprintf(w, ", committed at height %d", res.Height)
	}
	fmt.Fprintln(w)
}

func newInitiativeCancelCmd(c *cli) *cobra.Command {
	var key, reason string
	var noWait bool
	cmd := &cobra.Command{
		Use:   "cancel ID --reason TEXT",
		Short: "Cancel an initiative before voting closes (for its organiser); the reason is recorded forever",
		Example: `  tabella initiative cancel aarhus-parks --key demo-city \
      --reason "Replaced by a consultation covering every district."`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := client.LoadKey(c.home, key)
			if err != nil {
				return err
			}
			res, _, done, err := c.submitTx(cmd, noWait, func(chainID string) ([]byte, error) {
				return client.CancelInitiativeTx(chainID, k.Private, args[0], reason)
			})
			if err != nil {
				return err
			}
			defer done()
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "Initiative %s cancelled: %s\n", args[0], reason)
				committedAt(w, res)
			})
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "the organiser's key name or key file")
	cmd.Flags().StringVar(&reason, "reason", "", "why the initiative is cancelled (required, at most 1,000 bytes)")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "do not wait for the block")
	_ = cmd.MarkFlagRequired("key")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

func newProposalCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "proposal",
		Short: "Submit, review and list the projects of a participatory budget",
		Example: `  tabella proposal submit --initiative pb-2027 --key alice --id playground --title "A playground" --cost 60000
  tabella proposal review playground --initiative pb-2027 --key city-council-admin --party city-council
  tabella proposal list --initiative pb-2027`,
	}

	var (
		sInitiative, sKey, sCred, sID, sTitle, sSummary, sURI, sSHA string
		sCost                                                       uint64
		sNoWait                                                     bool
	)
	submit := &cobra.Command{
		Use:   "submit",
		Short: "Submit a project in a budget's proposal window (with your key and credential)",
		Example: `  tabella proposal submit --initiative aarhus-neighbourhood-budget-2027 --key alice \
      --id north-playground --title "A playground in North Park" --cost 60000 \
      --summary "Swings, a climbing frame and a sandpit by the lake." \
      --document-uri https://example.org/playground.pdf --document-sha256 5f88af51...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, cred, err := c.loadVoter(sKey, sCred)
			if err != nil {
				return err
			}
			p := client.Proposal{ID: sID, Title: sTitle, Summary: sSummary, Cost: sCost, DocumentURI: sURI}
			if sSHA != "" {
				if p.DocumentSHA256, err = hex.DecodeString(sSHA); err != nil || len(p.DocumentSHA256) != 32 {
					return fmt.Errorf("--document-sha256: give the 64 hex digits of the document's SHA-256 (sha256sum FILE)")
				}
			}
			res, cl, done, err := c.submitTx(cmd, sNoWait, func(chainID string) ([]byte, error) {
				return client.SubmitProposalTx(chainID, k.Private, sInitiative, cred, p)
			})
			if err != nil {
				return err
			}
			defer done()
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "Proposal %s submitted to %s\n", sID, sInitiative)
				committedAt(w, res)
				if res.Height > 0 {
					ctx, cancel := c.ctx(cmd)
					defer cancel()
					if pr, err := cl.GetProposal(ctx, &tabellav1.GetProposalRequest{InitiativeId: sInitiative, ProposalId: sID}); err == nil {
						fmt.Fprintf(w, "  status: %s\n", trimProposal(pr.Proposal.Status))
					}
				}
			})
		},
	}
	sf := submit.Flags()
	sf.StringVar(&sInitiative, "initiative", "", "the budget's initiative id")
	sf.StringVar(&sKey, "key", "", "your key name or key file")
	sf.StringVar(&sCred, "credential", "", "credential file (default: <home>/credentials/<key>.json)")
	sf.StringVar(&sID, "id", "", "the proposal's id, unique in the initiative (a-z, 0-9, '.', '_', '-')")
	sf.StringVar(&sTitle, "title", "", "title (at most 200 bytes)")
	sf.StringVar(&sSummary, "summary", "", "summary (at most 2,000 bytes)")
	sf.Uint64Var(&sCost, "cost", 0, "cost in whole units of the budget's currency")
	sf.StringVar(&sURI, "document-uri", "", "where the full proposal lives (optional)")
	sf.StringVar(&sSHA, "document-sha256", "", "SHA-256 of that document in hex (required with --document-uri)")
	sf.BoolVar(&sNoWait, "no-wait", false, "do not wait for the block")
	for _, r := range []string{"initiative", "key", "id", "title", "cost"} {
		_ = submit.MarkFlagRequired(r)
	}

	var (
		rInitiative, rKey, rParty, rNote string
		rReject, rNoWait                 bool
	)
	review := &cobra.Command{
		Use:   "review PROPOSAL",
		Short: "Approve (default) or reject a proposal in the review window: for a party admin (dual review) or the organiser",
		Example: `  tabella proposal review north-playground --initiative aarhus-neighbourhood-budget-2027 \
      --key city-council-admin --party city-council
  tabella proposal review car-park --initiative aarhus-neighbourhood-budget-2027 \
      --key residents-union-admin --party residents-union --reject --note "Not a neighbourhood project."
  tabella proposal review bench --initiative school-budget --key demo-city   # organiser review`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := client.LoadKey(c.home, rKey)
			if err != nil {
				return err
			}
			res, cl, done, err := c.submitTx(cmd, rNoWait, func(chainID string) ([]byte, error) {
				return client.ReviewProposalTx(chainID, k.Private, rInitiative, args[0], rParty, !rReject, rNote)
			})
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := c.ctx(cmd)
			defer cancel()
			pr, err := cl.GetProposal(ctx, &tabellav1.GetProposalRequest{InitiativeId: rInitiative, ProposalId: args[0]})
			if err != nil {
				return apiError(err)
			}
			in, err := cl.GetInitiative(ctx, &tabellav1.GetInitiativeRequest{Id: rInitiative, Height: pr.Height})
			if err != nil {
				return apiError(err)
			}
			return c.print(cmd.OutOrStdout(), pr, func(w io.Writer) {
				fmt.Fprintf(w, "Review of %s recorded.\n", args[0])
				committedAt(w, res)
				printSubmission(w, pr.Proposal, in.Initiative)
			})
		},
	}
	rf := review.Flags()
	rf.StringVar(&rInitiative, "initiative", "", "initiative id")
	rf.StringVar(&rKey, "key", "", "your party admin key, or the organiser's key")
	rf.StringVar(&rParty, "party", "", "your party id (dual review); leave out for organiser review")
	rf.BoolVar(&rReject, "reject", false, "reject instead of approving")
	rf.StringVar(&rNote, "note", "", "a note explaining the decision (at most 1,000 bytes)")
	rf.BoolVar(&rNoWait, "no-wait", false, "do not wait for the block")
	_ = review.MarkFlagRequired("initiative")
	_ = review.MarkFlagRequired("key")

	cmd.AddCommand(submit, review, newProposalListCmd(c, "list", "List a budget's proposals with their status and reviews"), newProposalShowCmd(c))
	return cmd
}

func trimProposal(s tabellav1.ProposalStatus) string {
	return strings.TrimPrefix(s.String(), "PROPOSAL_STATUS_")
}

func newProposalListCmd(c *cli, use, short string) *cobra.Command {
	var initiative, statusName, pageToken string
	var limit uint32
	var height int64
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Example: `  tabella proposal list --initiative aarhus-neighbourhood-budget-2027
  tabella proposal list --initiative aarhus-neighbourhood-budget-2027 --status pending
  tabella candidate list --initiative aarhus-seniors-council-2027`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st := tabellav1.ProposalStatus_PROPOSAL_STATUS_UNSPECIFIED
			if statusName != "" {
				v, ok := tabellav1.ProposalStatus_value["PROPOSAL_STATUS_"+strings.ToUpper(statusName)]
				if !ok || v == 0 {
					return fmt.Errorf("--status %q: use pending, approved or rejected", statusName)
				}
				st = tabellav1.ProposalStatus(v)
			}
			cl, ctx, done, err := c.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			in, err := cl.GetInitiative(ctx, &tabellav1.GetInitiativeRequest{Id: initiative, Height: height})
			if err != nil {
				return apiError(err)
			}
			res, err := cl.ListProposals(ctx, &tabellav1.ListProposalsRequest{InitiativeId: initiative, Status: st, PageSize: limit, PageToken: pageToken, Height: in.Height})
			if err != nil {
				return apiError(err)
			}
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				if len(res.Proposals) == 0 {
					fmt.Fprintln(w, "No proposals.")
				}
				for _, p := range res.Proposals {
					printProposalLine(w, in.Initiative.Spec, in.Initiative.Status, p)
				}
				if res.NextPageToken != "" {
					fmt.Fprintf(w, "More: --page-token %s\n", res.NextPageToken)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&initiative, "initiative", "", "initiative id")
	f.StringVar(&statusName, "status", "", "only proposals with this status: pending, approved or rejected")
	f.Uint32Var(&limit, "limit", 100, "page size (at most 1000)")
	f.StringVar(&pageToken, "page-token", "", "continue after a previous page")
	f.Int64Var(&height, "height", 0, "read at this height (default: latest)")
	_ = cmd.MarkFlagRequired("initiative")
	return cmd
}

func newProposalShowCmd(c *cli) *cobra.Command {
	var initiative string
	var height int64
	cmd := &cobra.Command{
		Use:     "show PROPOSAL",
		Short:   "Show a proposal (or candidacy) with its reviews",
		Example: "  tabella proposal show north-playground --initiative aarhus-neighbourhood-budget-2027",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, ctx, done, err := c.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			in, err := cl.GetInitiative(ctx, &tabellav1.GetInitiativeRequest{Id: initiative, Height: height})
			if err != nil {
				return apiError(err)
			}
			pr, err := cl.GetProposal(ctx, &tabellav1.GetProposalRequest{InitiativeId: initiative, ProposalId: args[0], Height: in.Height})
			if err != nil {
				return apiError(err)
			}
			return c.print(cmd.OutOrStdout(), pr, func(w io.Writer) { printSubmission(w, pr.Proposal, in.Initiative) })
		},
	}
	cmd.Flags().StringVar(&initiative, "initiative", "", "initiative id")
	cmd.Flags().Int64Var(&height, "height", 0, "read at this height (default: latest)")
	_ = cmd.MarkFlagRequired("initiative")
	return cmd
}

// printSubmission prints one proposal in full; in may be nil.
func printSubmission(w io.Writer, p *tabellav1.Proposal, in *tabellav1.Initiative) {
	fmt.Fprintf(w, "%s — %s (submission %d to %s)\n", p.Id, p.Title, p.Number+1, p.InitiativeId)
	state := trimProposal(p.Status)
	if in != nil {
		state = proposalState(in.Status, p)
	} else if p.Status == tabellav1.ProposalStatus_PROPOSAL_STATUS_APPROVED {
		state = fmt.Sprintf("on the ballot as [%d]", p.OptionIndex)
	}
	fmt.Fprintf(w, "  status:      %s\n", state)
	if p.Summary != "" {
		fmt.Fprintf(w, "  summary:     %s\n", p.Summary)
	}
	if p.Cost > 0 {
		var b *tabellav1.Budget
		if in != nil {
			b = in.Spec.Budget
		}
		fmt.Fprintf(w, "  cost:        %s\n", money(p.Cost, b))
	}
	if p.DocumentUri != "" || len(p.DocumentSha256) > 0 {
		fmt.Fprintf(w, "  document:    %s (sha256 %x)\n", p.DocumentUri, p.DocumentSha256)
	}
	fmt.Fprintf(w, "  submitter:   %x (credential from %s), at height %d\n", p.Submitter, p.IssuerId, p.SubmittedHeight)
	for _, r := range p.Reviews {
		who := r.PartyId
		if who == "" {
			who = "organiser"
		}
		line := fmt.Sprintf("  review:      %s %s at height %d", who, map[bool]string{true: "approved", false: "rejected"}[r.Approve], r.Height)
		if r.Note != "" {
			line += fmt.Sprintf(": %q", r.Note)
		}
		fmt.Fprintln(w, line)
	}
	if p.DecidedHeight > 0 {
		fmt.Fprintf(w, "  decided at:  height %d\n", p.DecidedHeight)
	}
}

func newCandidateCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "candidate",
		Short: "Stand in an election, or list its candidacies",
		Example: `  tabella candidate register --initiative seniors-2027 --key bob --id bob-jensen --name "Bob Jensen"
  tabella candidate list --initiative seniors-2027`,
	}
	var initiative, key, credPath, id, name, statement string
	var noWait bool
	register := &cobra.Command{
		Use:   "register",
		Short: "Register yourself as a candidate in an election's candidacy window (with your key and credential)",
		Example: `  tabella candidate register --initiative aarhus-seniors-council-2027 --key bob \
      --id bob-jensen --name "Bob Jensen" --statement "Better bus connections for seniors."`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, cred, err := c.loadVoter(key, credPath)
			if err != nil {
				return err
			}
			res, _, done, err := c.submitTx(cmd, noWait, func(chainID string) ([]byte, error) {
				return client.RegisterCandidateTx(chainID, k.Private, initiative, cred, id, name, statement)
			})
			if err != nil {
				return err
			}
			defer done()
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "Candidacy %s (%s) registered in %s\n", id, name, initiative)
				committedAt(w, res)
			})
		},
	}
	f := register.Flags()
	f.StringVar(&initiative, "initiative", "", "the election's initiative id")
	f.StringVar(&key, "key", "", "your key name or key file")
	f.StringVar(&credPath, "credential", "", "credential file (default: <home>/credentials/<key>.json)")
	f.StringVar(&id, "id", "", "your option id on the ballot (a-z, 0-9, '.', '_', '-')")
	f.StringVar(&name, "name", "", "your name as voters will see it (at most 200 bytes)")
	f.StringVar(&statement, "statement", "", "a statement for voters (at most 2,000 bytes)")
	f.BoolVar(&noWait, "no-wait", false, "do not wait for the block")
	for _, r := range []string{"initiative", "key", "id", "name"} {
		_ = register.MarkFlagRequired(r)
	}
	cmd.AddCommand(register, newProposalListCmd(c, "list", "List an election's candidacies"))
	return cmd
}

func newPetitionCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "petition",
		Short: "Sign a petition or withdraw your signature",
		Example: `  tabella petition sign --initiative harbour-bath --key alice
  tabella petition withdraw --initiative harbour-bath --key alice`,
	}
	a := &ballotArgs{}
	sign := &cobra.Command{
		Use:     "sign",
		Short:   "Sign a petition with your key and credential (once)",
		Example: "  tabella petition sign --initiative aarhus-harbour-bath-all-year --key alice",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return c.castBallot(cmd, a, "signature") },
	}
	a.flags(sign, false)

	var initiative, key string
	var sequence uint64
	var noWait bool
	withdraw := &cobra.Command{
		Use:     "withdraw",
		Short:   "Withdraw your signature (or ballot) while it is open, where the initiative allows it",
		Example: `  tabella petition withdraw --initiative aarhus-harbour-bath-all-year --key alice`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := c.signingKey(initiative, key)
			if err != nil {
				return err
			}
			cl, ctx, chainID, done, err := c.dialChain(cmd)
			if err != nil {
				return err
			}
			defer done()
			seq := sequence
			if seq == 0 {
				if seq, err = nextSequence(ctx, cl, initiative, k.Public()); err != nil {
					return err
				}
			}
			tx, err := client.WithdrawBallotTx(chainID, k.Private, initiative, seq)
			if err != nil {
				return err
			}
			res, err := cl.Broadcast(ctx, tx, !noWait)
			if err != nil {
				return apiError(err)
			}
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "Withdrawn from %s (sequence %d); the withdrawn signature stays in the ledger's history\n", initiative, seq)
				committedAt(w, res)
			})
		},
	}
	wf := withdraw.Flags()
	wf.StringVar(&initiative, "initiative", "", "initiative id")
	wf.StringVar(&key, "key", "", "your key name or key file (in an anonymous initiative, the local name of your fresh key)")
	wf.Uint64Var(&sequence, "sequence", 0, "withdrawal sequence (default: one more than your live signature)")
	wf.BoolVar(&noWait, "no-wait", false, "do not wait for the block")
	_ = withdraw.MarkFlagRequired("initiative")
	_ = withdraw.MarkFlagRequired("key")
	cmd.AddCommand(sign, withdraw)
	return cmd
}

// ctx is a context bounded by --timeout.
func (c *cli) ctx(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), c.timeout)
}
