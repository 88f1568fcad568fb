package client_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	cmttypes "github.com/cometbft/cometbft/types"
	ics23 "github.com/cosmos/ics23/go"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/internal/proctest"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// TestReceiptsAgainstRealNode votes on a real dev network, takes the
// receipt, verifies it offline and online, and checks that every kind of
// tampering is caught by its own check.
func TestReceiptsAgainstRealNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	home := filepath.Join(t.TempDir(), "dev")
	ports := proctest.NewPorts(t)
	_, c := proctest.StartDev(t, home, ports)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	chainID, err := c.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := client.LoadKey(home, "alice")
	cred, _ := client.LoadCredential(filepath.Join(home, "credentials", "alice.json"))
	tx, _ := client.BallotTx(chainID, alice.Private, "aarhus-parks", cred, []uint32{2}, 1)
	res, err := c.Broadcast(ctx, tx, true)
	if err != nil {
		t.Fatal(client.Describe(err))
	}
	stream, err := c.WatchTx(ctx, &tabellav1.WatchTxRequest{TxHash: res.TxHash})
	if err != nil {
		t.Fatal(err)
	}
	var stages []tabellav1.TxStage
	for {
		ev, err := stream.Recv()
		if err != nil {
			break
		}
		stages = append(stages, ev.Stage)
	}
	if len(stages) != 2 || stages[1] != tabellav1.TxStage_TX_STAGE_PROVABLE {
		t.Fatalf("WatchTx stages = %v, want COMMITTED then PROVABLE", stages)
	}
	gr, err := c.GetReceipt(ctx, &tabellav1.GetReceiptRequest{InitiativeId: "aarhus-parks", Voter: alice.Public(), Height: res.Height})
	if err != nil {
		t.Fatal(client.Describe(err))
	}
	receipt, err := client.ReceiptFromResponse("aarhus-parks", alice.Public(), gr)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "receipt.json")
	if err := receipt.Save(path); err != nil {
		t.Fatal(err)
	}
	trust, err := client.TrustFromGenesis(filepath.Join(home, "config", "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}

	// The genuine receipt verifies offline...
	loaded, err := client.LoadReceipt(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := loaded.VerifyOffline(trust)
	if err != nil {
		t.Fatalf("genuine receipt: %v", err)
	}
	if v.Ballot.Sequence != 1 || v.Ballot.Selections[0] != 2 {
		t.Fatalf("verified ballot = %v", v.Ballot)
	}
	// ...and online, through the light client.
	lv, err := client.NewLightVerifier(ctx, client.LightOptions{Primary: ports.RPCAddr(), Genesis: trust})
	if err != nil {
		t.Fatal(err)
	}
	ov, err := client.VerifyOnline(ctx, loaded, c, lv, trust)
	if err != nil || !ov.Live || ov.Now.Tally.Counts[2] != 1 {
		t.Fatalf("online: %+v %v", ov, err)
	}

	// Every tampering fails at its own check.
	for _, tc := range []struct {
		name   string
		tamper func(r *client.Receipt, tr *client.TrustRoot)
		check  string
		msg    string
	}{
		{"flipped byte in value", func(r *client.Receipt, _ *client.TrustRoot) { r.Value[len(r.Value)/2] ^= 1 }, "proof", "does not prove this key and value"},
		{"flipped byte in proof", func(r *client.Receipt, _ *client.TrustRoot) {
			var p ics23.CommitmentProof
			_ = p.Unmarshal(r.Proof)
			path := p.GetExist().Path
			path[len(path)-1].Prefix[len(path[len(path)-1].Prefix)-1] ^= 1
			r.Proof, _ = p.Marshal()
		}, "app hash", "signed header commits to app hash"},
		{"altered header", func(r *client.Receipt, _ *client.TrustRoot) {
			editHeader(t, r, func(sh *cmttypes.SignedHeader, _ *cmttypes.ValidatorSet) { sh.AppHash = sha256.New().Sum(nil) })
		}, "header", "commit does not belong to this header"},
		{"flipped commit signature", func(r *client.Receipt, _ *client.TrustRoot) {
			editHeader(t, r, func(sh *cmttypes.SignedHeader, _ *cmttypes.ValidatorSet) { sh.Commit.Signatures[0].Signature[3] ^= 1 })
		}, "commit", "does not verify"},
		{"signature removed (under 2/3 signed)", func(r *client.Receipt, _ *client.TrustRoot) {
			editHeader(t, r, func(sh *cmttypes.SignedHeader, _ *cmttypes.ValidatorSet) {
				sh.Commit.Signatures[0] = cmttypes.NewCommitSigAbsent()
			})
		}, "commit", "two thirds"},
		{"validator set swapped", func(r *client.Receipt, _ *client.TrustRoot) {
			editHeader(t, r, func(_ *cmttypes.SignedHeader, vals *cmttypes.ValidatorSet) {
				*vals = *cmttypes.NewValidatorSet([]*cmttypes.Validator{cmttypes.NewValidator(fakeKey("mallory"), 10)})
			})
		}, "validator set", "does not match"},
		{"wrong chain id", func(r *client.Receipt, _ *client.TrustRoot) { r.ChainID = "other-chain" }, "chain id", "other-chain"},
		{"trusted set holds under 1/3 of the signers", func(_ *client.Receipt, tr *client.TrustRoot) {
			tr.Validators = cmttypes.NewValidatorSet([]*cmttypes.Validator{cmttypes.NewValidator(fakeKey("stranger"), 10)})
		}, "trust", "do not vouch"},
		{"another voter's key", func(r *client.Receipt, _ *client.TrustRoot) { r.Voter = fakeKey("bob").Bytes() }, "proof", "not this voter's ballot key"},
		{"another ballot hash", func(r *client.Receipt, _ *client.TrustRoot) { r.BallotHash[0] ^= 1 }, "ballot", "the receipt's ballot is"},
		{"edited sequence", func(r *client.Receipt, _ *client.TrustRoot) { r.Sequence = 7 }, "ballot", "the receipt says sequence 7"},
		{"edited ballot height", func(r *client.Receipt, _ *client.TrustRoot) { r.BallotHeight = 999 }, "ballot", "at height 999"},
		{"unknown version", func(r *client.Receipt, _ *client.TrustRoot) { r.Version = "tabella-receipt/9" }, "format", "version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := client.LoadReceipt(path)
			tr := *trust
			tc.tamper(r, &tr)
			_, err := r.VerifyOffline(&tr)
			ve, ok := err.(*client.VerifyError)
			if !ok {
				t.Fatalf("err = %v, want a VerifyError", err)
			}
			if ve.Check != tc.check || !strings.Contains(ve.Err.Error(), tc.msg) {
				t.Fatalf("failed at %q: %v; want check %q mentioning %q", ve.Check, ve.Err, tc.check, tc.msg)
			}
		})
	}

	// A voter who never voted gets a proof of absence.
	bob, _ := client.LoadKey(home, "bob")
	ps, err := client.ProveState(ctx, c, lv, chainID, "aarhus-parks", bob.Public())
	if err != nil || ps.Ballot != nil || ps.Initiative == nil {
		t.Fatalf("absence: %+v %v", ps, err)
	}
}

func fakeKey(name string) cmted25519.PubKey {
	seed := sha256.Sum256([]byte(name))
	return cmted25519.PubKey(ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey))
}

// editHeader decodes the receipt's header and validator set, applies f and
// re-encodes them.
func editHeader(t *testing.T, r *client.Receipt, f func(*cmttypes.SignedHeader, *cmttypes.ValidatorSet)) {
	t.Helper()
	var sh cmttypes.SignedHeader
	var vals cmttypes.ValidatorSet
	if err := cmtjson.Unmarshal(r.SignedHeader, &sh); err != nil {
		t.Fatal(err)
	}
	if err := cmtjson.Unmarshal(r.ValidatorSet, &vals); err != nil {
		t.Fatal(err)
	}
	f(&sh, &vals)
	var err error
	if r.SignedHeader, err = cmtjson.Marshal(&sh); err != nil {
		t.Fatal(err)
	}
	if r.ValidatorSet, err = cmtjson.Marshal(&vals); err != nil {
		t.Fatal(err)
	}
	_ = json.Valid(r.SignedHeader)
}
