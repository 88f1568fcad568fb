package ledger

import (
	"github.com/syndtr/goleveldb/leveldb/filter"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// DBOptions are the goleveldb options the ledger's database is tuned for.
// The IAVL tree reads back the nodes of every path a ballot rewrites that
// its node cache lacks; goleveldb's default 8 MiB block cache and 4 MiB
// memtable made those reads (and snappy decoding them) a quarter of the
// node's CPU under load. 64 MiB and 16 MiB: 2,570-2,789 -> 3,530-3,629
// ballots/s on one node, p99 2.5 -> 2.0 s, RSS +60 MiB
// (docs/performance.md).
func DBOptions() *opt.Options {
	return &opt.Options{
		Filter:             filter.NewBloomFilter(10),
		BlockCacheCapacity: 64 * opt.MiB,
		WriteBuffer:        16 * opt.MiB,
	}
}
