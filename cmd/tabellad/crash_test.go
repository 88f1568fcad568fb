package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/internal/proctest"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

type ack struct {
	voter  ed25519.PublicKey
	hash   []byte
	height int64
}

// TestCrashWhileVoting SIGKILLs the node while ballots stream in, restarts
// it, and checks that every ballot acknowledged as committed is still there
// and that the app hash of every height seen before the crash is unchanged.
func TestCrashWhileVoting(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	home := filepath.Join(t.TempDir(), "dev")
	ports := proctest.NewPorts(t)
	node, c := proctest.StartDev(t, home, ports, "--block-time", "200ms")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	chainID, err := c.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := client.LoadKey(home, devIssuer)
	if err != nil {
		t.Fatal(err)
	}
	// Pre-sign every ballot so the stream is as fast as the node allows.
	const voters = 600
	txs := make([][]byte, voters)
	keys := make([]ed25519.PublicKey, voters)
	for i := range txs {
		seed := sha256.Sum256([]byte(fmt.Sprintf("crash-voter-%d", i)))
		priv := ed25519.NewKeyFromSeed(seed[:])
		keys[i] = priv.Public().(ed25519.PublicKey)
		age, _ := client.ParseAttribute("age=40")
		mun, _ := client.ParseAttribute("municipality=Aarhus")
		cred, err := client.IssueCredential(chainID, issuer.Private, &tabellav1.Credential{
			IssuerId: devIssuer, VoterPublicKey: keys[i], Attributes: []*tabellav1.Attribute{age, mun},
			IssuedAt: time.Now().Unix(), ExpiresAt: time.Now().Add(24 * time.Hour).Unix(),
		})
		if err != nil {
			t.Fatal(err)
		}
		if txs[i], err = client.BallotTx(chainID, priv, devInitiative, cred, []uint32{uint32(i % 3)}, 1); err != nil {
			t.Fatal(err)
		}
	}

	// Record the app hash of every committed height while voting runs.
	appHashes := map[int64][]byte{}
	var acked []ack
	var mu sync.Mutex
	streamCtx, stopStream := context.WithCancel(ctx)
	var wg sync.WaitGroup
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range txs {
			select {
			case next <- i:
			case <-streamCtx.Done():
				return
			}
		}
	}()
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				res, err := c.Broadcast(streamCtx, txs[i], true)
				if err != nil {
					continue // the node died under us: not acknowledged
				}
				mu.Lock()
				acked = append(acked, ack{voter: keys[i], hash: res.TxHash, height: res.Height})
				mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for streamCtx.Err() == nil {
			if info, err := c.GetChainInfo(streamCtx, &tabellav1.GetChainInfoRequest{}); err == nil {
				mu.Lock()
				appHashes[info.Height] = info.AppHash
				mu.Unlock()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	// Kill once a good number of ballots are in, mid-stream.
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= voters/3 {
			break
		}
		if node.Exited() {
			t.Fatalf("node exited early:\n%s", node.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	node.Kill()
	stopStream()
	wg.Wait()
	if len(acked) == 0 || len(acked) == voters {
		t.Fatalf("kill did not land mid-stream: %d of %d acknowledged", len(acked), voters)
	}
	t.Logf("killed after %d acknowledged ballots; %d heights recorded", len(acked), len(appHashes))

	// Restart on the same home and let it run past the old tip.
	var maxHeight int64
	for h := range appHashes {
		maxHeight = max(maxHeight, h)
	}
	_, c2 := proctest.StartDev(t, home, ports, "--block-time", "200ms")
	if _, err := proctest.WaitHeight(ctx, ports.GRPCAddr(), maxHeight+2); err != nil {
		t.Fatal(err)
	}
	for _, a := range acked {
		b, err := c2.GetBallot(ctx, &tabellav1.GetBallotRequest{InitiativeId: devInitiative, Voter: a.voter})
		if err != nil {
			t.Fatalf("acknowledged ballot %X (height %d) lost: %s", a.hash, a.height, client.Describe(err))
		}
		if !bytes.Equal(b.Ballot.BallotHash, a.hash) || b.Ballot.Height != a.height {
			t.Fatalf("ballot %X changed: now %X at height %d, acknowledged at %d", a.hash, b.Ballot.BallotHash, b.Ballot.Height, a.height)
		}
	}
	// The app hash after block h is in header h+1.
	rpc, err := rpchttp.New(fmt.Sprintf("http://127.0.0.1:%d", ports.RPC), "/websocket")
	if err != nil {
		t.Fatal(err)
	}
	for h, want := range appHashes {
		if h == 0 {
			continue
		}
		next := h + 1
		blk, err := rpc.Block(ctx, &next)
		if err != nil {
			t.Fatalf("block %d: %v", next, err)
		}
		if !bytes.Equal(blk.Block.AppHash, want) {
			t.Fatalf("app hash of height %d changed across the crash: %X before, %X after", h, want, blk.Block.AppHash)
		}
	}
	tl, err := c2.GetTally(ctx, &tabellav1.GetTallyRequest{InitiativeId: devInitiative})
	if err != nil {
		t.Fatal(err)
	}
	if tl.Tally.Turnout < uint64(len(acked)) {
		t.Fatalf("turnout %d < %d acknowledged ballots", tl.Tally.Turnout, len(acked))
	}
}
