package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	idb "github.com/cosmos/iavl/db"

	"github.com/tabella/tabella/app"
	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/internal/proctest"
	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// TestAuditCatchesAlteredState audits a real dev network (clean), exports
// an election record that recounts to the tally, then alters the node's
// state database on disk and checks the audit fails naming the height.
func TestAuditCatchesAlteredState(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	home := filepath.Join(t.TempDir(), "dev")
	ports := proctest.NewPorts(t)
	node, c := proctest.StartDev(t, home, ports)
	_, tabella := proctest.Binaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	genesis := filepath.Join(home, "config", "genesis.json")
	cli := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, tabella, append([]string{"--home", home, "--node", ports.GRPCAddr()}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	vote := func(voter, option string) int64 {
		t.Helper()
		k, _ := client.LoadKey(home, voter)
		cred, _ := client.LoadCredential(filepath.Join(home, "credentials", voter+".json"))
		chainID, _ := c.ChainID(ctx)
		in, err := c.GetInitiative(ctx, &tabellav1.GetInitiativeRequest{Id: "aarhus-parks"})
		if err != nil {
			t.Fatal(err)
		}
		sel, err := optionIndexes(in.Initiative.Spec, []string{option})
		if err != nil {
			t.Fatal(err)
		}
		prev, err := c.GetBallot(ctx, &tabellav1.GetBallotRequest{InitiativeId: "aarhus-parks", Voter: k.Public()})
		seq := uint64(1)
		if err == nil {
			seq = prev.Ballot.Sequence + 1
		}
		tx, _ := client.BallotTx(chainID, k.Private, "aarhus-parks", cred, sel, seq)
		res, err := c.Broadcast(ctx, tx, true)
		if err != nil {
			t.Fatal(client.Describe(err))
		}
		return res.Height
	}
	vote("alice", "north")
	vote("bob", "riverside")
	last := vote("alice", "old-town") // a revote: alice's first ballot is superseded
	waitTip(t, ctx, c, last+2)        // the audit covers up to the tip - 1

	// A clean chain passes.
	out, err := cli("audit", "--rpc", ports.RPCAddr(), "--genesis", genesis)
	if err != nil || !strings.Contains(out, "Audit passed") {
		t.Fatalf("clean audit: %v\n%s", err, out)
	}
	// The election record recounts to the tally.
	dir := filepath.Join(t.TempDir(), "record")
	if out, err := cli("audit", "export", "--rpc", ports.RPCAddr(), "--genesis", genesis, "--initiative", "aarhus-parks", "--out", dir); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	sums := recount(t, filepath.Join(dir, "ballots.csv"))
	if sums["north"] != 0 || sums["riverside"] != 1 || sums["old-town"] != 1 {
		t.Fatalf("recount from ballots.csv = %v", sums)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "superseded.csv")); strings.Count(string(b), "\n") != 2 {
		t.Fatalf("superseded.csv:\n%s", b)
	}

	// Alter the count of "north" in the node's state database, the way an
	// operator with disk access could, and restart the node.
	if err := node.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	tamperCount(t, app.LedgerDBDir(home), "aarhus-parks", 0)
	_, c = proctest.StartDev(t, home, ports)
	// The next ballot for "north" builds on the altered count, so the
	// node's app hash departs from the honest one at that height.
	newVoter(t, home, "dave")
	bad := vote("dave", "north")
	waitTip(t, ctx, c, bad+2)
	out, err = cli("audit", "--rpc", ports.RPCAddr(), "--genesis", genesis)
	want := fmt.Sprintf("divergence at height %d", bad)
	if err == nil || !strings.Contains(out, want) {
		t.Fatalf("audit of altered node: err=%v, want output naming %q:\n%s", err, want, out)
	}
}

func waitTip(t *testing.T, ctx context.Context, c *client.Client, h int64) {
	t.Helper()
	for {
		info, err := c.GetChainInfo(ctx, &tabellav1.GetChainInfoRequest{})
		if err == nil && info.Height >= h {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("chain did not reach height %d", h)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// recount sums each option column of an exported ballots.csv.
func recount(t *testing.T, path string) map[string]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]int{}
	for _, row := range rows[1:] {
		for i := 5; i < len(rows[0])-1; i++ {
			n, _ := strconv.Atoi(row[i])
			sums[rows[0][i]] += n
		}
	}
	return sums
}

// tamperCount adds 768 to an option's count in the newest IAVL leaf that
// holds it, as an operator with disk access could. Inner nodes keep their
// stored hashes, so the node serves the altered count without noticing;
// the next write on that path recomputes the hashes from it.
func tamperCount(t *testing.T, dir, initiative string, option uint32) {
	t.Helper()
	db, err := idb.NewGoLevelDB("tabella", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// IAVL v1 stores nodes under "s" || uint64be(version) || uint32be(nonce).
	prefix := []byte("iavl/s")
	it, err := db.Iterator(prefix, []byte("iavl/t"))
	if err != nil {
		t.Fatal(err)
	}
	want := ledger.CountKey(initiative, option)
	var leafKey, leaf []byte
	var newest uint64
	for ; it.Valid(); it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) != len(prefix)+12 || len(v) == 0 || v[0] != 0 { // height 0: a leaf
			continue
		}
		if !bytes.Equal(leafStateKey(v), want) {
			continue
		}
		if version := binary.BigEndian.Uint64(k[len(prefix) : len(prefix)+8]); version >= newest {
			newest, leafKey, leaf = version, bytes.Clone(k), bytes.Clone(v)
		}
	}
	it.Close()
	if leaf == nil {
		t.Fatalf("no IAVL leaf holds the count %q", want)
	}
	// A leaf ends with its value: the 8-byte big-endian count.
	leaf[len(leaf)-2] += 0x03 // +768
	if err := db.Set(leafKey, leaf); err != nil {
		t.Fatal(err)
	}
}

// leafStateKey is the state key of an encoded IAVL v1 leaf: varint
// height (0), varint size, then the length-prefixed key.
func leafStateKey(leaf []byte) []byte {
	_, n1 := binary.Varint(leaf)
	if n1 <= 0 {
		return nil
	}
	_, n2 := binary.Varint(leaf[n1:])
	if n2 <= 0 {
		return nil
	}
	l, n3 := binary.Uvarint(leaf[n1+n2:])
	start := n1 + n2 + n3
	if n3 <= 0 || uint64(len(leaf)-start) < l {
		return nil
	}
	return leaf[start : start+int(l)]
}

// newVoter creates a key and a demo-registry credential for an adult of
// Aarhus.
func newVoter(t *testing.T, home, name string) {
	t.Helper()
	k, err := client.CreateKey(home, name)
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := client.LoadKey(home, "demo-registry")
	if err != nil {
		t.Fatal(err)
	}
	age, _ := client.ParseAttribute("age=50")
	mun, _ := client.ParseAttribute("municipality=Aarhus")
	sc, err := client.IssueCredential("tabella-dev", issuer.Private, &tabellav1.Credential{
		IssuerId: "demo-registry", VoterPublicKey: k.Public(), Attributes: []*tabellav1.Attribute{age, mun},
		IssuedAt: time.Now().Unix(), ExpiresAt: time.Now().Add(time.Hour).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SaveCredential(filepath.Join(home, "credentials", name+".json"), sc); err != nil {
		t.Fatal(err)
	}
}
