package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tabella/tabella/client"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

type keyView struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
}

func newKeysCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage ed25519 keys (voter, organiser, issuer, party admin)"}
	cmd.AddCommand(&cobra.Command{
		Use:     "add NAME",
		Short:   "Generate a key and store it in <home>/keys/NAME.json (mode 0600)",
		Example: "  tabella keys add alice",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := client.CreateKey(c.home, args[0])
			if err != nil {
				return err
			}
			return c.print(cmd.OutOrStdout(), keyView{k.Name, k.PublicHex()}, func(w io.Writer) {
				fmt.Fprintf(w, "Created key %s\npublic key: %s\nstored in:  %s\n", k.Name, k.PublicHex(), filepath.Join(client.KeysDir(c.home), k.Name+".json"))
			})
		},
	}, &cobra.Command{
		Use:     "list",
		Short:   "List the keys in <home>/keys",
		Example: "  tabella keys list",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys, err := client.ListKeys(c.home)
			if err != nil {
				return err
			}
			views := make([]keyView, len(keys))
			for i, k := range keys {
				views[i] = keyView{k.Name, k.PublicHex()}
			}
			return c.print(cmd.OutOrStdout(), views, func(w io.Writer) {
				if len(views) == 0 {
					fmt.Fprintf(w, "No keys in %s; create one with `tabella keys add NAME`.\n", client.KeysDir(c.home))
				}
				for _, v := range views {
					fmt.Fprintf(w, "%-24s %s\n", v.Name, v.PublicKey)
				}
			})
		},
	}, &cobra.Command{
		Use:     "show NAME",
		Short:   "Print a key's public key",
		Example: "  tabella keys show alice",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := client.LoadKey(c.home, args[0])
			if err != nil {
				return err
			}
			return c.print(cmd.OutOrStdout(), keyView{k.Name, k.PublicHex()}, func(w io.Writer) { fmt.Fprintln(w, k.PublicHex()) })
		},
	})
	return cmd
}

func newCredentialCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{Use: "credential", Short: "Issue voter credentials; anonymous tokens for issuers and voters"}
	var (
		issuerKey, issuerID, voter, out, chainID string
		attrs                                    []string
		validFor                                 time.Duration
	)
	issue := &cobra.Command{
		Use:   "issue",
		Short: "Sign a credential binding a voter's public key to attributes",
		Example: `  tabella credential issue --issuer-key registry --issuer-id demo-registry \
      --voter 6e91abb6...190a --attr age=67 --attr municipality=Aarhus --out bob.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := client.LoadKey(c.home, issuerKey)
			if err != nil {
				return err
			}
			vk, err := client.ParsePublicKey(voter)
			if err != nil {
				return fmt.Errorf("--voter: %w", err)
			}
			if chainID, err = c.chainID(cmd, chainID); err != nil {
				return err
			}
			cred := &tabellav1.Credential{IssuerId: issuerID, VoterPublicKey: vk, IssuedAt: time.Now().Unix(), ExpiresAt: time.Now().Add(validFor).Unix()}
			for _, a := range attrs {
				attr, err := client.ParseAttribute(a)
				if err != nil {
					return err
				}
				cred.Attributes = append(cred.Attributes, attr)
			}
			sc, err := client.IssueCredential(chainID, k.Private, cred)
			if err != nil {
				return err
			}
			if out == "" {
				out = strings.ToLower(voter[:12]) + ".credential.json"
			}
			if err := client.SaveCredential(out, sc); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Credential for %s… written to %s (valid until %s)\n", voter[:12], out, time.Unix(cred.ExpiresAt, 0).UTC().Format(time.RFC3339))
			return nil
		},
	}
	f := issue.Flags()
	f.StringVar(&issuerKey, "issuer-key", "", "issuer's key name or key file")
	f.StringVar(&issuerID, "issuer-id", "", "issuer id registered on the ledger")
	f.StringVar(&voter, "voter", "", "voter's public key (hex)")
	f.StringArrayVar(&attrs, "attr", nil, "attribute name=value (repeatable); integers are stored as integers")
	f.DurationVar(&validFor, "valid-for", 365*24*time.Hour, "validity from now")
	f.StringVar(&out, "out", "", "output file (default: <voter prefix>.credential.json)")
	f.StringVar(&chainID, "chain-id", "", "chain id (default: ask --node)")
	for _, req := range []string{"issuer-key", "issuer-id", "voter"} {
		_ = issue.MarkFlagRequired(req)
	}
	cmd.AddCommand(issue, newBlindKeyCmd(c), newIssueBlindCmd(c), newRequestCmd(c), newFinalizeCmd(c))
	return cmd
}
