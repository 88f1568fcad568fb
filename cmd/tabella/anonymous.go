package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// Anonymous voting (docs/anonymous-voting.md): the issuer makes a blind
// key per initiative (blind-key) and blind-signs requests (issue-blind);
// the voter makes a fresh key and a blinded request (request), turns the
// answer into a token (finalize), and votes with both (vote).

// defaultAnonName is the local name of a voter's anonymous key when --key
// is not given.
const defaultAnonName = "default"

// chainID returns --chain-id, or asks the node.
func (c *cli) chainID(cmd *cobra.Command, given string) (string, error) {
	if given != "" {
		return given, nil
	}
	cl, ctx, done, err := c.dial(cmd)
	if err != nil {
		return "", err
	}
	defer done()
	id, err := cl.ChainID(ctx)
	if err != nil {
		return "", fmt.Errorf("ask the node for the chain id (or pass --chain-id): %s", client.Describe(err))
	}
	return id, nil
}

func newBlindKeyCmd(c *cli) *cobra.Command {
	var issuerKey, issuerID, initiative, chainID, out string
	var bits int
	cmd := &cobra.Command{
		Use:   "blind-key",
		Short: "Make an issuer's RSA blind-signing key for one anonymous initiative and print its attested registration for the spec file",
		Long: `Makes an RSA key (RFC 9474 blind signatures) with which the issuer will
blind-sign this initiative's anonymous tokens, stores it in
<home>/blind-keys/<initiative>/<issuer>.json (mode 0600), and prints the
blind_keys entry the organiser adds to the initiative's spec file: the
public key and the issuer's ed25519 attestation of it, which the ledger
checks against the issuer's registered key.`,
		Example: `  tabella credential blind-key --issuer-key demo-registry --issuer-id demo-registry \
      --initiative harbour-poll --out registry-blind-key.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := client.LoadKey(c.home, issuerKey)
			if err != nil {
				return err
			}
			if chainID, err = c.chainID(cmd, chainID); err != nil {
				return err
			}
			f, err := client.CreateBlindKey(c.home, chainID, initiative, issuerID, k.Private, bits)
			if err != nil {
				return err
			}
			entry := client.BlindKeyYAML(f.Registration())
			if out != "" {
				if err := os.WriteFile(out, []byte("blind_keys:\n"+entry), 0o644); err != nil {
					return err
				}
			}
			return c.print(cmd.OutOrStdout(), f.Registration(), func(w io.Writer) {
				fmt.Fprintf(w, "# Blind key of %s for %s (%d bits), stored in %s.\n", issuerID, initiative, bits, client.BlindKeyPath(c.home, initiative, issuerID))
				fmt.Fprintf(w, "# Give the organiser this entry for the spec's blind_keys list (secrecy: anonymous):\n")
				fmt.Fprint(w, "blind_keys:\n"+entry)
				if out != "" {
					fmt.Fprintf(w, "# (also written to %s)\n", out)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&issuerKey, "issuer-key", "", "the issuer's ed25519 key name or key file (its registered key: it attests the RSA key)")
	f.StringVar(&issuerID, "issuer-id", "", "issuer id registered on the ledger")
	f.StringVar(&initiative, "initiative", "", "the anonymous initiative's id (chosen by the organiser; the key is for it alone)")
	f.IntVar(&bits, "bits", client.DefaultBlindKeyBits, fmt.Sprintf("RSA modulus size, %d to %d", ledger.MinBlindKeyBits, ledger.MaxBlindKeyBits))
	f.StringVar(&chainID, "chain-id", "", "chain id (default: ask --node)")
	f.StringVar(&out, "out", "", "also write the blind_keys entry to this file")
	for _, r := range []string{"issuer-key", "issuer-id", "initiative"} {
		_ = cmd.MarkFlagRequired(r)
	}
	return cmd
}

func newIssueBlindCmd(c *cli) *cobra.Command {
	var issuerID, initiative, person, request, out string
	cmd := &cobra.Command{
		Use:   "issue-blind",
		Short: "Blind-sign a voter's token request, at most once per person and initiative (for issuers)",
		Long: `Blind-signs a request made by ` + "`tabella credential request`" + ` with the issuer's
blind key for the initiative. Check the person's eligibility first: the
token carries no attributes. The person id (e.g. a national id number) is
recorded, as a keyed hash, in <home>/blind-keys/<initiative>/<issuer>.issued.json;
a second, different request for the same person is refused. The blinded
request shows nothing of the voter's key, so the issuer cannot link the
token it signs to the ballot it will be used for.`,
		Example: `  tabella credential issue-blind --issuer-id demo-registry --initiative harbour-poll \
      --person 0101901234 --request ann.request.json --out ann.response.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var req client.BlindRequest
			if err := client.ReadJSONFile(request, &req); err != nil {
				return fmt.Errorf("request: %w", err)
			}
			resp, err := client.IssueBlind(c.home, initiative, issuerID, person, &req, time.Now())
			if err != nil {
				return err
			}
			if out == "" {
				out = strings.TrimSuffix(strings.TrimSuffix(request, ".json"), ".request") + ".response.json"
			}
			if err := client.WriteJSONFile(out, resp); err != nil {
				return err
			}
			n, err := client.IssuedCount(c.home, initiative, issuerID)
			if err != nil {
				return err
			}
			return c.print(cmd.OutOrStdout(), map[string]any{"response": out, "issued": n}, func(w io.Writer) {
				fmt.Fprintf(w, "Blind signature for %s written to %s; the person is recorded as served (%d served so far).\n", initiative, out, n)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&issuerID, "issuer-id", "", "issuer id registered on the ledger")
	f.StringVar(&initiative, "initiative", "", "the anonymous initiative's id")
	f.StringVar(&person, "person", "", "the person's identifier in the issuer's register (checked eligible by you)")
	f.StringVar(&request, "request", "", "the voter's request file")
	f.StringVar(&out, "out", "", "answer file (default: the request's name with .response.json)")
	for _, r := range []string{"issuer-id", "initiative", "person", "request"} {
		_ = cmd.MarkFlagRequired(r)
	}
	return cmd
}

func newRequestCmd(c *cli) *cobra.Command {
	var initiative, issuer, name, out string
	cmd := &cobra.Command{
		Use:   "request",
		Short: "Make a fresh key for an anonymous initiative and a blinded token request for the issuer (for voters)",
		Long: `Makes a fresh ed25519 key for one anonymous initiative, blinds the token
message for it under the issuer's blind key as registered in the initiative
(read from the ledger, so every voter blinds under the same key), and writes
the request to send to the issuer. The key and the blinding secret stay in
<home>/anonymous/<initiative>/<key>.json. Once the issuer answers, run
` + "`tabella credential finalize`" + `.`,
		Example: `  tabella credential request --initiative harbour-poll --issuer demo-registry --key ann`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, ctx, chainID, done, err := c.dialChain(cmd)
			if err != nil {
				return err
			}
			defer done()
			res, err := cl.GetInitiative(ctx, &tabellav1.GetInitiativeRequest{Id: initiative})
			if err != nil {
				return apiError(err)
			}
			spec := res.Initiative.Spec
			if !ledger.Anonymous(spec) {
				return fmt.Errorf("initiative %s is not anonymous: vote with your key and credential (tabella vote)", initiative)
			}
			var bk *tabellav1.BlindKey
			var issuers []string
			for _, k := range spec.BlindKeys {
				issuers = append(issuers, k.IssuerId)
				if k.IssuerId == issuer {
					bk = k
				}
			}
			if bk == nil {
				return fmt.Errorf("initiative %s takes tokens from %s, not from %q", initiative, strings.Join(issuers, ", "), issuer)
			}
			// The ledger checked the attestation at creation; checking it
			// again here means a lying node cannot hand this voter a key
			// of its own choosing (to single the voter out).
			parties, err := cl.ListParties(ctx, &tabellav1.ListPartiesRequest{Height: res.Height})
			if err != nil {
				return apiError(err)
			}
			attested := false
			for _, is := range parties.Issuers {
				if is.Id == issuer && client.VerifyBlindKeyAttestation(chainID, initiative, is.PublicKey, bk) {
					attested = true
				}
			}
			if !attested {
				return fmt.Errorf("the node's blind key for %s in %s is not attested by the issuer's registered key: ask another node", issuer, initiative)
			}
			a, req, err := client.NewAnonymousRequest(c.home, name, chainID, initiative, bk)
			if err != nil {
				return err
			}
			if out == "" {
				out = strings.TrimSuffix(client.AnonymousPath(c.home, initiative, name), ".json") + ".request.json"
			}
			if err := client.WriteJSONFile(out, req); err != nil {
				return err
			}
			return c.print(cmd.OutOrStdout(), map[string]string{"request": out, "voter_public_key": fmt.Sprintf("%x", []byte(a.VoterPublic))}, func(w io.Writer) {
				fmt.Fprintf(w, "Fresh key for %s stored in %s\nRequest written to %s: give it to %s with proof of who you are.\n", initiative, client.AnonymousPath(c.home, initiative, name), out, issuer)
				fmt.Fprintf(w, "Then: tabella credential finalize --initiative %s --key %s --response FILE\n", initiative, name)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&initiative, "initiative", "", "the anonymous initiative's id")
	f.StringVar(&issuer, "issuer", "", "the issuer that will check your eligibility")
	f.StringVar(&name, "key", defaultAnonName, "local name for the fresh key (several people can share a home)")
	f.StringVar(&out, "out", "", "request file (default: <home>/anonymous/<initiative>/<key>.request.json)")
	_ = cmd.MarkFlagRequired("initiative")
	_ = cmd.MarkFlagRequired("issuer")
	return cmd
}

func newFinalizeCmd(c *cli) *cobra.Command {
	var initiative, name, response string
	cmd := &cobra.Command{
		Use:     "finalize",
		Short:   "Turn the issuer's blind signature into your anonymous token (for voters)",
		Example: `  tabella credential finalize --initiative harbour-poll --key ann --response ann.response.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := client.LoadAnonymous(c.home, initiative, name)
			if err != nil {
				return err
			}
			var resp client.BlindResponse
			if err := client.ReadJSONFile(response, &resp); err != nil {
				return fmt.Errorf("response: %w", err)
			}
			if err := a.Finish(c.home, &resp); err != nil {
				return err
			}
			return c.print(cmd.OutOrStdout(), map[string]string{"voter_public_key": fmt.Sprintf("%x", []byte(a.VoterPublic))}, func(w io.Writer) {
				fmt.Fprintf(w, "Token for %s stored with your fresh key %x.\nVote with: tabella vote --initiative %s --key %s --option ...\n", initiative, []byte(a.VoterPublic), initiative, name)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&initiative, "initiative", "", "the anonymous initiative's id")
	f.StringVar(&name, "key", defaultAnonName, "local name given to `credential request`")
	f.StringVar(&response, "response", "", "the issuer's answer file")
	_ = cmd.MarkFlagRequired("initiative")
	_ = cmd.MarkFlagRequired("response")
	return cmd
}

// anonymousVoter loads the fresh key and token for an anonymous initiative.
func (c *cli) anonymousVoter(initiative, name string) (*client.Key, *tabellav1.AnonymousToken, error) {
	if name == "" {
		name = defaultAnonName
	}
	a, err := client.LoadAnonymous(c.home, initiative, name)
	if err != nil {
		return nil, nil, fmt.Errorf("initiative %s is anonymous: %w", initiative, err)
	}
	tok := a.AnonymousToken()
	if tok == nil {
		return nil, nil, fmt.Errorf("your anonymous key %q for %s has no token yet: finish with `tabella credential finalize --initiative %s --key %s --response FILE`", name, initiative, initiative, name)
	}
	return &client.Key{Name: name, Private: a.Key()}, tok, nil
}

// signingKey is the key that acts for name in an initiative: the fresh
// anonymous key when the home has one for it, else the named key.
func (c *cli) signingKey(initiative, name string) (*client.Key, error) {
	if ledger.ValidID(initiative) && ledger.ValidID(name) {
		if _, err := os.Stat(client.AnonymousPath(c.home, initiative, name)); err == nil {
			a, err := client.LoadAnonymous(c.home, initiative, name)
			if err != nil {
				return nil, err
			}
			return &client.Key{Name: name, Private: a.Key()}, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return client.LoadKey(c.home, name)
}
