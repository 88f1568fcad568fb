package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tabella/tabella/client"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// trusteeArgs are the flags every trustee command shares.
type trusteeArgs struct {
	initiative, party, key string
	noWait                 bool
}

func (a *trusteeArgs) flags(cmd *cobra.Command, withInitiative bool) {
	f := cmd.Flags()
	if withInitiative {
		f.StringVar(&a.initiative, "initiative", "", "sealed initiative id")
		_ = cmd.MarkFlagRequired("initiative")
	}
	f.StringVar(&a.party, "party", "", "your party id (a trustee)")
	f.StringVar(&a.key, "key", "", "your party admin key name or key file")
	f.BoolVar(&a.noWait, "no-wait", false, "do not wait for the block")
	_ = cmd.MarkFlagRequired("party")
	_ = cmd.MarkFlagRequired("key")
}

// trusteeSession is what a trustee command works with.
type trusteeSession struct {
	cl      *client.Client
	ctx     context.Context
	chainID string
	admin   *client.Key
	secret  *client.TrusteeSecret
	done    func()
}

func (c *cli) trusteeSession(cmd *cobra.Command, a *trusteeArgs) (*trusteeSession, error) {
	admin, err := client.LoadKey(c.home, a.key)
	if err != nil {
		return nil, err
	}
	secret, err := client.LoadTrusteeSecret(c.home, a.party)
	if err != nil {
		return nil, err
	}
	cl, ctx, chainID, done, err := c.dialChain(cmd)
	if err != nil {
		return nil, err
	}
	return &trusteeSession{cl: cl, ctx: ctx, chainID: chainID, admin: admin, secret: secret, done: done}, nil
}

// trustee reads the initiative and its sealed record and sets up the
// party's role in it.
func (s *trusteeSession) trustee(a *trusteeArgs) (*client.Trustee, *tabellav1.GetSealedResponse, error) {
	in, err := s.cl.GetInitiative(s.ctx, &tabellav1.GetInitiativeRequest{Id: a.initiative})
	if err != nil {
		return nil, nil, apiError(err)
	}
	sd, err := s.cl.GetSealed(s.ctx, &tabellav1.GetSealedRequest{InitiativeId: a.initiative, Height: in.Height})
	if err != nil {
		return nil, nil, apiError(err)
	}
	tr, err := client.NewTrustee(s.chainID, in.Initiative.Spec, sd.State, a.party, s.secret)
	if err != nil {
		return nil, nil, err
	}
	return tr, sd, nil
}

func (s *trusteeSession) send(tx []byte, wait bool) (*tabellav1.BroadcastTxResponse, error) {
	res, err := s.cl.Broadcast(s.ctx, tx, wait)
	if err != nil {
		return nil, apiError(err)
	}
	return res, nil
}

func newTrusteeCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trustee",
		Short: "Key ceremony and decryption of sealed initiatives (for trustee parties)",
		Long: `A sealed initiative's ballots are encrypted to a joint key of its trustees,
consortium parties from both sides. Each trustee party:

  1. once:   tabella trustee keygen --party P     (secret kept in <home>/trustee/P.key)
             tabella trustee register --party P --key ADMIN
  2. deals before the initiative's deals_close:      tabella trustee deal ...
  3. checks its shares before complaints_close:      tabella trustee complain ...
  4. after voting closes, decrypts the closing tally: tabella trustee decrypt ...

Any threshold of trustees recovers the counts; fewer learn nothing.`,
	}

	var kgParty string
	keygen := &cobra.Command{
		Use:     "keygen",
		Short:   "Create your party's trustee secret in <home>/trustee/PARTY.key (mode 0600)",
		Example: "  tabella trustee keygen --party city-council",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := client.CreateTrusteeSecret(c.home, kgParty)
			if err != nil {
				return err
			}
			pub := hex.EncodeToString(s.Public())
			return c.print(cmd.OutOrStdout(), map[string]string{"party": kgParty, "public_key": pub}, func(w io.Writer) {
				fmt.Fprintf(w, "Trustee secret of %s stored in %s\npublic key: %s\nregister it: tabella trustee register --party %s --key <admin key>\n", kgParty, client.TrusteeSecretPath(c.home, kgParty), pub, kgParty)
			})
		},
	}
	keygen.Flags().StringVar(&kgParty, "party", "", "your party id")
	_ = keygen.MarkFlagRequired("party")

	reg := &trusteeArgs{}
	register := &cobra.Command{
		Use:     "register",
		Short:   "Register your party's trustee key on the ledger (creates the secret on first use)",
		Example: "  tabella trustee register --party city-council --key city-council-admin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := client.LoadTrusteeSecret(c.home, reg.party); err != nil {
				if _, err := client.CreateTrusteeSecret(c.home, reg.party); err != nil {
					return err
				}
			}
			s, err := c.trusteeSession(cmd, reg)
			if err != nil {
				return err
			}
			defer s.done()
			tx, err := client.RegisterTrusteeKeyTx(s.chainID, s.admin.Private, reg.party, s.secret.Public())
			if err != nil {
				return err
			}
			res, err := s.send(tx, !reg.noWait)
			if err != nil {
				return err
			}
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "Trustee key of %s registered: %x\nSealed initiatives created from now on that name %s as a trustee use it.\n", reg.party, s.secret.Public(), reg.party)
			})
		},
	}
	reg.flags(register, false)

	da := &trusteeArgs{}
	deal := &cobra.Command{
		Use:     "deal",
		Short:   "Post your party's deal in a sealed initiative's key ceremony",
		Example: "  tabella trustee deal --initiative pb-2027 --party city-council --key city-council-admin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := c.trusteeSession(cmd, da)
			if err != nil {
				return err
			}
			defer s.done()
			tr, _, err := s.trustee(da)
			if err != nil {
				return err
			}
			d, err := tr.Deal(rand.Reader)
			if err != nil {
				return err
			}
			tx, err := client.TrusteeDealTx(s.chainID, s.admin.Private, da.initiative, da.party, d)
			if err != nil {
				return err
			}
			res, err := s.send(tx, !da.noWait)
			if err != nil {
				return err
			}
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "Deal of %s (trustee %d) posted in %s (tx %X)\nNext: after the deal window, `tabella trustee complain` checks the shares others sent you.\n", da.party, tr.Index, da.initiative, res.TxHash)
			})
		},
	}
	da.flags(deal, true)

	ca := &trusteeArgs{}
	complain := &cobra.Command{
		Use:     "complain",
		Short:   "Check the shares other trustees sent you and complain about every wrong one",
		Example: "  tabella trustee complain --initiative pb-2027 --party city-council --key city-council-admin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := c.trusteeSession(cmd, ca)
			if err != nil {
				return err
			}
			defer s.done()
			tr, sd, err := s.trustee(ca)
			if err != nil {
				return err
			}
			cs, err := tr.Complaints(rand.Reader, sd.Deals)
			if err != nil {
				return err
			}
			var hashes []string
			for _, cp := range cs {
				tx, err := client.TrusteeComplaintTx(s.chainID, s.admin.Private, ca.initiative, ca.party, cp)
				if err != nil {
					return err
				}
				res, err := s.send(tx, !ca.noWait)
				if err != nil {
					return err
				}
				hashes = append(hashes, fmt.Sprintf("%X", res.TxHash))
			}
			return c.print(cmd.OutOrStdout(), map[string]any{"checked": len(sd.Deals), "complaints": hashes}, func(w io.Writer) {
				if len(cs) == 0 {
					fmt.Fprintf(w, "Checked %d deals: every share sent to %s matches its dealer's commitments. No complaint.\n", len(sd.Deals), ca.party)
					return
				}
				fmt.Fprintf(w, "Checked %d deals: %d complaints posted (%s)\n", len(sd.Deals), len(cs), strings.Join(hashes, ", "))
			})
		},
	}
	ca.flags(complain, true)

	xa := &trusteeArgs{}
	decrypt := &cobra.Command{
		Use:     "decrypt",
		Short:   "Post your party's decryption share of a closed sealed initiative's tally",
		Example: "  tabella trustee decrypt --initiative pb-2027 --party city-council --key city-council-admin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := c.trusteeSession(cmd, xa)
			if err != nil {
				return err
			}
			defer s.done()
			tr, sd, err := s.trustee(xa)
			if err != nil {
				return err
			}
			tally, err := s.cl.GetTally(s.ctx, &tabellav1.GetTallyRequest{InitiativeId: xa.initiative, Height: sd.Height})
			if err != nil {
				return apiError(err)
			}
			if tally.Status != tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSING {
				return fmt.Errorf("initiative %s is %s: trustees decrypt only the closing tally, once voting has closed", xa.initiative, trimEnum(tally.Status.String()))
			}
			share, err := tr.DecryptionShare(rand.Reader, sd.State, sd.Deals, tally.Tally.Encrypted)
			if err != nil {
				return err
			}
			tx, err := client.DecryptionShareTx(s.chainID, s.admin.Private, xa.initiative, xa.party, share)
			if err != nil {
				return err
			}
			res, err := s.send(tx, !xa.noWait)
			if err != nil {
				return err
			}
			return c.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "Decryption share of %s (trustee %d) posted in %s (tx %X); %d of %d needed shares are in.\n", xa.party, tr.Index, xa.initiative, res.TxHash, len(sd.State.Shared)+1, sd.State.Threshold)
			})
		},
	}
	xa.flags(decrypt, true)

	cmd.AddCommand(keygen, register, deal, complain, decrypt)
	return cmd
}
