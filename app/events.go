package app

import (
	"sync"

	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	ics23 "github.com/cosmos/ics23/go"

	"github.com/tabella/tabella/ledger"
)

// ProofOpICS23 is the proof op type of Tabella's single-layer IAVL proofs.
const ProofOpICS23 = "ics23:iavl"

// ProofOp wraps an ICS23 proof in CometBFT's ProofOps.
func ProofOp(key []byte, p *ics23.CommitmentProof) (*cmtcrypto.ProofOps, error) {
	b, err := p.Marshal()
	if err != nil {
		return nil, err
	}
	return &cmtcrypto.ProofOps{Ops: []cmtcrypto.ProofOp{{Type: ProofOpICS23, Key: key, Data: b}}}, nil
}

// TxOutcome is what happened to one tx in a committed block.
type TxOutcome struct {
	Hash   []byte
	Height int64
	Code   ledger.Code
	Log    string
}

// CommitEvents tells waiters when their txs are committed. It replaces
// CometBFT event subscriptions, which are capped per client and would
// throttle many concurrent waiting broadcasts.
type CommitEvents struct {
	mu      sync.Mutex
	waiters map[string][]chan TxOutcome
	heights []chan int64
}

// NewCommitEvents returns an empty notifier.
func NewCommitEvents() *CommitEvents {
	return &CommitEvents{waiters: make(map[string][]chan TxOutcome)}
}

// WaitTx registers interest in a tx hash. Register before broadcasting so a
// fast commit cannot be missed; call cancel when done waiting.
func (e *CommitEvents) WaitTx(hash []byte) (<-chan TxOutcome, func()) {
	ch := make(chan TxOutcome, 1)
	k := string(hash)
	e.mu.Lock()
	e.waiters[k] = append(e.waiters[k], ch)
	e.mu.Unlock()
	return ch, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		list := e.waiters[k]
		for i, c := range list {
			if c == ch {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(e.waiters, k)
		} else {
			e.waiters[k] = list
		}
	}
}

// WatchHeights returns a channel receiving every committed height (the
// newest wins when the reader is slow) and a cancel function.
func (e *CommitEvents) WatchHeights() (<-chan int64, func()) {
	ch := make(chan int64, 1)
	e.mu.Lock()
	e.heights = append(e.heights, ch)
	e.mu.Unlock()
	return ch, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		for i, c := range e.heights {
			if c == ch {
				e.heights = append(e.heights[:i], e.heights[i+1:]...)
				return
			}
		}
	}
}

func (e *CommitEvents) publish(height int64, outcomes []TxOutcome) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, o := range outcomes {
		k := string(o.Hash)
		for _, ch := range e.waiters[k] {
			ch <- o // buffered, one outcome per waiter
		}
		delete(e.waiters, k)
	}
	for _, ch := range e.heights {
		select {
		case <-ch:
		default:
		}
		ch <- height
	}
}
