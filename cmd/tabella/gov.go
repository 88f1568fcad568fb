package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/tabella/tabella/client"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

func newGovCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{Use: "gov", Short: "Consortium governance: register or revoke organisers and issuers by dual majority"}

	var (
		key, party, id, action, target, name, pubkey string
		within                                       time.Duration
		noWait                                       bool
		power                                        int64
	)
	propose := &cobra.Command{
		Use:   "propose",
		Short: "Propose a governance action on behalf of your party (counts as your party's approval)",
		Example: `  tabella gov propose --key city-council-admin --party city-council --id add-school \
      --action register-issuer --target school-board --name "School Board" --pubkey 3b6a27bc...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := govAction(action, target, name, pubkey, power)
			if err != nil {
				return err
			}
			k, err := client.LoadKey(c.home, key)
			if err != nil {
				return err
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
			deadline := time.Unix(info.BlockTime, 0).Add(within).Unix()
			tx, err := client.GovProposeTx(info.ChainId, k.Private, party, id, deadline, a)
			if err != nil {
				return err
			}
			res, err := cl.Broadcast(ctx, tx, !noWait)
			if err != nil {
				return apiError(err)
			}
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "Proposal %s submitted by %s (deadline %s); it passes with a majority of government AND of civil-society parties.\n", id, party, fmtUnix(deadline))
			})
		},
	}
	pf := propose.Flags()
	pf.StringVar(&key, "key", "", "your party admin key name or key file")
	pf.StringVar(&party, "party", "", "your party id")
	pf.StringVar(&id, "id", "", "proposal id (unique)")
	pf.StringVar(&action, "action", "", "register-organiser, revoke-organiser, register-issuer, revoke-issuer or set-validator")
	pf.StringVar(&target, "target", "", "organiser or issuer id; for set-validator, the party id")
	pf.Int64Var(&power, "power", 10, "validator power (set-validator; 0 removes the party's validator)")
	pf.StringVar(&name, "name", "", "display name (register only)")
	pf.StringVar(&pubkey, "pubkey", "", "public key in hex (register, set-validator: the consensus key from `tabellad show-validator`)")
	pf.DurationVar(&within, "deadline", 7*24*time.Hour, "time until the proposal expires (block time)")
	pf.BoolVar(&noWait, "no-wait", false, "do not wait for the block")
	for _, r := range []string{"key", "party", "id", "action", "target"} {
		_ = propose.MarkFlagRequired(r)
	}

	var vKey, vParty string
	var reject, vNoWait bool
	vote := &cobra.Command{
		Use:     "vote PROPOSAL",
		Short:   "Approve (default) or reject a governance proposal for your party",
		Example: "  tabella gov vote add-school --key residents-union-admin --party residents-union",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := client.LoadKey(c.home, vKey)
			if err != nil {
				return err
			}
			cl, ctx, chainID, done, err := c.dialChain(cmd)
			if err != nil {
				return err
			}
			defer done()
			tx, err := client.GovVoteTx(chainID, k.Private, vParty, args[0], !reject)
			if err != nil {
				return err
			}
			if _, err := cl.Broadcast(ctx, tx, !vNoWait); err != nil {
				return apiError(err)
			}
			p, err := cl.GetGovProposal(ctx, &tabellav1.GetGovProposalRequest{Id: args[0]})
			if err != nil {
				return apiError(err)
			}
			return c.print(cmd.OutOrStdout(), p, func(w io.Writer) { printProposal(w, p.Proposal) })
		},
	}
	vote.Flags().StringVar(&vKey, "key", "", "your party admin key name or key file")
	vote.Flags().StringVar(&vParty, "party", "", "your party id")
	vote.Flags().BoolVar(&reject, "reject", false, "vote against")
	vote.Flags().BoolVar(&vNoWait, "no-wait", false, "do not wait for the block")
	_ = vote.MarkFlagRequired("key")
	_ = vote.MarkFlagRequired("party")

	show := &cobra.Command{
		Use:     "show PROPOSAL",
		Short:   "Show a governance proposal and its votes",
		Example: "  tabella gov show add-school",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, ctx, done, err := c.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			p, err := cl.GetGovProposal(ctx, &tabellav1.GetGovProposalRequest{Id: args[0]})
			if err != nil {
				return apiError(err)
			}
			return c.print(cmd.OutOrStdout(), p, func(w io.Writer) { printProposal(w, p.Proposal) })
		},
	}
	cmd.AddCommand(propose, vote, show)
	return cmd
}

func govAction(action, target, name, pubkey string, power int64) (*tabellav1.GovAction, error) {
	needKey := func() ([]byte, error) {
		if name == "" {
			return nil, fmt.Errorf("--name is required for %s", action)
		}
		k, err := client.ParsePublicKey(pubkey)
		if err != nil {
			return nil, fmt.Errorf("--pubkey: %w", err)
		}
		return k, nil
	}
	switch action {
	case "register-organiser":
		k, err := needKey()
		if err != nil {
			return nil, err
		}
		return &tabellav1.GovAction{Action: &tabellav1.GovAction_RegisterOrganiser{RegisterOrganiser: &tabellav1.RegisterOrganiser{Id: target, Name: name, PublicKey: k}}}, nil
	case "register-issuer":
		k, err := needKey()
		if err != nil {
			return nil, err
		}
		return &tabellav1.GovAction{Action: &tabellav1.GovAction_RegisterIssuer{RegisterIssuer: &tabellav1.RegisterIssuer{Id: target, Name: name, PublicKey: k}}}, nil
	case "revoke-organiser":
		return &tabellav1.GovAction{Action: &tabellav1.GovAction_RevokeOrganiser{RevokeOrganiser: &tabellav1.RevokeOrganiser{Id: target}}}, nil
	case "revoke-issuer":
		return &tabellav1.GovAction{Action: &tabellav1.GovAction_RevokeIssuer{RevokeIssuer: &tabellav1.RevokeIssuer{Id: target}}}, nil
	case "set-validator":
		k, err := client.ParsePublicKey(pubkey)
		if err != nil {
			return nil, fmt.Errorf("--pubkey: %w", err)
		}
		return &tabellav1.GovAction{Action: &tabellav1.GovAction_SetValidator{SetValidator: &tabellav1.SetValidator{PartyId: target, PublicKey: k, Power: power}}}, nil
	}
	return nil, fmt.Errorf("--action %q: use register-organiser, revoke-organiser, register-issuer, revoke-issuer or set-validator", action)
}

func printProposal(w io.Writer, p *tabellav1.GovProposal) {
	fmt.Fprintf(w, "Proposal %s by %s: %s\n  status:   %s\n  deadline: %s\n  votes:\n", p.Id, p.ProposerPartyId, describeAction(p.Action), trimEnum(p.Status.String()), fmtUnix(p.Deadline))
	for _, v := range p.Votes {
		fmt.Fprintf(w, "    %-20s %s (height %d)\n", v.PartyId, map[bool]string{true: "approve", false: "reject"}[v.Approve], v.Height)
	}
}

func describeAction(a *tabellav1.GovAction) string {
	switch x := a.GetAction().(type) {
	case *tabellav1.GovAction_RegisterOrganiser:
		return fmt.Sprintf("register organiser %s (%s)", x.RegisterOrganiser.Id, x.RegisterOrganiser.Name)
	case *tabellav1.GovAction_RevokeOrganiser:
		return "revoke organiser " + x.RevokeOrganiser.Id
	case *tabellav1.GovAction_RegisterIssuer:
		return fmt.Sprintf("register issuer %s (%s)", x.RegisterIssuer.Id, x.RegisterIssuer.Name)
	case *tabellav1.GovAction_RevokeIssuer:
		return "revoke issuer " + x.RevokeIssuer.Id
	case *tabellav1.GovAction_SetValidator:
		if x.SetValidator.Power == 0 {
			return "remove the validator of party " + x.SetValidator.PartyId
		}
		return fmt.Sprintf("set party %s's validator to %x with power %d", x.SetValidator.PartyId, x.SetValidator.PublicKey, x.SetValidator.Power)
	}
	return "unknown action"
}

func newPartiesCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "parties",
		Short:   "List the consortium parties, organisers and issuers",
		Example: "  tabella parties",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, ctx, done, err := c.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			res, err := cl.ListParties(ctx, &tabellav1.ListPartiesRequest{})
			if err != nil {
				return apiError(err)
			}
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintln(w, "Parties:")
				for _, p := range res.Parties {
					val := "no validator"
					if p.Validator != nil {
						val = fmt.Sprintf("validator power %d", p.Validator.Power)
					}
					fmt.Fprintf(w, "  %-20s %-14s %s (%s)\n", p.Id, trimEnum(p.Kind.String()), p.Name, val)
				}
				fmt.Fprintln(w, "Organisers:")
				for _, o := range res.Organisers {
					fmt.Fprintf(w, "  %-20s %s%s\n", o.Id, o.Name, map[bool]string{true: " (revoked)"}[o.Revoked])
				}
				fmt.Fprintln(w, "Issuers:")
				for _, is := range res.Issuers {
					fmt.Fprintf(w, "  %-20s %s%s\n", is.Id, is.Name, map[bool]string{true: " (revoked)"}[is.Revoked])
				}
			})
		},
	}
}

func newInfoCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "info",
		Short:   "Show the node's chain id, height and app hash",
		Example: "  tabella info --node 127.0.0.1:9090",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, ctx, done, err := c.dial(cmd)
			if err != nil {
				return err
			}
			defer done()
			res, err := cl.GetChainInfo(ctx, &tabellav1.GetChainInfoRequest{})
			if err != nil {
				return apiError(err)
			}
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "chain:    %s\nheight:   %d (block time %s)\napp hash: %X\nnode:     tabellad %s, CometBFT RPC %s\n", res.ChainId, res.Height, fmtUnix(res.BlockTime), res.AppHash, res.NodeVersion, res.RpcAddress)
			})
		},
	}
}
