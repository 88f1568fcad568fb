package ledger

import (
	"bytes"
	"fmt"
	"sort"

	"google.golang.org/protobuf/proto"
)

// reader is the read side of the IAVL trees and of overlays.
type reader interface {
	Get(key []byte) ([]byte, error)
}

// overlay buffers writes over a parent reader. Transactions execute in a
// child overlay that is merged into the block's overlay only when they
// succeed, so a rejected tx changes nothing. The block's overlay reaches
// IAVL in sorted key order at the end of the block: the tree's shape, and so
// the app hash, depends on insertion order, which must not depend on the
// order transactions happened to touch keys.
type overlay struct {
	parent reader
	writes map[string][]byte
}

func newOverlay(parent reader) *overlay {
	return &overlay{parent: parent, writes: make(map[string][]byte)}
}

func (o *overlay) Get(key []byte) ([]byte, error) {
	if v, ok := o.writes[string(key)]; ok {
		return v, nil
	}
	return o.parent.Get(key)
}

func (o *overlay) Set(key, value []byte) {
	if len(value) == 0 {
		// IAVL cannot store empty values; callers always store at
		// least one byte.
		panic(fmt.Sprintf("ledger: empty value for key %q", key))
	}
	o.writes[string(key)] = value
}

// mergeInto copies o's writes into dst.
func (o *overlay) mergeInto(dst *overlay) {
	for k, v := range o.writes {
		dst.writes[k] = v
	}
}

// memoReader remembers what it read through parent, for a scope in which
// parent does not change: one block's execution over the working tree
// (written only after the block's last tx), or CheckTx between two commits
// over the committed version. Every ballot reads the same few keys (its
// initiative's header, its credential's issuer), and each read in an IAVL
// tree walks from the root through the node cache: those walks were about
// 3% of a loaded validator's CPU. Ballot keys are read once per voter,
// so they pass through without being remembered. It is not safe for
// concurrent use; its scope's lock covers it.
type memoReader struct {
	parent reader
	seen   map[string][]byte
}

func newMemoReader(parent reader) *memoReader {
	return &memoReader{parent: parent, seen: make(map[string][]byte)}
}

func (m *memoReader) Get(key []byte) ([]byte, error) {
	if v, ok := m.seen[string(key)]; ok {
		return v, nil
	}
	v, err := m.parent.Get(key)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(key, ballotKeyPrefix) {
		m.seen[string(key)] = v
	}
	return v, nil
}

// sortedKeys returns the written keys in ascending byte order.
func (o *overlay) sortedKeys() []string {
	keys := make([]string, 0, len(o.writes))
	for k := range o.writes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// getProto reads key into m; it reports whether the key exists.
func getProto(r reader, key []byte, m proto.Message) (bool, error) {
	b, err := r.Get(key)
	if err != nil {
		return false, fmt.Errorf("read %q: %w", key, err)
	}
	if b == nil {
		return false, nil
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return false, fmt.Errorf("decode %q: %w", key, err)
	}
	return true, nil
}
