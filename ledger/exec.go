package ledger

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// execCtx is the environment one transaction (or one scheduled event) runs
// in: a write overlay and the block's height and time.
type execCtx struct {
	kv      *overlay
	chainID string
	height  int64
	// time is the block time in unix seconds: every schedule in the
	// ledger is compared against it, never against a wall clock.
	time int64
	// valUpdates collects validator power changes for this block.
	valUpdates []ValidatorUpdate
	// blockHash is the hash of the block being executed (empty in
	// CheckTx): the seed of election tie-breaks.
	blockHash []byte
	// tallyLeft is what is left of the block's budget of option reads
	// for counting closed initiatives (TallyReadsPerBlock).
	tallyLeft int
	// sigs caches verified signatures (nil: verify every time).
	sigs *SigCache
	// views keeps decoded headers for reading only, shared by the txs of
	// one memo reader's scope (nil: decode every time).
	views *viewCache
}

func (c *execCtx) get(key []byte, m proto.Message) (bool, error) {
	return getProto(c.kv, key, m)
}

func (c *execCtx) put(key []byte, m proto.Message) {
	c.kv.Set(key, marshal(m))
}

// child returns a context whose writes land in a fresh overlay over c's.
func (c *execCtx) child() *execCtx {
	cc := *c
	cc.kv = newOverlay(c.kv)
	cc.valUpdates = nil
	return &cc
}

// commitChild merges a successful child's writes into c.
func (c *execCtx) commitChild(cc *execCtx) {
	cc.kv.mergeInto(c.kv)
	c.valUpdates = append(c.valUpdates, cc.valUpdates...)
}

// deliver executes a decoded tx. A returned *Error is a rejection; any other
// error is a fault of the node (storage), not of the tx.
func (c *execCtx) deliver(d *DecodedTx) error {
	switch m := d.Body.Msg.(type) {
	case *tabellav1.TxBody_CastBallot:
		return c.castBallot(d, m.CastBallot)
	case *tabellav1.TxBody_CreateInitiative:
		return c.createInitiative(d, m.CreateInitiative)
	case *tabellav1.TxBody_GovPropose:
		return c.govPropose(d, m.GovPropose)
	case *tabellav1.TxBody_GovVote:
		return c.govVote(d, m.GovVote)
	case *tabellav1.TxBody_SubmitProposal:
		return c.submitProposal(d, m.SubmitProposal)
	case *tabellav1.TxBody_RegisterCandidate:
		return c.registerCandidate(d, m.RegisterCandidate)
	case *tabellav1.TxBody_ReviewProposal:
		return c.reviewProposal(d, m.ReviewProposal)
	case *tabellav1.TxBody_WithdrawBallot:
		return c.withdrawBallot(d, m.WithdrawBallot)
	case *tabellav1.TxBody_CancelInitiative:
		return c.cancelInitiative(d, m.CancelInitiative)
	case *tabellav1.TxBody_RegisterTrusteeKey:
		return c.registerTrusteeKey(d, m.RegisterTrusteeKey)
	case *tabellav1.TxBody_TrusteeDeal:
		return c.trusteeDeal(d, m.TrusteeDeal)
	case *tabellav1.TxBody_TrusteeComplaint:
		return c.trusteeComplaint(d, m.TrusteeComplaint)
	case *tabellav1.TxBody_DecryptionShare:
		return c.decryptionShare(d, m.DecryptionShare)
	default:
		return Errorf(CodeMalformedTx, "unknown message type %T", m)
	}
}

func (c *execCtx) party(id string) (*tabellav1.Party, error) {
	var p tabellav1.Party
	ok, err := c.get(PartyKey(id), &p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, Errorf(CodeNotFound, "party %q is not in the consortium", id)
	}
	return &p, nil
}

func (c *execCtx) issuer(id string) (*tabellav1.Issuer, bool, error) {
	var is tabellav1.Issuer
	ok, err := c.get(IssuerKey(id), &is)
	return &is, ok, err
}

func (c *execCtx) organiser(id string) (*tabellav1.Organiser, bool, error) {
	var o tabellav1.Organiser
	ok, err := c.get(OrganiserKey(id), &o)
	return &o, ok, err
}

func (c *execCtx) initiative(id string) (*tabellav1.Initiative, error) {
	var in tabellav1.Initiative
	ok, err := c.get(InitiativeKey(id), &in)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, Errorf(CodeNotFound, "initiative %q does not exist", id)
	}
	return &in, nil
}

// enqueue schedules an event at block time at. Events are processed by the
// first block whose time is at or past at; callers only schedule events in
// the future, so the queue cursor never passes an unprocessed event.
func (c *execCtx) enqueue(at int64, kind byte, id string) error {
	if at <= c.time {
		return fmt.Errorf("ledger: event %d for %q scheduled at %d, not after block time %d", kind, id, at, c.time)
	}
	c.kv.Set(queueKey(at, kind, id), []byte(id))
	return nil
}
