package ledger

import (
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
