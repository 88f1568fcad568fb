package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/tabella/tabella/internal/bench"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// TestBenchCLI runs `tabella bench` for a few seconds against a dev node,
// public and then sealed (a real key ceremony of the four dev parties,
// whose keys the dev home holds — and already registered for the sealed
// demo), and checks that every ballot sent was committed and counted and
// that the report says the pre-signed ballots ran out.
func TestBenchCLI(t *testing.T) {
	s := newScenario(t)
	for _, secrecy := range []string{bench.SecrecyPublic, bench.SecrecySealed} {
		args := []string{"--home", s.home, "--node", s.node, "-o", "json", "bench", "--secrecy", secrecy,
			"--voters", "300", "--duration", "8s", "--concurrency", "64"}
		cmd := exec.CommandContext(s.ctx, s.bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tabella %s: %v\n%s%s", strings.Join(args, " "), err, stderr.String(), out)
		}
		var res bench.Result
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("%s bench output: %v\n%s", secrecy, err, out)
		}
		if res.Secrecy != secrecy || res.Options != 5 || res.Selections != 1 || res.Sent == 0 || res.Committed == 0 || len(res.Rejected) > 0 || res.SignSeconds <= 0 {
			t.Fatalf("%s bench: %+v\n%s", secrecy, res, stderr.String())
		}
		// 300 ballots, 64 in flight, take a few blocks: the pool runs out
		// well inside the 8 s window, and the report must say so.
		if !res.RanOut || res.Sent != 300 {
			t.Fatalf("%s bench: sent %d of 300 ballots, ran_out %v", secrecy, res.Sent, res.RanOut)
		}
		if sealed := secrecy == bench.SecrecySealed; sealed != (res.CeremonySeconds > 0) {
			t.Fatalf("%s bench: key ceremony of %.1f s", secrecy, res.CeremonySeconds)
		}
		tally, err := s.c.GetTally(s.ctx, &tabellav1.GetTallyRequest{InitiativeId: res.Initiative})
		if err != nil {
			t.Fatal(err)
		}
		if tally.Tally.Turnout != uint64(res.Sent) {
			t.Fatalf("%s bench: sent %d ballots, turnout of %s is %d", secrecy, res.Sent, res.Initiative, tally.Tally.Turnout)
		}
	}
}

// TestConnsPerNode: no connection carries more than streamsPerConn of the
// ballots in flight, well below a node's 4,096 calls per connection.
func TestConnsPerNode(t *testing.T) {
	for _, tc := range []struct{ concurrency, nodes, want int }{
		{0, 1, 1}, {64, 1, 1}, {2048, 1, 1}, {2049, 1, 2}, {4096, 1, 2}, {8192, 1, 4},
		{4096, 4, 1}, {8192, 4, 1}, {8193, 4, 2}, {16384, 4, 2},
	} {
		if got := connsPerNode(tc.concurrency, tc.nodes); got != tc.want {
			t.Errorf("%d in flight over %d nodes: %d connections each, want %d", tc.concurrency, tc.nodes, got, tc.want)
		}
	}
}
