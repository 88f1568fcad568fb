package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/internal/proctest"
	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// TestDevNetworkEndToEnd starts `tabellad dev` as a real process, votes
// through the CLI and through gRPC, and reads the tally both ways.
func TestDevNetworkEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	home := filepath.Join(t.TempDir(), "dev")
	ports := proctest.NewPorts(t)
	node, c := proctest.StartDev(t, home, ports)
	_, tabella := proctest.Binaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cli := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, tabella, append([]string{"--home", home, "--node", ports.GRPCAddr()}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// 1. Alice votes with the CLI.
	out, err := cli("vote", "--initiative", devInitiative, "--key", "alice", "--option", "north")
	if err != nil || !strings.Contains(out, "committed at height") {
		t.Fatalf("CLI vote: %v\n%s", err, out)
	}

	// 2. Bob votes over gRPC with a tx built by the client library.
	chainID, err := c.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := client.LoadKey(home, "bob")
	if err != nil {
		t.Fatal(err)
	}
	cred, err := client.LoadCredential(filepath.Join(home, "credentials", "bob.json"))
	if err != nil {
		t.Fatal(err)
	}
	tx, err := client.BallotTx(chainID, bob.Private, devInitiative, cred, []uint32{1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Broadcast(ctx, tx, true)
	if err != nil || res.Height == 0 {
		t.Fatalf("gRPC ballot: %v %v", res, err)
	}
	if !slices.Equal(res.TxHash, ledger.TxHash(tx)) {
		t.Fatal("tx hash is not SHA-256 of the tx")
	}

	// 3. Broadcasting the same bytes again is idempotent: the node reports
	// the block that holds them. A new ballot with the same sequence is a
	// replay.
	again, err := c.Broadcast(ctx, tx, true)
	if err != nil || again.Height != res.Height {
		t.Fatalf("rebroadcast: %v %v, want height %d", again, err, res.Height)
	}
	tx, _ = client.BallotTx(chainID, bob.Private, devInitiative, cred, []uint32{2}, 1)
	_, err = c.Broadcast(ctx, tx, true)
	if code, _ := client.RejectionCode(err); code != ledger.CodeReplay || status.Code(err) != codes.AlreadyExists {
		t.Fatalf("replay: %v", err)
	}

	// 4. Carol is 15: the CLI exits non-zero and names the reason; over
	// gRPC the status carries the stable code.
	out, err = cli("vote", "--initiative", devInitiative, "--key", "carol", "--option", "north")
	if err == nil || !strings.Contains(out, "INELIGIBLE") || !strings.Contains(out, "age >= 16") {
		t.Fatalf("ineligible CLI vote: err=%v\n%s", err, out)
	}
	carol, _ := client.LoadKey(home, "carol")
	carolCred, _ := client.LoadCredential(filepath.Join(home, "credentials", "carol.json"))
	ctx2, cancel2 := context.WithTimeout(ctx, 10*time.Second)
	defer cancel2()
	tx, _ = client.BallotTx(chainID, carol.Private, devInitiative, carolCred, []uint32{0}, 1)
	_, err = c.Broadcast(ctx2, tx, true)
	if code, _ := client.RejectionCode(err); code != ledger.CodeIneligible || status.Code(err) != codes.PermissionDenied {
		t.Fatalf("ineligible gRPC vote: %v", err)
	}

	// 5. A forged signature never reaches state.
	var env tabellav1.Tx
	tx, _ = client.BallotTx(chainID, carol.Private, devInitiative, cred, []uint32{0}, 1)
	_ = proto.Unmarshal(tx, &env)
	env.Signatures[0].PublicKey = bob.Public()
	forged, _ := proto.Marshal(&env)
	_, err = c.Broadcast(ctx2, forged, false)
	if code, _ := client.RejectionCode(err); code != ledger.CodeBadSignature || status.Code(err) != codes.Unauthenticated {
		t.Fatalf("forged tx: %v", err)
	}
	// An oversized message is refused by the transport limit.
	_, err = c.Broadcast(ctx2, make([]byte, ledger.MaxTxBytes+128<<10), false)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("oversized message: %v", err)
	}

	// 6. The tally, over gRPC and through the CLI.
	tl, err := c.GetTally(ctx, &tabellav1.GetTallyRequest{InitiativeId: devInitiative})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tl.Tally.Counts, []uint64{1, 1, 0}) || tl.Tally.Turnout != 2 {
		t.Fatalf("tally = %v", tl.Tally)
	}
	out, err = cli("-o", "json", "tally", devInitiative)
	if err != nil {
		t.Fatalf("CLI tally: %v\n%s", err, out)
	}
	var js struct {
		Tally struct {
			Counts  []string `json:"counts"`
			Turnout string   `json:"turnout"`
		} `json:"tally"`
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil || !slices.Equal(js.Tally.Counts, []string{"1", "1", "0"}) {
		t.Fatalf("CLI tally json: %v\n%s", err, out)
	}

	// 7. Health and reflection, so grpcurl works without proto files.
	conn := clientConn(t, ports.GRPCAddr())
	h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "tabella.v1.TabellaService"})
	if err != nil || h.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", h, err)
	}
	stream, err := reflectpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.Send(&reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_ListServices{ListServices: ""}})
	rr, err := stream.Recv()
	if err != nil || !strings.Contains(rr.String(), "tabella.v1.TabellaService") {
		t.Fatalf("reflection: %v %v", rr, err)
	}

	// 8. The anonymous demo, with the commands the network prints.
	anonReq := filepath.Join(home, "anonymous", devAnonInitiative, "alice.request.json")
	anonResp := filepath.Join(home, "anonymous", devAnonInitiative, "alice.response.json")
	for _, args := range [][]string{
		{"credential", "request", "--initiative", devAnonInitiative, "--issuer", devIssuer, "--key", "alice"},
		{"credential", "issue-blind", "--issuer-id", devIssuer, "--initiative", devAnonInitiative, "--person", "alice", "--request", anonReq},
		{"credential", "finalize", "--initiative", devAnonInitiative, "--key", "alice", "--response", anonResp},
		{"vote", "--initiative", devAnonInitiative, "--key", "alice", "--option", "yes"},
	} {
		if out, err := cli(args...); err != nil {
			t.Fatalf("tabella %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if !strings.Contains(node.Log(), "tabella credential finalize --initiative "+devAnonInitiative) {
		t.Fatalf("the dev network does not print the anonymous demo:\n%s", node.Log())
	}

	// 9. Restart on the same home: everything is still there.
	if err := node.Stop(30 * time.Second); err != nil {
		t.Fatalf("stop: %v\n%s", err, node.Log())
	}
	_, c2 := proctest.StartDev(t, home, ports)
	tl2, err := c2.GetTally(ctx, &tabellav1.GetTallyRequest{InitiativeId: devInitiative})
	if err != nil || !slices.Equal(tl2.Tally.Counts, []uint64{1, 1, 0}) {
		t.Fatalf("tally after restart = %v, %v", tl2, err)
	}
}

func clientConn(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
