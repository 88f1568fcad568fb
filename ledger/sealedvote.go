package ledger

import (
	"crypto/sha256"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/tabella/tabella/ledger/sealed"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// MaxSealedBallotTxBytes caps a Tx carrying a sealed ballot: a ballot of
// MaxSealedOptions options with the widest range proof and 50 slack bits
// of a budget is 41,094 bytes (docs/sealed-ballots.md §1), plus an RSA
// token or a credential.
const MaxSealedBallotTxBytes = 64 << 10

// sealedCachePrefix starts the cache key of a verified sealed ballot; like
// tokenKeyPrefix it cannot collide with an ed25519 entry in practice.
const sealedCachePrefix = "tabella/sealed-cache/v1"

// sealedKeyOf identifies a ballot verification: everything the verdict
// depends on (joint key, context, rules, ballot bytes) is hashed, so a hit
// means the very same check succeeded before, and the node decides the
// same with or without its cache.
func sealedKeyOf(y, context []byte, r sealed.Rules, ballot []byte) sigKey {
	h := sha256.New()
	h.Write([]byte(sealedCachePrefix))
	h.Write(y)
	h.Write(be32(uint32(len(context))))
	h.Write(context)
	h.Write(be32(uint32(r.Options)))
	h.Write(be32(uint32(r.Min)))
	h.Write(be32(uint32(r.Max)))
	h.Write(be64(r.Budget))
	h.Write(be32(uint32(len(r.Costs))))
	for _, c := range r.Costs {
		h.Write(be64(c))
	}
	h.Write(ballot)
	var k sigKey
	h.Sum(k[:0])
	return k
}

// VerifySealedBallot decodes a sealed ballot and verifies its proofs for
// voter in the initiative st describes, answering from cache (may be nil)
// when the same verification succeeded before: the cache keeps the decoded
// ballot too, so a hit costs a hash. A rejection is BAD_SEALED_BALLOT.
func VerifySealedBallot(cache *SigCache, chainID string, st *tabellav1.SealedState, voter, raw []byte) (*sealed.Ballot, error) {
	ctx := SealedBallotContext(chainID, st.InitiativeId, voter)
	rules := SealedRules(st)
	k := sealedKeyOf(st.JointKey, ctx, rules, raw)
	if cache != nil {
		if b, ok := cache.sealed.get(k); ok {
			return b, nil
		}
	}
	b, err := sealed.DecodeBallot(raw)
	if err != nil {
		return nil, Errorf(CodeBadSealedBallot, "the sealed ballot does not decode: %v", err)
	}
	y, err := sealed.DecodePublicKey(st.JointKey)
	if err != nil {
		return nil, fmt.Errorf("ledger: joint key of %q: %w", st.InitiativeId, err)
	}
	if err := sealed.VerifyBallot(y, ctx, rules, b); err != nil {
		what := fmt.Sprintf("every option 0 or 1, %d to %d selections", rules.Min, rules.Max)
		if rules.IsBudget() {
			what += fmt.Sprintf(", a cost within the budget of %d", rules.Budget)
		}
		return nil, Errorf(CodeBadSealedBallot, "the sealed ballot is rejected: its proofs must show %s, under initiative %q's key and for this voter key: %v", what, st.InitiativeId, err)
	}
	if cache != nil {
		cache.sealed.put(k, b)
	}
	return b, nil
}

// checkSealedBallot verifies the sealed ballot of a CastBallot.
func (c *execCtx) checkSealedBallot(d *DecodedTx, m *tabellav1.CastBallot) (*sealed.Ballot, error) {
	st, err := c.sealedState(m.InitiativeId)
	if err != nil {
		return nil, err
	}
	if st.Status != ceremonyReady {
		return nil, Errorf(CodeKeyNotReady, "initiative %q has no election key yet (key ceremony %s)", m.InitiativeId, ceremonyName(st.Status))
	}
	if err := SealedRules(st).Validate(); err != nil {
		// Options from a proposal window too few for the rules: no
		// ballot can be valid, as in a public initiative.
		return nil, Errorf(CodeSelectionCount, "initiative %q has %d options on the ballot; its rules (%d to %d selections) cannot be met", m.InitiativeId, st.Options, st.MinSelections, st.MaxSelections)
	}
	return VerifySealedBallot(c.sigs, c.chainID, st, d.Signer, m.SealedBallot)
}

// recordedSealedBallot decodes the sealed ballot of a recorded ballot, to
// subtract it from the tally when it is superseded or withdrawn. It was
// verified when it was cast.
func recordedSealedBallot(rec *tabellav1.BallotRecord) (*sealed.Ballot, error) {
	var tx tabellav1.Tx
	if err := proto.Unmarshal(rec.Tx, &tx); err != nil {
		return nil, fmt.Errorf("ledger: recorded ballot tx: %w", err)
	}
	var body tabellav1.TxBody
	if err := proto.Unmarshal(tx.Body, &body); err != nil {
		return nil, fmt.Errorf("ledger: recorded ballot body: %w", err)
	}
	b, err := sealed.DecodeBallot(body.GetCastBallot().GetSealedBallot())
	if err != nil {
		return nil, fmt.Errorf("ledger: recorded sealed ballot: %w", err)
	}
	return b, nil
}

// moveSealed subtracts sub (a superseded or withdrawn ballot) from and
// adds add to the encrypted tally; either may be nil.
func moveSealed(t *tabellav1.Tally, options uint32, sub, add *sealed.Ballot) error {
	var enc *sealed.Tally
	var err error
	if len(t.Encrypted) == 0 {
		enc, err = sealed.NewTally(int(options))
	} else {
		enc, err = sealed.DecodeTally(t.Encrypted)
	}
	if err != nil {
		return fmt.Errorf("ledger: encrypted tally of %q: %w", t.InitiativeId, err)
	}
	if sub != nil {
		if err := enc.Sub(sub); err != nil {
			return fmt.Errorf("ledger: subtract a sealed ballot in %q: %w", t.InitiativeId, err)
		}
	}
	if add != nil {
		if err := enc.Add(add); err != nil {
			return fmt.Errorf("ledger: add a sealed ballot in %q: %w", t.InitiativeId, err)
		}
	}
	t.Encrypted = enc.Bytes()
	return nil
}

// emptySealedTally is the encrypted tally of no ballots.
func emptySealedTally(options int) []byte {
	t, err := sealed.NewTally(options)
	if err != nil {
		return nil // unreachable: options were validated
	}
	return t.Bytes()
}

// beginSealedCount ends voting of a sealed initiative: it waits, CLOSING,
// for the trustees' decryption shares. Without any live ballot every
// count is zero and the result is frozen at once.
func (c *execCtx) beginSealedCount(in *tabellav1.Initiative, prog *tabellav1.TallyProgress) error {
	id := in.Spec.Id
	var tally tabellav1.Tally
	if _, err := c.get(TallyKey(id), &tally); err != nil {
		return err
	}
	if tally.Turnout == 0 {
		return c.freezeSealed(in, &tally, prog, make([]uint64, optionCount(in, &tally)), nil)
	}
	c.setStatus(in, statusClosing)
	c.saveInitiative(in)
	c.put(ProgressKey(id), prog)
	return nil
}

// freezeSealed writes the decrypted counts and the result.
func (c *execCtx) freezeSealed(in *tabellav1.Initiative, tally *tabellav1.Tally, prog *tabellav1.TallyProgress, counts []uint64, by []uint32) error {
	id := in.Spec.Id
	prog.Counts = counts
	prog.Next = uint32(len(counts))
	prog.Costs = nil
	for i, n := range counts {
		c.kv.Set(CountKey(id, uint32(i)), be64(n))
		if in.Spec.Kind == kindBudget {
			// Every budget option, listed or approved, has an o/ key.
			o, err := c.option(id, uint32(i))
			if err != nil {
				return err
			}
			prog.Costs = append(prog.Costs, o.Cost)
		}
	}
	in.Result = computeResult(in.Spec, tally, prog, c.height)
	in.Result.DecryptedBy = by
	c.setStatus(in, statusClosed)
	c.saveInitiative(in)
	return nil
}

func (c *execCtx) decryptionShare(d *DecodedTx, m *tabellav1.DecryptionShare) error {
	h, err := c.sealedHeader(m.InitiativeId)
	if err != nil {
		return err
	}
	j, err := c.trusteeIndex(d, h.Spec, m.PartyId)
	if err != nil {
		return err
	}
	switch h.Status {
	case statusClosing:
	case statusClosed:
		return Errorf(CodeWrongPhase, "initiative %q is already decrypted and CLOSED", m.InitiativeId)
	case statusCancelled:
		return notActive(m.InitiativeId, h.Status)
	default:
		return Errorf(CodeWrongPhase, "initiative %q is %s: decryption shares are accepted once voting has closed (%s)", m.InitiativeId, statusName(h.Status), windowText(h.Spec.Schedule))
	}
	st, err := c.sealedState(m.InitiativeId)
	if err != nil {
		return err
	}
	if st.Status != ceremonyReady {
		return Errorf(CodeKeyNotReady, "initiative %q has no election key (key ceremony %s)", m.InitiativeId, ceremonyName(st.Status))
	}
	if slices.Contains(st.Shared, uint32(j)) {
		return Errorf(CodeAlreadyExists, "trustee %q has already posted its decryption share for initiative %q", m.PartyId, m.InitiativeId)
	}
	p, err := sealed.DecodePartialDecryption(m.Share)
	if err != nil {
		return Errorf(CodeBadDecryptionShare, "decryption share does not decode: %v", err)
	}
	if p.Index() != j {
		return Errorf(CodeBadDecryptionShare, "decryption share is for trustee index %d; party %q is trustee %d", p.Index(), m.PartyId, j)
	}
	var tally tabellav1.Tally
	if _, err := c.get(TallyKey(m.InitiativeId), &tally); err != nil {
		return err
	}
	enc, err := sealed.DecodeTally(tally.Encrypted)
	if err != nil {
		return fmt.Errorf("ledger: encrypted tally of %q: %w", m.InitiativeId, err)
	}
	yj, err := sealed.DecodePublicKey(st.VerificationKeys[j-1])
	if err != nil {
		return fmt.Errorf("ledger: verification key %d of %q: %w", j, m.InitiativeId, err)
	}
	if err := sealed.VerifyPartial(SealedDecryptContext(c.chainID, m.InitiativeId), yj, enc, p); err != nil {
		return Errorf(CodeBadDecryptionShare, "the decryption share of trustee %q is wrong: its proof does not match the trustee's verification key and the closing tally, so it is not counted: %v", m.PartyId, err)
	}
	c.kv.Set(ShareKey(m.InitiativeId, uint32(j)), m.Share)
	st.Shared = insertSorted(st.Shared, uint32(j))
	c.put(SealedKey(m.InitiativeId), st)
	t := int(st.Threshold)
	if len(st.Shared) < t {
		return nil
	}
	// The t-th valid share: combine the t lowest-indexed ones (what
	// Combine uses), recover the counts up to the turnout and freeze.
	used := st.Shared[:t]
	partials := make([]*sealed.PartialDecryption, 0, t)
	for _, i := range used {
		raw, err := c.kv.Get(ShareKey(m.InitiativeId, i))
		if err != nil {
			return err
		}
		pi, err := sealed.DecodePartialDecryption(raw)
		if err != nil {
			return fmt.Errorf("ledger: stored share %d of %q: %w", i, m.InitiativeId, err)
		}
		partials = append(partials, pi)
	}
	table, err := sealed.NewDLogTable(tally.Turnout, isqrt(tally.Turnout)+1)
	if err != nil {
		return fmt.Errorf("ledger: discrete-log table for %q: %w", m.InitiativeId, err)
	}
	counts, err := sealed.Combine(table, t, enc, partials)
	if err != nil {
		return fmt.Errorf("ledger: combine the shares of %q: %w", m.InitiativeId, err)
	}
	in, err := c.initiative(m.InitiativeId)
	if err != nil {
		return err
	}
	var prog tabellav1.TallyProgress
	ok, err := c.get(ProgressKey(m.InitiativeId), &prog)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("ledger: sealed initiative %q is CLOSING without its closing record", m.InitiativeId)
	}
	return c.freezeSealed(in, &tally, &prog, counts, slices.Clone(used))
}

