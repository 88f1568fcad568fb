package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"

	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// Closing an initiative reads the count of every option (and, for a
// budget, its cost). A block reads at most TallyReadsPerBlock such entries
// across all initiatives it closes; an initiative that needs more is
// CLOSING until a later block completes its count. Ballots stop at the
// block that ends voting either way.

// beginCount ends voting: it records the closing block and counts as much
// as the block's budget allows.
func (c *execCtx) beginCount(in *tabellav1.Initiative) error {
	prog := &tabellav1.TallyProgress{ClosedHeight: c.height, ClosedTime: c.time}
	if in.Spec.Kind == kindElection {
		prog.Seed = append([]byte{}, c.blockHash...)
	}
	if Sealed(in.Spec) {
		return c.beginSealedCount(in, prog)
	}
	return c.countStep(in, prog)
}

// continueCount is the event that resumes a CLOSING initiative's count.
func (c *execCtx) continueCount(id string) error {
	h, err := c.header(id)
	if err != nil {
		return err
	}
	if h.Status != statusClosing {
		return nil
	}
	var prog tabellav1.TallyProgress
	ok, err := c.get(ProgressKey(id), &prog)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("ledger: initiative %q is CLOSING without a count in progress", id)
	}
	in, err := c.initiative(id)
	if err != nil {
		return err
	}
	return c.countStep(in, &prog)
}

// countStep reads options from prog.next on while the block's budget
// lasts, then either freezes the result or leaves the initiative CLOSING
// and schedules the next step for the next block.
func (c *execCtx) countStep(in *tabellav1.Initiative, prog *tabellav1.TallyProgress) error {
	id := in.Spec.Id
	var tally tabellav1.Tally
	if _, err := c.get(TallyKey(id), &tally); err != nil {
		return err
	}
	n := optionCount(in, &tally)
	budget := in.Spec.Kind == kindBudget
	cost := 1
	if budget {
		cost = 2
	}
	for prog.Next < n && c.tallyLeft >= cost {
		cnt, err := readCount(c.kv, CountKey(id, prog.Next))
		if err != nil {
			return err
		}
		prog.Counts = append(prog.Counts, cnt)
		if budget {
			o, err := c.option(id, prog.Next)
			if err != nil {
				return err
			}
			prog.Costs = append(prog.Costs, o.Cost)
		}
		prog.Next++
		c.tallyLeft -= cost
	}
	if prog.Next < n {
		if in.Status != statusClosing {
			c.setStatus(in, statusClosing)
			c.saveInitiative(in)
		}
		c.put(ProgressKey(id), prog)
		return c.enqueue(c.time+1, eventContinueTally, id)
	}
	in.Result = computeResult(in.Spec, &tally, prog, c.height)
	c.setStatus(in, statusClosed)
	c.saveInitiative(in)
	return nil
}

// option reads an option stored under its option key.
func (c *execCtx) option(id string, i uint32) (*tabellav1.Option, error) {
	var o tabellav1.Option
	ok, err := c.get(OptionKey(id, i), &o)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("ledger: option %d of %q is missing", i, id)
	}
	return &o, nil
}

// computeResult freezes the result from the complete counts.
func computeResult(spec *tabellav1.InitiativeSpec, t *tabellav1.Tally, prog *tabellav1.TallyProgress, height int64) *tabellav1.Result {
	rule := spec.GetResultRule()
	r := &tabellav1.Result{
		Turnout:       t.Turnout,
		QuorumMet:     QuorumMet(rule, t.Turnout),
		Counts:        prog.Counts,
		ClosedHeight:  prog.ClosedHeight,
		ClosedTime:    prog.ClosedTime,
		TalliedHeight: height,
	}
	switch spec.Kind {
	case kindConsultation:
		r.Winners = pluralityWinners(prog.Counts)
	case kindBudget:
		r.Ranking = RankBudget(prog.Counts, prog.Costs)
		r.Winners, r.FundedTotal = FundGreedy(r.Ranking, prog.Counts, prog.Costs, spec.Budget.Total)
	case kindElection:
		r.TiebreakSeed = prog.Seed
		r.Ranking = RankElection(prog.Counts, prog.Seed)
		r.Winners = Elected(r.Ranking, prog.Counts, rule.GetSeats())
	case kindPetition:
		r.Outcome = tabellav1.ResultOutcome_RESULT_OUTCOME_FAILED
		if t.Turnout >= rule.GetSignatureThreshold() {
			r.Outcome = tabellav1.ResultOutcome_RESULT_OUTCOME_SUCCEEDED
			r.ThresholdReachedHeight = t.ThresholdReachedHeight
		}
	}
	return r
}

