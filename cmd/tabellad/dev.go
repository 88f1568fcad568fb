package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tabella/tabella/app"
	"github.com/tabella/tabella/client"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

const (
	devChainID    = "tabella-dev"
	devInitiative = "aarhus-parks"
	devOrganiser  = "demo-city"
	devIssuer     = "demo-registry"
)

// devParties is the demo consortium: two government and two civil-society
// parties. Only the first runs the dev network's single validator.
var devParties = []struct {
	id, name string
	kind     tabellav1.PartyKind
}{
	{"city-council", "Aarhus City Council", tabellav1.PartyKind_PARTY_KIND_GOVERNMENT},
	{"regional-office", "Central Denmark Region", tabellav1.PartyKind_PARTY_KIND_GOVERNMENT},
	{"residents-union", "Aarhus Residents' Union", tabellav1.PartyKind_PARTY_KIND_CIVIL_SOCIETY},
	{"transparency-ngo", "Open Vote Watch", tabellav1.PartyKind_PARTY_KIND_CIVIL_SOCIETY},
}

// devVoters get credentials from the demo issuer; carol is too young for
// the demo initiative, to show a rejection.
var devVoters = []struct {
	name         string
	age          int64
	municipality string
}{
	{"alice", 34, "Aarhus"},
	{"bob", 67, "Aarhus"},
	{"carol", 15, "Aarhus"},
}

const devSpec = `# The demo initiative of ` + "`tabellad dev`" + `. See docs/initiatives.md.
id: aarhus-parks
kind: consultation
title: Which park gets new benches and lighting in 2027?
summary: The city has set aside funds to renovate one park. Residents choose.
options:
  - id: north
    title: North Park
    description: Benches along the lake path and lighting at the north gate.
  - id: riverside
    title: Riverside
    description: Seating terraces by the river and lighting on the footbridge.
  - id: old-town
    title: Old Town Square
    description: New benches under the lime trees.
ballot:
  min_selections: 1
  max_selections: 1
  revoting: true
schedule:
  opens: now
  closes: +7d
eligibility:
  issuers: [demo-registry]
  rules:
    - age >= 16
    - municipality == "Aarhus"
result:
  quorum: 2
`

// devDemos are the other demo initiatives: a participatory budget taking
// proposals, with dual review, and a petition.
var devDemos = []struct{ id, file, spec string }{
	{"aarhus-budget-2027", "demo-budget.yaml", `# A demo participatory budget of ` + "`tabellad dev`" + `. See docs/initiatives.md.
id: aarhus-budget-2027
kind: budget
title: Aarhus neighbourhood budget 2027
summary: Propose a project for your neighbourhood; the consortium reviews it; everyone votes.
budget:
  total: 250_000
  currency: EUR
  ballot_rule: within_budget
proposals:
  review: dual
  government_approvals: 1
  civil_society_approvals: 1
  max_per_person: 3
ballot:
  min_selections: 1
  revoting: true
schedule:
  proposals_opens: now
  proposals_closes: +3d
  opens: +5d
  closes: +7d
eligibility:
  issuers: [demo-registry]
  rules:
    - age >= 16
    - municipality == "Aarhus"
`},
	{"harbour-bath", "demo-petition.yaml", `# A demo petition of ` + "`tabellad dev`" + `. See docs/initiatives.md.
id: harbour-bath
kind: petition
title: Keep the harbour bath open all year
ballot:
  withdrawal: true
schedule:
  opens: now
  closes: +30d
eligibility:
  issuers: [demo-registry]
  rules:
    - age >= 16
result:
  threshold: 3
`},
}

// The anonymous demo: its spec needs the issuer's blind key, made with
// the home, so the file is written then (demo-anonymous.yaml) and read
// when the network starts.
const (
	devAnonInitiative = "aarhus-library-sundays"
	devAnonFile       = "demo-anonymous.yaml"
	devAnonSpec       = `# A demo anonymous consultation of ` + "`tabellad dev`" + `. See docs/anonymous-voting.md.
id: aarhus-library-sundays
kind: consultation
title: Should the main library open on Sundays?
options:
  - {id: yes, title: "Yes"}
  - {id: no, title: "No"}
ballot:
  revoting: true
schedule:
  opens: now
  closes: +7d
secrecy: anonymous
eligibility:
  issuers: [demo-registry]
`
)

