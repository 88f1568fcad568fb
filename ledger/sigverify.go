package ledger

import (
	"crypto/rand"
	"crypto/sha256"
	"runtime"
	"sync"
	"time"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"

	"github.com/tabella/tabella/ledger/sealed"
)

// Signature rule: ed25519 verified with the cofactored equation of RFC 8032
// §5.1.7 (FIPS 186-5), canonical encodings, small-order public keys
// refused. Batch verification follows exactly the same rule, so a node may
// verify singly or in batches, cached or not, and always decide the same.
var verifyOpts = &voi.Options{Verify: voi.VerifyOptionsDefault}

// VerifySignature reports whether sig is pub's signature of msg under the
// ledger's rule. pub must be 32 bytes and sig 64.
func VerifySignature(pub, msg, sig []byte) bool {
	if len(pub) != voi.PublicKeySize || len(sig) != voi.SignatureSize {
		return false
	}
	return voi.VerifyWithOptions(pub, msg, sig, verifyOpts)
}

// sigKey identifies a (key, message, signature) triple.
type sigKey [32]byte

func keyOf(pub, msg, sig []byte) sigKey {
	h := sha256.New()
	h.Write(pub)
	h.Write(sig)
	h.Write(msg)
	var k sigKey
	h.Sum(k[:0])
	return k
}

// preverifiedKey marks, in a SigCache, a tx whose pre-verification is done:
// PreVerify or CheckTx accepted it, so its signatures, token and sealed
// proofs are cached (unless evicted since, which costs only time). The
// domain tag keeps these keys apart from signature keys.
func preverifiedKey(raw []byte) sigKey {
	h := sha256.New()
	h.Write([]byte("tabella/v1/preverified-tx\x00"))
	h.Write(raw)
	var k sigKey
	h.Sum(k[:0])
	return k
}

// SigCache remembers signatures already verified, so a tx checked by the
// gRPC handler or CheckTx is not verified again in FinalizeBlock. Only
// valid signatures are cached; a miss just means verifying. It holds two
// generations of at most half its capacity each and is safe for concurrent
// use.
type SigCache struct {
	set *genCache[struct{}]
	// sealed holds verified sealed ballots, decoded: a ballot decodes
	// dozens of group elements, a third of what verifying it costs.
	sealed *genCache[*sealed.Ballot]
}

// sealedCacheSize bounds the decoded sealed ballots kept (a five-option
// ballot takes about 6 KiB decoded): more than a full mempool's worth.
const sealedCacheSize = 8_192

// NewSigCache caches up to capacity signatures.
func NewSigCache(capacity int) *SigCache {
	return &SigCache{set: newGenCache[struct{}](capacity), sealed: newGenCache[*sealed.Ballot](sealedCacheSize)}
}

func (c *SigCache) has(k sigKey) bool {
	_, ok := c.set.get(k)
	return ok
}

func (c *SigCache) add(k sigKey) { c.set.put(k, struct{}{}) }

// Verify checks a signature, answering from the cache when it can.
func (c *SigCache) Verify(pub, msg, sig []byte) bool {
	if c == nil {
		return VerifySignature(pub, msg, sig)
	}
	if len(pub) != voi.PublicKeySize || len(sig) != voi.SignatureSize {
		return false
	}
	k := keyOf(pub, msg, sig)
	if c.has(k) {
		return true
	}
	if !voi.VerifyWithOptions(pub, msg, sig, verifyOpts) {
		return false
	}
	c.add(k)
	return true
}

// tokenKeyPrefix starts the cache key of an anonymous token. An ed25519
// entry's key hashes its 32-byte public key first, so a token entry could
// only collide with the entry of a public key that begins with this
// prefix: nobody holds the private key of such a key.
const tokenKeyPrefix = "tabella/token-cache/v1"

func tokenKeyOf(der, msg, sig []byte) sigKey {
	h := sha256.New()
	h.Write([]byte(tokenKeyPrefix))
	h.Write(be32(uint32(len(der))))
	h.Write(der)
	h.Write(be32(uint32(len(sig))))
	h.Write(sig)
	h.Write(msg)
	var k sigKey
	h.Sum(k[:0])
	return k
}