// QuorumMet applies a result rule's quorum to a turnout: an absolute
// quorum, or a share of the declared electorate, rounded up:
// turnout * 10000 >= quorum_share_bp * electorate. No quorum is always met.
func QuorumMet(rule *tabellav1.ResultRule, turnout uint64) bool {
	if bp := uint64(rule.GetQuorumShareBp()); bp > 0 {
		// electorate <= 10^10 and bp <= 10^4: no overflow. turnout can
		// exceed the declared electorate; cap it before multiplying.
		return min(turnout, rule.GetElectorate())*BasisPoints >= bp*rule.GetElectorate()
	}
	return turnout >= rule.GetQuorum()
}

// pluralityWinners returns every option index holding the highest count, in
// increasing order; nobody wins when no option has a vote.
func pluralityWinners(counts []uint64) []uint32 {
	var best uint64
	for _, n := range counts {
		if n > best {
			best = n
		}
	}
	if best == 0 {
		return nil
	}
	var w []uint32
	for i, n := range counts {
		if n == best {
			w = append(w, uint32(i))
		}
	}
	return w
}

// RankBudget orders projects best first: more votes first; on equal votes
// the cheaper project first (it leaves more of the budget to the others);
// on equal votes and cost the lower option index (the earlier approval)
// first. The order is total, so it does not depend on the sort algorithm.
func RankBudget(counts, costs []uint64) []uint32 {
	r := identity(len(counts))
	slices.SortFunc(r, func(a, b uint32) int {
		switch {
		case counts[a] != counts[b]:
			return cmpDesc(counts[a], counts[b])
		case costs[a] != costs[b]:
			return cmpAsc(costs[a], costs[b])
		}
		return cmpAsc(a, b)
	})
	return r
}

// FundGreedy walks the ranking and funds each project with at least one
// vote whose cost fits in what is left of the budget; a project that does
// not fit is skipped and the walk goes on. It returns the funded option
// indexes in increasing order and their total cost.
func FundGreedy(ranking []uint32, counts, costs []uint64, total uint64) ([]uint32, uint64) {
	var funded []uint32
	var spent uint64
	for _, i := range ranking {
		if counts[i] == 0 {
			break // the ranking puts every project without votes last
		}
		if costs[i] <= total-spent {
			funded = append(funded, i)
			spent += costs[i]
		}
	}
	slices.Sort(funded)
	return funded, spent
}

// ElectionTieKey is SHA-256(seed || be32(option index)): among candidates
// with equal votes, the lower key ranks first. seed is the hash of the
// block that ended voting, unknown before that block is decided.
func ElectionTieKey(seed []byte, option uint32) [32]byte {
	return sha256.Sum256(binary.BigEndian.AppendUint32(append([]byte{}, seed...), option))
}

// RankElection orders candidates best first: more votes first, then by
// ElectionTieKey, then by option index.
func RankElection(counts []uint64, seed []byte) []uint32 {
	keys := make([][32]byte, len(counts))
	for i := range keys {
		keys[i] = ElectionTieKey(seed, uint32(i))
	}
	r := identity(len(counts))
	slices.SortFunc(r, func(a, b uint32) int {
		if counts[a] != counts[b] {
			return cmpDesc(counts[a], counts[b])
		}
		if c := bytes.Compare(keys[a][:], keys[b][:]); c != 0 {
			return c
		}
		return cmpAsc(a, b)
	})
	return r
}

// Elected returns the first seats candidates of the ranking that have at
// least one vote, in increasing option order.
func Elected(ranking []uint32, counts []uint64, seats uint32) []uint32 {
	var out []uint32
	for _, i := range ranking {
		if uint32(len(out)) == seats || counts[i] == 0 {
			break
		}
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

func identity(n int) []uint32 {
	r := make([]uint32, n)
	for i := range r {
		r[i] = uint32(i)
	}
	return r
}

func cmpAsc[T uint32 | uint64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpDesc[T uint32 | uint64](a, b T) int { return -cmpAsc(a, b) }