func newDevCmd() *cobra.Command {
	var (
		home                       string
		reset                      bool
		grpcAddr, rpcAddr, p2pAddr string
		blockTime                  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a single-node development network with a demo consortium, organiser, issuer, voters and an open initiative",
		Example: `  tabellad dev                 # state in ./.tabella-dev, kept across runs
  tabellad dev --reset         # start again from genesis`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if reset {
				if err := os.RemoveAll(home); err != nil {
					return fmt.Errorf("reset %s: %w", home, err)
				}
			}
			fresh := false
			if _, err := os.Stat(filepath.Join(home, "config", "genesis.json")); errors.Is(err, fs.ErrNotExist) {
				if err := initDevHome(home, grpcAddr, rpcAddr, p2pAddr, blockTime); err != nil {
					return fmt.Errorf("create dev network in %s: %w", home, err)
				}
				fresh = true
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runNode(ctx, home, func(n *app.Node) error {
				return devReady(ctx, cmd.OutOrStdout(), home, n, fresh)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&home, "home", ".tabella-dev", "dev network home directory")
	f.BoolVar(&reset, "reset", false, "delete the home directory and start from genesis")
	f.StringVar(&grpcAddr, "grpc", "127.0.0.1:9090", "gRPC API listen address (new homes only)")
	f.StringVar(&rpcAddr, "rpc", "tcp://127.0.0.1:26657", "CometBFT RPC listen address (new homes only)")
	f.StringVar(&p2pAddr, "p2p", "tcp://127.0.0.1:26656", "CometBFT P2P listen address (new homes only)")
	f.DurationVar(&blockTime, "block-time", 500*time.Millisecond, "pause after each block (new homes only)")
	return cmd
}

func initDevHome(home, grpcAddr, rpcAddr, p2pAddr string, blockTime time.Duration) error {
	valKey, err := app.InitHome(app.HomeOptions{
		Home: home, Moniker: "tabella-dev",
		GRPCAddress: grpcAddr, RPCAddress: rpcAddr, P2PAddress: p2pAddr,
		TimeoutCommit: blockTime, EmptyBlocksInterval: time.Second,
	})
	if err != nil {
		return err
	}
	g := &tabellav1.Genesis{}
	for i, p := range devParties {
		admin, err := client.CreateKey(home, p.id+"-admin")
		if err != nil {
			return err
		}
		party := &tabellav1.Party{Id: p.id, Name: p.name, Kind: p.kind, AdminKeys: [][]byte{admin.Public()}}
		if i == 0 {
			party.Validator = &tabellav1.Validator{PublicKey: valKey, Power: app.DefaultPower}
		}
		g.Parties = append(g.Parties, party)
	}
	org, err := client.CreateKey(home, devOrganiser)
	if err != nil {
		return err
	}
	g.Organisers = []*tabellav1.Organiser{{Id: devOrganiser, Name: "City of Aarhus, Citizen Services", PublicKey: org.Public()}}
	iss, err := client.CreateKey(home, devIssuer)
	if err != nil {
		return err
	}
	g.Issuers = []*tabellav1.Issuer{{Id: devIssuer, Name: "Demo Population Registry", PublicKey: iss.Public()}}
	now := time.Now().UTC()
	if err := app.WriteGenesis(home, devChainID, now, g); err != nil {
		return err
	}
	credDir := filepath.Join(home, "credentials")
	if err := os.MkdirAll(credDir, 0o700); err != nil {
		return err
	}
	for _, v := range devVoters {
		voter, err := client.CreateKey(home, v.name)
		if err != nil {
			return err
		}
		age, _ := client.ParseAttribute(fmt.Sprintf("age=%d", v.age))
		mun, _ := client.ParseAttribute("municipality=" + v.municipality)
		sc, err := client.IssueCredential(devChainID, iss.Private, &tabellav1.Credential{
			IssuerId:       devIssuer,
			VoterPublicKey: voter.Public(),
			Attributes:     []*tabellav1.Attribute{age, mun},
			IssuedAt:       now.Unix(),
			ExpiresAt:      now.AddDate(1, 0, 0).Unix(),
		})
		if err != nil {
			return err
		}
		if err := client.SaveCredential(filepath.Join(credDir, v.name+".json"), sc); err != nil {
			return err
		}
	}
	for _, d := range devDemos {
		if err := os.WriteFile(filepath.Join(home, d.file), []byte(d.spec), 0o644); err != nil {
			return err
		}
	}
	bk, err := client.CreateBlindKey(home, devChainID, devAnonInitiative, devIssuer, iss.Private, client.DefaultBlindKeyBits)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(home, devAnonFile), []byte(devAnonSpec+"blind_keys:\n"+client.BlindKeyYAML(bk.Registration())), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(home, "demo-initiative.yaml"), []byte(devSpec), 0o644)
}

// devReady creates the demo initiative on a fresh network and prints how to
// use it.
func devReady(ctx context.Context, out io.Writer, home string, n *app.Node, fresh bool) error {
	c, err := client.Dial(n.GRPCAddr())
	if err != nil {
		return err
	}
	defer c.Close()
	var info *tabellav1.GetChainInfoResponse
	for {
		info, err = c.GetChainInfo(ctx, &tabellav1.GetChainInfoRequest{})
		if err == nil && info.Height >= 1 {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
	org, err := client.LoadKey(home, devOrganiser)
	if err != nil {
		return err
	}
	// Create the demo initiatives that do not exist yet, in one block.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var pending []<-chan error
	demos := append([]struct{ id, file, spec string }{{devInitiative, "demo-initiative.yaml", devSpec}}, devDemos...)
	if b, err := os.ReadFile(filepath.Join(home, devAnonFile)); err == nil {
		demos = append(demos, struct{ id, file, spec string }{devAnonInitiative, devAnonFile, string(b)})
	}
	for _, d := range demos {
		_, err = c.GetInitiative(ctx, &tabellav1.GetInitiativeRequest{Id: d.id})
		if status.Code(err) != codes.NotFound {
			if err != nil {
				return fmt.Errorf("look up demo initiative %s: %s", d.id, client.Describe(err))
			}
			continue
		}
		spec, err := client.ParseSpec([]byte(d.spec), time.Unix(info.BlockTime, 0))
		if err != nil {
			return fmt.Errorf("demo initiative %s: %w", d.id, err)
		}
		tx, err := client.CreateInitiativeTx(info.ChainId, org.Private, devOrganiser, spec)
		if err != nil {
			return err
		}
		done := make(chan error, 1)
		pending = append(pending, done)
		go func(id string) {
			if _, err := c.Broadcast(wctx, tx, true); err != nil {
				done <- fmt.Errorf("create demo initiative %s: %s", id, client.Describe(err))
				return
			}
			done <- nil
		}(d.id)
	}
	for _, done := range pending {
		if err := <-done; err != nil {
			return err
		}
	}
	if err := devSealed(wctx, c, home); err != nil {
		return err
	}
	alice, _ := client.LoadKey(home, "alice")
	state := "resumed"
	if fresh {
		state = "created"
	}
	grpcAddr := n.GRPCAddr()
	fmt.Fprintf(out, `
Tabella dev network %s — chain %s
  home:       %s
  gRPC API:   %s   (grpcurl -plaintext %s list)
  CometBFT:   %s
  consortium: city-council, regional-office (government); residents-union, transparency-ngo (civil society)
  organiser:  %s    issuer: %s    voters: alice, bob, carol (carol is 15: too young)

Try it (in another terminal):
  go run ./cmd/tabella --home %s --node %s initiative show %s
  go run ./cmd/tabella --home %s --node %s vote --initiative %s --key alice --option north
  go run ./cmd/tabella --home %s --node %s vote --initiative %s --key bob --option riverside
  go run ./cmd/tabella --home %s --node %s tally %s
  go run ./cmd/tabella --home %s --node %s ballot --initiative %s --voter %s

More demos: the participatory budget aarhus-budget-2027 takes proposals for three days
(tabella proposal submit --initiative aarhus-budget-2027 --key alice --id playground --title "A playground" --cost 60000),
and the petition harbour-bath takes signatures (tabella petition sign --initiative harbour-bath --key bob).
Their specs are demo-budget.yaml and demo-petition.yaml in the home.
The anonymous consultation %s takes ballots signed by a fresh key with a blind-signed token
(docs/anonymous-voting.md; the issuer's blind key is in blind-keys/, the spec in %s):
  tabella credential request --initiative %s --issuer %s --key alice
  tabella credential issue-blind --issuer-id %s --initiative %s --person alice --request %s
  tabella credential finalize --initiative %s --key alice --response %s
  tabella vote --initiative %s --key alice --option yes
The sealed consultation %s encrypts every ballot to a joint key of the four parties
(docs/initiatives.md#sealed-initiatives; their trustee secrets are in trustee/, and they dealt already):
  tabella vote --initiative %s --key alice --option north     (tabella tally shows no counts, only turnout)
  after it closes (15 minutes), any three trustees decrypt the result:
  tabella trustee decrypt --initiative %s --party city-council --key city-council-admin
  (and --party regional-office, --party residents-union, each with its own -admin key)

Stop with Ctrl-C; run again to resume, or with --reset to start over.
`, state, info.ChainId, home, grpcAddr, grpcAddr, n.RPCAddr(), devOrganiser, devIssuer,
		home, grpcAddr, devInitiative,
		home, grpcAddr, devInitiative,
		home, grpcAddr, devInitiative,
		home, grpcAddr, devInitiative,
		home, grpcAddr, devInitiative, hex.EncodeToString(alice.Public()),
		devAnonInitiative, devAnonFile,
		devAnonInitiative, devIssuer,
		devIssuer, devAnonInitiative, filepath.Join(home, "anonymous", devAnonInitiative, "alice.request.json"),
		devAnonInitiative, filepath.Join(home, "anonymous", devAnonInitiative, "alice.response.json"),
		devAnonInitiative,
		devSealedInitiative, devSealedInitiative, devSealedInitiative)
	return nil
}