// isqrt is ⌊√n⌋ in integers: consensus code uses no floats.
func isqrt(n uint64) uint64 {
	var r uint64
	for bit := uint64(1) << 31; bit > 0; bit >>= 1 {
		if t := r | bit; t*t <= n {
			r = t
		}
	}
	return r
}

func ceremonyName(s tabellav1.CeremonyStatus) string {
	const p = "CEREMONY_STATUS_"
	n := s.String()
	if len(n) > len(p) && n[:len(p)] == p {
		return n[len(p):]
	}
	return n
}

// sealedItem is a sealed ballot to verify ahead of execution.
type sealedItem struct {
	st    *tabellav1.SealedState
	voter []byte
	raw   []byte
}

// sealedOf finds a sealed ballot and its initiative's ready key in r; ok
// is false for anything else or anything malformed, which execution
// rejects with the proper error.
func (l *Ledger) sealedOf(e *envelope, r reader) (sealedItem, bool) {
	cb := e.body.GetCastBallot()
	if len(cb.GetSealedBallot()) == 0 || !ValidID(cb.InitiativeId) {
		return sealedItem{}, false
	}
	var st tabellav1.SealedState
	if ok, err := getProto(r, SealedKey(cb.InitiativeId), &st); err != nil || !ok || st.Status != ceremonyReady {
		return sealedItem{}, false
	}
	return sealedItem{&st, e.tx.Signatures[0].PublicKey, cb.SealedBallot}, true
}

// preverifySealed verifies a block's sealed ballots on every core before
// sequential execution, which then finds them cached (a ballot CheckTx
// already verified is a cache hit here too). Only the outcome "valid" is
// cached, and it is a pure function of the hashed inputs, so this changes
// nothing but the time a block takes.
func (l *Ledger) preverifySealed(envs []*envelope, r reader) {
	var todo []sealedItem
	for _, e := range envs {
		if it, ok := l.sealedOf(e, r); ok {
			todo = append(todo, it)
		}
	}
	if len(todo) == 0 {
		return
	}
	onEveryCore(len(todo), func(i int) {
		it := todo[i]
		_, _ = VerifySealedBallot(l.sigs, l.chainID, it.st, it.voter, it.raw)
	})
}
