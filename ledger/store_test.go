package ledger

import (
	"errors"
	"testing"

	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// countingReader is a map of values that counts reads per key and can fail.
type countingReader struct {
	values map[string][]byte
	reads  map[string]int
	err    error
}

func (r *countingReader) Get(key []byte) ([]byte, error) {
	r.reads[string(key)]++
	if r.err != nil {
		return nil, r.err
	}
	return r.values[string(key)], nil
}

// TestMemoReader: a key is read from the parent once, absent keys included,
// with the parent's answer each time after; ballot keys are read from the
// parent every time; a failed read is not remembered.
func TestMemoReader(t *testing.T) {
	header, issuer := HeaderKey("parks"), IssuerKey("registry")
	ballot := BallotKey("parks", make([]byte, 32))
	parent := &countingReader{
		values: map[string][]byte{string(header): []byte("h"), string(ballot): []byte("b")},
		reads:  map[string]int{},
	}
	m := newMemoReader(parent)
	for i := 0; i < 3; i++ {
		for _, c := range []struct {
			key  []byte
			want string
		}{{header, "h"}, {issuer, ""}, {ballot, "b"}} {
			v, err := m.Get(c.key)
			if err != nil || string(v) != c.want {
				t.Fatalf("read %d of %q = %q, %v; want %q", i, c.key, v, err, c.want)
			}
		}
	}
	for k, want := range map[string]int{string(header): 1, string(issuer): 1, string(ballot): 3} {
		if got := parent.reads[k]; got != want {
			t.Errorf("parent read %q %d times, want %d", k, got, want)
		}
	}

	failing := &countingReader{reads: map[string]int{}, err: errors.New("disk")}
	m = newMemoReader(failing)
	for i := 0; i < 2; i++ {
		if _, err := m.Get(header); err == nil {
			t.Fatal("a failed read succeeded")
		}
	}
	if failing.reads[string(header)] != 2 {
		t.Errorf("a failed read was remembered: %d parent reads", failing.reads[string(header)])
	}
}

// TestHeaderView: within a scope a header decoded once is served again
// while its stored bytes are unchanged, and a status change written in the
// scope is seen at once.
func TestHeaderView(t *testing.T) {
	key := HeaderKey("parks")
	parent := &countingReader{
		values: map[string][]byte{string(key): marshal(&tabellav1.Initiative{Status: statusVoting})},
		reads:  map[string]int{},
	}
	c := &execCtx{kv: newOverlay(newMemoReader(parent)), views: newViewCache()}
	first, err := c.headerView("parks")
	if err != nil || first.Status != statusVoting {
		t.Fatalf("first view: %v, %v", first, err)
	}
	again, err := c.headerView("parks")
	if err != nil || again != first {
		t.Fatalf("second view was decoded again (%p, %p) or failed: %v", first, again, err)
	}

	cc := c.child()
	cc.put(key, &tabellav1.Initiative{Status: statusCancelled})
	changed, err := cc.headerView("parks")
	if err != nil || changed.Status != statusCancelled {
		t.Fatalf("after a status change the view says %v, %v", changed.GetStatus(), err)
	}
	if first.Status != statusVoting {
		t.Fatal("the change reached the view decoded before it")
	}

	c.views = nil
	plain, err := c.headerView("parks")
	if err != nil || plain == first || plain.Status != statusVoting {
		t.Fatalf("without a view cache: %p (cached %p), %v", plain, first, err)
	}
}