// VerifyToken checks an anonymous token (VerifyToken), answering from the
// cache when it can. RSA verification costs several times an ed25519
// one, so CheckTx, PreVerify and FinalizeBlock verify a token once.
func (c *SigCache) VerifyToken(der, msg, sig []byte) bool {
	if c == nil {
		return VerifyToken(der, msg, sig)
	}
	k := tokenKeyOf(der, msg, sig)
	if c.has(k) {
		return true
	}
	if !VerifyToken(der, msg, sig) {
		return false
	}
	c.add(k)
	return true
}

// sigItem is one signature to verify.
type sigItem struct {
	pub, msg, sig []byte
	key           sigKey
}

// verifyBatch verifies items not yet cached in batches, one per core, and
// caches the valid ones. Invalid signatures are left for the sequential
// path to reject with the proper error.
func (c *SigCache) verifyBatch(items []sigItem) {
	todo := items[:0:0]
	for _, it := range items {
		if len(it.pub) != voi.PublicKeySize || len(it.sig) != voi.SignatureSize {
			continue
		}
		it.key = keyOf(it.pub, it.msg, it.sig)
		if !c.has(it.key) {
			todo = append(todo, it)
		}
	}
	if len(todo) == 0 {
		return
	}
	workers := min(runtime.GOMAXPROCS(0), (len(todo)+63)/64)
	per := (len(todo) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		part := todo[w*per : min(len(todo), (w+1)*per)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Without this, voi precomputes a table for each public key of
			// a batch under 94 entries, which pays only for keys used many
			// times; a ballot's voter key is used once.
			bv := voi.NewBatchVerifierWithCapacity(len(part)).ForceNoPublicKeyExpansion()
			for _, it := range part {
				bv.AddWithOptions(it.pub, it.msg, it.sig, verifyOpts)
			}
			allOK, valid := bv.Verify(rand.Reader)
			for i, it := range part {
				if allOK || valid[i] {
					c.add(it.key)
				}
			}
		}()
	}
	wg.Wait()
}

// batchRequest is one caller's signatures waiting for a shared batch.
type batchRequest struct {
	items []sigItem
	done  chan struct{}
}

// Batcher gathers signatures from concurrent callers into batches: a batch
// verifies in about half the time per signature of single verification.
// Callers wait at most MaxDelay for company. Results go to the cache only.
type Batcher struct {
	cache    *SigCache
	in       chan *batchRequest
	maxItems int
	maxDelay time.Duration
	stop     chan struct{}
	wg       sync.WaitGroup
}

// NewBatcher starts a batcher over cache.
func NewBatcher(cache *SigCache, maxItems int, maxDelay time.Duration) *Batcher {
	b := &Batcher{cache: cache, in: make(chan *batchRequest, 4096), maxItems: maxItems, maxDelay: maxDelay, stop: make(chan struct{})}
	b.wg.Add(1)
	go b.run()
	return b
}

// Close stops the batcher; pending callers are released.
func (b *Batcher) Close() {
	close(b.stop)
	b.wg.Wait()
}

// Verify verifies items (through a shared batch) into the cache.
func (b *Batcher) Verify(items []sigItem) {
	req := &batchRequest{items: items, done: make(chan struct{})}
	select {
	case b.in <- req:
		<-req.done
	case <-b.stop:
	}
}

func (b *Batcher) run() {
	defer b.wg.Done()
	var (
		pending []*batchRequest
		items   []sigItem
		timer   <-chan time.Time
		work    sync.WaitGroup
		slots   = make(chan struct{}, runtime.GOMAXPROCS(0))
	)
	flush := func() {
		reqs, its := pending, items
		pending, items, timer = nil, nil, nil
		slots <- struct{}{}
		work.Add(1)
		go func() {
			defer func() { <-slots; work.Done() }()
			b.cache.verifyBatch(its)
			for _, r := range reqs {
				close(r.done)
			}
		}()
	}
	for {
		select {
		case r := <-b.in:
			pending = append(pending, r)
			items = append(items, r.items...)
			if len(items) >= b.maxItems {
				flush()
			} else if timer == nil {
				timer = time.After(b.maxDelay)
			}
		case <-timer:
			flush()
		case <-b.stop:
			for _, r := range pending {
				close(r.done)
			}
			work.Wait()
			return
		}
	}
}
