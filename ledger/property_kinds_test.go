package ledger_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// The property test's model of the initiative kinds: budgets, elections
// and petitions, proposals and their review, withdrawals and
// cancellations. Everything here is stated independently of the ledger's
// code (statuses, the dual review rule, rankings, funding, quorum).

type propOption struct {
	id   string
	cost uint64
}

type propSub struct {
	id        string
	submitter string
	cost      uint64
	status    tabellav1.ProposalStatus
	reviews   map[string]bool // party ("" for the organiser) -> approve
	index     uint32
}

func newPropInitiative(spec *tabellav1.InitiativeSpec, organiser string) *propInitiative {
	m := &propInitiative{
		spec:      spec,
		organiser: organiser,
		live:      map[string]propBallot{},
		history:   map[string][]uint64{},
		maxSeq:    map[string]uint64{},
		accepted:  map[string][][]byte{},
		subs:      map[string]*propSub{},
		perPerson: map[string]int{},
		withdrawn: map[string]uint64{},
	}
	for _, o := range spec.Options {
		m.options = append(m.options, propOption{id: o.Id, cost: o.Cost})
	}
	return m
}

func (m *propInitiative) kind() tabellav1.InitiativeKind { return m.spec.Kind }

func (m *propInitiative) reviewMode() tabellav1.ReviewMode { return m.spec.GetProposals().GetReview() }

func (m *propInitiative) reviewed() bool {
	r := m.reviewMode()
	return r == reviewDual || r == reviewOrg
}

// statusAt is the status the model expects once the events of a block at
// time t have run.
func (m *propInitiative) statusAt(t int64) tabellav1.InitiativeStatus {
	if m.cancelledAt != 0 && t >= m.cancelledAt {
		return sCancelled
	}
	sc := m.spec.Schedule
	if m.spec.Proposals != nil {
		if t < sc.ProposalsOpensAt {
			return sScheduled
		}
		if t < sc.ProposalsClosesAt {
			return sProposals
		}
		if t < sc.VotingOpensAt {
			if m.reviewed() {
				return sReview
			}
			return sScheduled
		}
	}
	switch {
	case t < sc.VotingOpensAt:
		return sScheduled
	case t < sc.VotingClosesAt:
		return sVoting
	}
	return sClosed
}

// approve puts a proposal on the model's ballot.
func (m *propInitiative) approve(s *propSub) {
	s.status = tabellav1.ProposalStatus_PROPOSAL_STATUS_APPROVED
	s.index = uint32(len(m.options))
	m.options = append(m.options, propOption{id: s.id, cost: s.cost})
}

// budgetBallotOK is the budget ballot rule: the count bounds, then the
// cost of the selection.
func budgetBallotOK(m *propInitiative, sel []uint32) bool {
	b, r := m.spec.Budget, m.spec.Ballot
	n := uint32(len(sel))
	if n < r.MinSelections || (r.MaxSelections > 0 && n > r.MaxSelections) {
		return false
	}
	var sum uint64
	for _, s := range sel {
		if int(s) >= len(m.options) {
			return false
		}
		sum += m.options[s].cost
	}
	switch b.BallotRule {
	case tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_WITHIN_BUDGET:
		return sum <= b.Total
	case tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_MIN_SHARE:
		return sum <= b.Total && sum*10000 >= uint64(b.MinShareBp)*b.Total
	}
	return true
}

// refQuorum: turnout of at least the quorum, or at least quorum_share_bp
// of the declared electorate (rounded up).
func refQuorum(r *tabellav1.ResultRule, turnout uint64) bool {
	if bp := r.GetQuorumShareBp(); bp > 0 {
		need := (r.GetElectorate()*uint64(bp) + 9999) / 10000
		return turnout >= need
	}
	return turnout >= r.GetQuorum()
}

// refElectionRanks ranks candidates by votes, then by SHA-256(seed ||
// be32(index)), then by index; it returns the option at each position.
func refElectionRanking(counts []uint64, seed []byte) []uint32 {
	key := func(i int) []byte {
		h := sha256.Sum256(binary.BigEndian.AppendUint32(slices.Clone(seed), uint32(i)))
		return h[:]
	}
	pos := make([]uint32, len(counts))
	for p := range counts {
		rank := 0
		for q := range counts {
			if counts[q] > counts[p] || counts[q] == counts[p] && (bytes.Compare(key(q), key(p)) < 0 || bytes.Equal(key(q), key(p)) && q < p) {
				rank++
			}
		}
		pos[rank] = uint32(p)
	}
	return pos
}

// refBudgetResult ranks and funds projects by the documented rule.
func refBudgetResult(counts []uint64, opts []propOption, total uint64) (ranking, funded []uint32, spent uint64) {
	costs := make([]uint64, len(opts))
	for i, o := range opts {
		costs[i] = o.cost
	}
	ranks := refRanks(counts, costs)
	ranking = make([]uint32, len(counts))
	for p, r := range ranks {
		ranking[r] = uint32(p)
	}
	for _, p := range ranking {
		if counts[p] > 0 && costs[p] <= total-spent {
			funded = append(funded, p)
			spent += costs[p]
		}
	}
	slices.Sort(funded)
	return ranking, funded, spent
}

func (r *propRun) checkInitiative(v *ledger.View, id string, m *propInitiative) {
	t := r.t
	in, err := v.Initiative(id)
	if err != nil {
		t.Fatal(err)
	}
	if !m.created {
		if in != nil {
			t.Errorf("height %d: initiative %q exists, but no creation was accepted", r.height, id)
		}
		return
	}
	if in == nil {
		t.Errorf("height %d: initiative %q was accepted but is missing", r.height, id)
		return
	}
	sc := m.spec.Schedule
	if want := m.statusAt(r.now); in.Status != want {
		t.Errorf("height %d time %d: %s %q is %s, want %s (schedule %v, cancelled at %d)", r.height, r.now, m.kind(), id, in.Status, want, sc, m.cancelledAt)
	}
	if (in.Cancellation != nil) != (m.cancelledAt != 0) {
		t.Errorf("height %d: %q cancellation %v, model cancelled at %d", r.height, id, in.Cancellation, m.cancelledAt)
	}
	if len(in.History) == 0 || in.History[len(in.History)-1].Status != in.Status {
		t.Errorf("height %d: %q history %v does not end with its status %s", r.height, id, in.History, in.Status)
	}

	// Options and proposals.
	if len(in.Spec.Options) != len(m.options) {
		t.Errorf("height %d: %q has %d options, the model %d", r.height, id, len(in.Spec.Options), len(m.options))
	} else {
		for i, o := range in.Spec.Options {
			if o.Id != m.options[i].id || o.Cost != m.options[i].cost {
				t.Errorf("height %d: %q option %d is %s/%d, the model's %s/%d", r.height, id, i, o.Id, o.Cost, m.options[i].id, m.options[i].cost)
			}
		}
	}
	for _, sid := range m.subOrder {
		s := m.subs[sid]
		p, err := v.Proposal(id, sid)
		if err != nil || p == nil {
			t.Errorf("height %d: %q proposal %s: %v %v", r.height, id, sid, p, err)
			continue
		}
		if p.Status != s.status || len(p.Reviews) != len(s.reviews) || p.Cost != s.cost || !bytes.Equal(p.Submitter, pub(s.submitter)) {
			t.Errorf("height %d: %q proposal %s is %s with %d reviews, the model %s with %d", r.height, id, sid, p.Status, len(p.Reviews), s.status, len(s.reviews))
		}
		if s.status == tabellav1.ProposalStatus_PROPOSAL_STATUS_APPROVED && p.OptionIndex != s.index {
			t.Errorf("height %d: %q proposal %s is option %d, the model %d", r.height, id, sid, p.OptionIndex, s.index)
		}
	}

	// Tally against the live ballots.
	tl, err := v.Tally(id)
	if err != nil || tl == nil {
		t.Fatalf("tally %q: %v %v", id, tl, err)
	}
	wantCounts := make([]uint64, len(m.options))
	for _, b := range m.live {
		for _, s := range b.sel {
			wantCounts[s]++
		}
	}
	if !slices.Equal(tl.Counts, wantCounts) {
		t.Errorf("height %d: %q: counts %v, live ballots give %v", r.height, id, tl.Counts, wantCounts)
	}
	if tl.Turnout != uint64(len(m.live)) || tl.BallotsCast != m.cast || tl.Withdrawals != m.withdrawals {
		t.Errorf("height %d: %q: turnout %d cast %d withdrawals %d, model %d %d %d", r.height, id, tl.Turnout, tl.BallotsCast, tl.Withdrawals, len(m.live), m.cast, m.withdrawals)
	}
	if tl.OptionCount != uint32(len(m.options)) || tl.Proposals != uint32(len(m.subs)) {
		t.Errorf("height %d: %q: %d options and %d proposals, model %d and %d", r.height, id, tl.OptionCount, tl.Proposals, len(m.options), len(m.subs))
	}
	if m.kind() == kPetition && tl.ThresholdReachedHeight != m.reached {
		t.Errorf("height %d: %q: threshold reached at %d, model %d", r.height, id, tl.ThresholdReachedHeight, m.reached)
	}

	// The live-ballot keys hold exactly the model's ballots.
	for _, voter := range propVoters {
		raw, err := v.Get(ledger.BallotKey(id, pub(voter)))
		if err != nil {
			t.Fatal(err)
		}
		lb, live := m.live[voter]
		wseq, withdrawn := m.withdrawn[voter]
		if (raw != nil) != (live || withdrawn) {
			t.Errorf("height %d: %q: voter %s has a ballot key: %v, model live %v withdrawn %v", r.height, id, voter, raw != nil, live, withdrawn)
			continue
		}
		if raw == nil {
			continue
		}
		var rec tabellav1.BallotRecord
		if err := proto.Unmarshal(raw, &rec); err != nil {
			t.Fatalf("ballot record: %v", err)
		}
		if withdrawn {
			if !rec.Withdrawn || rec.Sequence != wseq || len(rec.Selections) != 0 {
				t.Errorf("height %d: %q: %s's record %v, model withdrawal %d", r.height, id, voter, &rec, wseq)
			}
		} else if rec.Withdrawn || rec.Sequence != lb.seq || !slices.Equal(rec.Selections, lb.sel) || !bytes.Equal(rec.Voter, pub(voter)) {
			t.Errorf("height %d: %q: %s's ballot is seq %d %v, model seq %d %v", r.height, id, voter, rec.Sequence, rec.Selections, lb.seq, lb.sel)
		}
		if !bytes.Equal(rec.BallotHash, ledger.TxHash(rec.Tx)) {
			t.Errorf("height %d: %q: %s's ballot hash is not the hash of the recorded tx", r.height, id, voter)
		}
		if err := client.VerifyBallot(testChain, id, pub(voter), nil, &rec); err != nil {
			t.Errorf("height %d: %q: %s's record does not verify: %v", r.height, id, voter, err)
		}
		for _, seq := range m.history[voter] {
			if h, err := v.Get(ledger.HistoryKey(id, pub(voter), seq)); err != nil || h == nil {
				t.Errorf("height %d: %q: superseded ballot %s/%d is not in history (%v)", r.height, id, voter, seq, err)
			}
		}
	}

	// A frozen result never changes and matches the tally at close.
	if in.Status != sClosed {
		if in.Result != nil {
			t.Errorf("height %d: %q has a result before closing", r.height, id)
		}
		return
	}
	if m.result != nil {
		if !proto.Equal(m.result, in.Result) {
			t.Errorf("height %d: %q: frozen result changed from %v to %v", r.height, id, m.result, in.Result)
		}
		return
	}
	res := in.Result
	if res == nil {
		t.Errorf("height %d: %q is CLOSED without a result", r.height, id)
		return
	}
	m.result = proto.CloneOf(res)
	if !slices.Equal(res.Counts, wantCounts) || res.Turnout != uint64(len(m.live)) {
		t.Errorf("height %d: %q: result counts %v turnout %d, want %v %d", r.height, id, res.Counts, res.Turnout, wantCounts, len(m.live))
	}
	if m.kind() != kPetition && res.QuorumMet != refQuorum(m.spec.ResultRule, res.Turnout) {
		t.Errorf("height %d: %q: quorum_met %v with turnout %d and rule %v", r.height, id, res.QuorumMet, res.Turnout, m.spec.ResultRule)
	}
	switch m.kind() {
	case tabellav1.InitiativeKind_INITIATIVE_KIND_CONSULTATION:
		if w := propWinners(wantCounts); !slices.Equal(res.Winners, w) {
			t.Errorf("height %d: %q: winners %v, want %v", r.height, id, res.Winners, w)
		}
	case kBudget:
		ranking, funded, spent := refBudgetResult(wantCounts, m.options, m.spec.Budget.Total)
		if !slices.Equal(res.Ranking, ranking) || !slices.Equal(res.Winners, funded) || res.FundedTotal != spent {
			t.Errorf("height %d: %q: ranking %v funded %v for %d, want %v %v for %d", r.height, id, res.Ranking, res.Winners, res.FundedTotal, ranking, funded, spent)
		}
	case kElection:
		if !bytes.Equal(res.TiebreakSeed, blockHash(res.ClosedHeight)) {
			t.Errorf("height %d: %q: tie-break seed %x is not the hash of closing block %d", r.height, id, res.TiebreakSeed, res.ClosedHeight)
		}
		ranking := refElectionRanking(wantCounts, res.TiebreakSeed)
		var elected []uint32
		for _, p := range ranking {
			if uint32(len(elected)) < m.spec.ResultRule.Seats && wantCounts[p] > 0 {
				elected = append(elected, p)
			}
		}
		slices.Sort(elected)
		if !slices.Equal(res.Ranking, ranking) || !slices.Equal(res.Winners, elected) {
			t.Errorf("height %d: %q: ranking %v elected %v, want %v %v", r.height, id, res.Ranking, res.Winners, ranking, elected)
		}
	case kPetition:
		want := tabellav1.ResultOutcome_RESULT_OUTCOME_FAILED
		wantAt := int64(0)
		if uint64(len(m.live)) >= m.spec.ResultRule.SignatureThreshold {
			want, wantAt = tabellav1.ResultOutcome_RESULT_OUTCOME_SUCCEEDED, m.reached
		}
		if res.Outcome != want || res.ThresholdReachedHeight != wantAt {
			t.Errorf("height %d: %q: outcome %s reached at %d, want %s at %d", r.height, id, res.Outcome, res.ThresholdReachedHeight, want, wantAt)
		}
	}
	if res.ClosedHeight != r.height || res.ClosedTime != r.now || r.times[r.height-1] >= sc.VotingClosesAt || res.TalliedHeight != r.height {
		t.Errorf("height %d: %q closed at height %d time %d (tallied %d); closes at %d, previous block time %d", r.height, id, res.ClosedHeight, res.ClosedTime, res.TalliedHeight, sc.VotingClosesAt, r.times[r.height-1])
	}
}

// ---------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------

func (r *propRun) genCreate(blockTime int64) propTx {
	id := r.fresh("init-")
	spec := &tabellav1.InitiativeSpec{Id: id, Title: "Initiative " + id}
	opens := blockTime - int64(r.pick(6))
	if r.chance(50) {
		opens = blockTime + 1 + int64(r.pick(30))
	}
	window := func() {
		// A proposal window: voting opens when it (and the review)
		// closes.
		pOpens := blockTime - int64(r.pick(4))
		if r.chance(40) {
			pOpens = blockTime + 1 + int64(r.pick(15))
		}
		pCloses := max(pOpens, blockTime) + 5 + int64(r.pick(25))
		opens = pCloses
		if spec.Proposals.Review != reviewNone || r.chance(50) {
			opens += 5 + int64(r.pick(25))
		}
		spec.Schedule = &tabellav1.Schedule{ProposalsOpensAt: pOpens, ProposalsClosesAt: pCloses}
	}
	addOptions := func(n int, costs func() uint64) {
		for i := 0; i < n; i++ {
			o := &tabellav1.Option{Id: fmt.Sprintf("opt-%d", i), Title: fmt.Sprintf("Option %d", i)}
			if costs != nil {
				o.Cost = costs()
			}
			spec.Options = append(spec.Options, o)
		}
	}
	reviewMode := func(election bool) *tabellav1.Proposals {
		switch k := r.pick(3); {
		case k == 0:
			return &tabellav1.Proposals{Review: reviewNone, MaxPerPerson: uint32(r.pick(3))}
		case k == 1 && !election:
			return &tabellav1.Proposals{Review: reviewOrg, MaxPerPerson: uint32(r.pick(3))}
		}
		return &tabellav1.Proposals{Review: reviewDual, GovernmentApprovals: uint32(1 + r.pick(2)), CivilSocietyApprovals: uint32(1 + r.pick(2))}
	}
	var minSel, maxSel uint32
	switch k := r.pick(100); {
	case k < 45:
		spec.Kind = tabellav1.InitiativeKind_INITIATIVE_KIND_CONSULTATION
		nOpts := 2 + r.pick(5)
		addOptions(nOpts, nil)
		minSel = uint32(1 + r.pick(nOpts))
		maxSel = minSel + uint32(r.pick(nOpts-int(minSel)+1))
		spec.ResultRule = &tabellav1.ResultRule{Quorum: uint64(r.pick(6)), HideRunningTally: r.chance(20)}
		if r.chance(25) {
			spec.ResultRule.Quorum = 0
			spec.ResultRule.QuorumShareBp = uint32(1 + r.pick(10000))
			spec.ResultRule.Electorate = uint64(1 + r.pick(12))
		}
	case k < 70:
		spec.Kind = kBudget
		total := uint64(50 + r.pick(400))
		rules := []tabellav1.BudgetBallotRule{withinBudget, tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_PROJECT_COUNT, tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_MIN_SHARE}
		spec.Budget = &tabellav1.Budget{Total: total, Currency: "EUR", BallotRule: rules[r.pick(3)]}
		if spec.Budget.BallotRule == tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_MIN_SHARE {
			spec.Budget.MinShareBp = uint32(1 + r.pick(6000))
		}
		minSel = 1
		if r.chance(50) {
			maxSel = 1 + uint32(r.pick(4))
		}
		if r.chance(50) {
			addOptions(1+r.pick(6), func() uint64 { return uint64(1 + r.pick(int(total))) })
		} else {
			spec.Proposals = reviewMode(false)
		}
		spec.ResultRule = &tabellav1.ResultRule{Quorum: uint64(r.pick(3))}
	case k < 85:
		spec.Kind = kElection
		seats := uint32(1 + r.pick(3))
		minSel, maxSel = 1, 1+uint32(r.pick(int(seats)))
		if r.chance(50) {
			addOptions(int(maxSel)+r.pick(4), nil)
		} else {
			spec.Proposals = reviewMode(true)
			spec.Proposals.MaxPerPerson = 0
		}
		spec.ResultRule = &tabellav1.ResultRule{Seats: seats, HideRunningTally: r.chance(30)}
	default:
		spec.Kind = kPetition
		spec.ResultRule = &tabellav1.ResultRule{SignatureThreshold: uint64(1 + r.pick(5))}
	}
	if spec.Proposals != nil {
		window()
	} else {
		spec.Schedule = &tabellav1.Schedule{}
	}
	spec.Schedule.VotingOpensAt = opens
	spec.Schedule.VotingClosesAt = max(opens, blockTime) + 5 + int64(r.pick(60))
	spec.Ballot = &tabellav1.BallotRules{MinSelections: minSel, MaxSelections: maxSel, RevotingAllowed: spec.Kind != kPetition && r.chance(60), WithdrawalAllowed: r.chance(40)}
	issuers := r.activeIssuers()
	if len(issuers) == 0 {
		issuers = []string{"registry"}
	}
	r.rng.Shuffle(len(issuers), func(i, j int) { issuers[i], issuers[j] = issuers[j], issuers[i] })
	issuers = issuers[:1+r.pick(len(issuers))]
	var preds []*tabellav1.Predicate
	for i := r.pick(3); i > 0; i-- {
		preds = append(preds, r.genPredicate())
	}
	spec.Eligibility = &tabellav1.Eligibility{IssuerIds: issuers, Predicates: preds}
	if (spec.Kind == tabellav1.InitiativeKind_INITIATIVE_KIND_CONSULTATION || spec.Kind == kPetition) && r.chance(25) {
		// Anonymous: no rules, a blind key from every issuer (the same
		// RSA key, attested by each).
		spec.Eligibility.Predicates = nil
		spec.Secrecy = tabellav1.Secrecy_SECRECY_ANONYMOUS
		for _, is := range issuers {
			spec.BlindKeys = append(spec.BlindKeys, attest(r.t, id, is, is, blindKey(r.t, "a")))
		}
	}
	organiser, signer := "city", "city"
	var orgs []string
	for _, o := range r.consortium.Organisers {
		if !o.Revoked {
			orgs = append(orgs, o.Id)
		}
	}
	if len(orgs) > 0 {
		organiser = orgs[r.pick(len(orgs))]
		signer = organiser
	}
	what := fmt.Sprintf("create %s %s", spec.Kind, id)
	mustReject := false
	if o := r.findOrganiser(organiser); o == nil || o.Revoked {
		mustReject = true // "city" itself was revoked
	}
	switch r.pick(16) {
	case 0: // an id that is taken
		if len(r.initOrder) > 0 {
			old := r.initOrder[r.pick(len(r.initOrder))]
			if r.inits[old].created {
				spec.Id, mustReject, what = old, true, "create taken id "+old
			}
		}
	case 1:
		signer, mustReject, what = "mallory", true, "create signed by non-organiser"
	case 2:
		spec.Schedule.VotingOpensAt = blockTime - 100
		spec.Schedule.VotingClosesAt = blockTime - int64(r.pick(3))
		mustReject, what = true, "create closing in the past"
	case 3:
		spec.Eligibility.IssuerIds = append(spec.Eligibility.IssuerIds, "ghost")
		mustReject, what = true, "create with unknown issuer"
	case 4:
		if spec.Kind == tabellav1.InitiativeKind_INITIATIVE_KIND_CONSULTATION || spec.Kind == kElection {
			spec.Ballot.MinSelections = spec.Ballot.MaxSelections + 1
			mustReject, what = true, "create with min > max"
		}
	case 5:
		if spec.Kind == kPetition {
			spec.ResultRule.SignatureThreshold = 0
			mustReject, what = true, "create petition without threshold"
		}
	}
	raw := r.must(client.CreateInitiativeTx(testChain, key(signer), organiser, spec))
	m := r.inits[spec.Id]
	if m == nil {
		m = newPropInitiative(spec, organiser)
		r.inits[spec.Id] = m
		r.initOrder = append(r.initOrder, spec.Id)
	}
	return propTx{raw: raw, what: what, mustReject: mustReject, onAccept: func(t *testing.T, _ int64) {
		if m.created {
			t.Errorf("initiative %q created twice", spec.Id)
		}
		m.created = true
	}}
}

// pickInitiative picks a created initiative, mostly one for which ok holds
// at blockTime.
func (r *propRun) pickInitiative(blockTime int64, ok func(m *propInitiative) bool) (string, *propInitiative) {
	var good []string
	for _, id := range r.initOrder {
		if m := r.inits[id]; m.created && ok(m) {
			good = append(good, id)
		}
	}
	if len(good) > 0 && r.chance(85) {
		id := good[r.pick(len(good))]
		return id, r.inits[id]
	}
	if len(r.initOrder) == 0 {
		return "", nil
	}
	id := r.initOrder[r.pick(len(r.initOrder))]
	return id, r.inits[id]
}

func (r *propRun) genBallot(blockTime int64) propTx {
	t := r.t
	id, m := r.pickInitiative(blockTime, func(m *propInitiative) bool { return m.statusAt(blockTime) == sVoting })
	if m == nil {
		return r.genCreate(blockTime)
	}
	spec := m.spec
	vi := r.pick(len(propVoters))
	voter := propVoters[vi]
	kind := ballotValid
	if r.chance(40) {
		kind = 1 + r.pick(ballotKinds-1)
	}

	// A valid-looking ballot: a selection the rules allow, the next
	// sequence, the voter's own attributes from an accepted issuer.
	nOpts := len(m.options)
	lo, hi := int(spec.Ballot.MinSelections), int(spec.Ballot.MaxSelections)
	if spec.Kind == kBudget && hi == 0 {
		hi = nOpts
	}
	// Specs made invalid on purpose may have min > max: clamp.
	hi = min(hi, nOpts)
	k := min(lo, nOpts)
	if hi > lo {
		k = lo + r.pick(hi-lo+1)
	}
	sel := make([]uint32, 0, k)
	for _, i := range r.rng.Perm(nOpts)[:k] {
		sel = append(sel, uint32(i))
	}
	slices.Sort(sel)
	seq := m.maxSeq[voter] + 1
	if r.chance(10) {
		seq += uint64(r.pick(5)) // gaps are allowed
	}
	attrs := propProfile(vi)
	issuer := spec.Eligibility.IssuerIds[r.pick(len(spec.Eligibility.IssuerIds))]
	expires := blockTime + 3600
	credVoter := voter
	initiative := id
	mustReject := true

	switch kind {
	case ballotValid:
		mustReject = false
	case ballotWrongOption:
		if len(sel) == 0 {
			sel = []uint32{uint32(nOpts + r.pick(3))}
		} else {
			sel[len(sel)-1] = uint32(nOpts + r.pick(3))
			slices.Sort(sel)
			sel = slices.Compact(sel)
		}
	case ballotTooMany:
		sel = sel[:0]
		for i := 0; i <= max(int(spec.Ballot.MaxSelections), nOpts); i++ {
			sel = append(sel, uint32(i))
		}
	case ballotEmpty:
		if spec.Kind == kPetition {
			kind, mustReject = ballotValid, false // a signature is empty
		}
		sel = nil
	case ballotSeqZero:
		seq = 0
	case ballotLowSeq:
		lb, ok := m.live[voter]
		if !ok {
			kind, mustReject = ballotValid, false
			break
		}
		seq = uint64(r.pick(int(lb.seq) + 1))
		if seq == 0 {
			seq = lb.seq
		}
	case ballotReplay:
		acc := m.accepted[voter]
		if len(acc) == 0 {
			kind, mustReject = ballotValid, false
			break
		}
		return propTx{raw: acc[r.pick(len(acc))], what: fmt.Sprintf("replayed ballot %s/%s", id, voter), mustReject: true}
	case ballotIneligible:
		if len(spec.Eligibility.Predicates) == 0 {
			kind, mustReject = ballotValid, false
			break
		}
		attrs = violate(attrs, spec.Eligibility.Predicates[r.pick(len(spec.Eligibility.Predicates))])
	case ballotExpired:
		expires = blockTime // the boundary: expired at the block time
		if r.chance(50) {
			expires -= int64(r.pick(100))
		}
	case ballotOtherKey:
		credVoter = propVoters[(vi+1+r.pick(len(propVoters)-1))%len(propVoters)]
		attrs = propProfile(slices.Index(propVoters, credVoter))
	case ballotUnknownIssuer:
		issuer = "ghost"
	case ballotUnknownInitiative:
		initiative = "no-such-initiative"
	}
	anonymous := ledger.Anonymous(spec)
	if anonymous && kind == ballotExpired {
		kind, mustReject = ballotValid, false // a token does not expire
	}
	// What the model knows must fail, whatever the kind of ballot.
	switch {
	case kind == ballotValid && spec.Kind == kPetition && len(sel) != 0:
		mustReject = true
	case kind == ballotValid && spec.Kind != kPetition && len(sel) < lo:
		mustReject = true // not enough options on the ballot yet
	case kind == ballotValid && spec.Kind == kBudget && !budgetBallotOK(m, sel):
		mustReject = true
	}
	if kind == ballotValid || kind == ballotIneligible || kind == ballotExpired || kind == ballotOtherKey || kind == ballotUnknownIssuer || kind == ballotUnknownInitiative {
		if seq > m.maxSeq[voter] {
			m.maxSeq[voter] = seq
		}
	}
	sc, err := client.IssueCredential(testChain, key(issuer), &tabellav1.Credential{
		IssuerId:       issuer,
		VoterPublicKey: pub(credVoter),
		Attributes:     attrs,
		IssuedAt:       genesisTime.Unix(),
		ExpiresAt:      expires,
	})
	if err != nil {
		t.Fatal(err)
	}
	cb := &tabellav1.CastBallot{InitiativeId: initiative, Credential: sc, Selections: sel, Sequence: seq}
	switch {
	case anonymous && r.chance(5):
		mustReject = true // a credential on an anonymous initiative
	case anonymous:
		sk := blindKey(t, "a")
		cb.Credential, cb.Token = nil, tokenFrom(t, issuer, initiative, credVoter, derOf(t, sk), sk)
	}
	body := &tabellav1.TxBody{Msg: &tabellav1.TxBody_CastBallot{CastBallot: cb}}
	raw := r.must(client.SignTx(testChain, key(voter), body))
	what := fmt.Sprintf("ballot kind %d %s/%s seq %d %v", kind, initiative, voter, seq, sel)
	return propTx{raw: raw, what: what, mustReject: mustReject, onAccept: func(t *testing.T, blockTime int64) {
		if !m.created {
			t.Errorf("%s accepted for an initiative that was never created", what)
			return
		}
		s := m.spec
		if st := m.statusAt(blockTime); st != sVoting {
			t.Errorf("%s accepted at %d while %s", what, blockTime, st)
		}
		n := uint32(len(sel))
		if n < s.Ballot.MinSelections || n > s.Ballot.MaxSelections && !(s.Kind == kBudget && s.Ballot.MaxSelections == 0) {
			t.Errorf("%s accepted with %d selections, rules %d..%d", what, n, s.Ballot.MinSelections, s.Ballot.MaxSelections)
		}
		for _, x := range sel {
			if int(x) >= len(m.options) {
				t.Errorf("%s accepted with option %d of %d", what, x, len(m.options))
			}
		}
		if s.Kind == kBudget && !budgetBallotOK(m, sel) {
			t.Errorf("%s accepted against the budget rule %v", what, s.Budget)
		}
		prev, live := m.live[voter]
		wseq, withdrawn := m.withdrawn[voter]
		switch {
		case live:
			if !s.Ballot.RevotingAllowed {
				t.Errorf("%s accepted as a revote, revoting is off", what)
			}
			if seq <= prev.seq {
				t.Errorf("%s accepted over live sequence %d", what, prev.seq)
			}
			m.history[voter] = append(m.history[voter], prev.seq)
		case withdrawn:
			if !s.Ballot.RevotingAllowed {
				t.Errorf("%s accepted after a withdrawal, revoting is off", what)
			}
			if seq <= wseq {
				t.Errorf("%s accepted over withdrawal sequence %d", what, wseq)
			}
			m.history[voter] = append(m.history[voter], wseq)
			delete(m.withdrawn, voter)
		}
		m.live[voter] = propBallot{seq: seq, sel: sel}
		m.accepted[voter] = append(m.accepted[voter], raw)
		m.cast++
		if s.Kind == kPetition && m.reached == 0 && uint64(len(m.live)) >= s.ResultRule.SignatureThreshold {
			m.reached = r.height + 1
		}
	}}
}

// genSubmit makes a project submission or a candidacy.
func (r *propRun) genSubmit(blockTime int64) propTx {
	id, m := r.pickInitiative(blockTime, func(m *propInitiative) bool {
		return m.spec.Proposals != nil && m.statusAt(blockTime) == sProposals
	})
	if m == nil || m.spec.Proposals == nil && r.chance(80) {
		return r.genBallot(blockTime)
	}
	// Mostly someone who may submit.
	elig := m.spec.GetProposals().GetEligibility()
	if elig == nil {
		elig = m.spec.Eligibility
	}
	vi := r.pick(len(propVoters))
	for i := 0; i < 5; i++ {
		if ok, _ := ledger.Eligible(propProfile(vi), elig.Predicates); ok {
			break
		}
		vi = r.pick(len(propVoters))
	}
	voter := propVoters[vi]
	pid := r.fresh("prop-")
	if len(m.subOrder) > 0 && r.chance(10) {
		pid = m.subOrder[r.pick(len(m.subOrder))] // taken
	}
	attrs := propProfile(vi)
	cred := r.must2(client.IssueCredential(testChain, key("registry"), &tabellav1.Credential{
		IssuerId: "registry", VoterPublicKey: pub(voter), Attributes: attrs, IssuedAt: genesisTime.Unix(), ExpiresAt: blockTime + 3600,
	}))
	signer := voter
	mustReject := m.subs[pid] != nil
	var cost uint64
	election := m.kind() == kElection
	if r.chance(10) {
		election = !election // the wrong message for the kind
		mustReject = true
	}
	if r.chance(5) {
		signer, mustReject = "mallory", true
	}
	var raw []byte
	if election {
		raw = r.must(client.RegisterCandidateTx(testChain, key(signer), id, cred, pid, "Candidate "+pid, ""))
	} else {
		total := m.spec.GetBudget().GetTotal()
		cost = uint64(1 + r.pick(int(max(total, 10))))
		if total > 0 && r.chance(10) {
			cost = total + 1 + uint64(r.pick(10))
			mustReject = true
		}
		raw = r.must(client.SubmitProposalTx(testChain, key(signer), id, cred, client.Proposal{ID: pid, Title: "Project " + pid, Cost: cost}))
	}
	what := fmt.Sprintf("submit %s to %s %s by %s", pid, m.kind(), id, signer)
	return propTx{raw: raw, what: what, mustReject: mustReject, onAccept: func(t *testing.T, blockTime int64) {
		s := m.spec
		if s.Proposals == nil || m.statusAt(blockTime) != sProposals {
			t.Errorf("%s accepted at %d while %s", what, blockTime, m.statusAt(blockTime))
		}
		if m.subs[pid] != nil {
			t.Errorf("%s accepted with a taken id", what)
		}
		limit := int(s.GetProposals().GetMaxPerPerson())
		if s.Kind == kElection {
			limit = 1
		}
		if limit > 0 && m.perPerson[voter] >= limit {
			t.Errorf("%s accepted beyond %d per person", what, limit)
		}
		if s.Kind == kBudget && cost > s.Budget.Total {
			t.Errorf("%s accepted above the budget", what)
		}
		sub := &propSub{id: pid, submitter: voter, cost: cost, status: tabellav1.ProposalStatus_PROPOSAL_STATUS_PENDING, reviews: map[string]bool{}}
		m.subs[pid] = sub
		m.subOrder = append(m.subOrder, pid)
		m.perPerson[voter]++
		if !m.reviewed() {
			m.approve(sub)
		}
	}}
}

func (r *propRun) must2(sc *tabellav1.SignedCredential, err error) *tabellav1.SignedCredential {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
	return sc
}

// genReview makes a review by a party or the organiser.
func (r *propRun) genReview(blockTime int64) propTx {
	id, m := r.pickInitiative(blockTime, func(m *propInitiative) bool {
		return m.reviewed() && m.statusAt(blockTime) == sReview && len(m.subOrder) > 0
	})
	if m == nil || len(m.subOrder) == 0 {
		return r.genSubmit(blockTime)
	}
	pid := m.subOrder[r.pick(len(m.subOrder))]
	for i := 0; i < 3 && m.subs[pid].status != tabellav1.ProposalStatus_PROPOSAL_STATUS_PENDING; i++ {
		pid = m.subOrder[r.pick(len(m.subOrder))]
	}
	party, signer := "", m.organiser
	if m.reviewMode() == reviewDual {
		party = propParties[r.pick(len(propParties))]
		signer = party + "-admin"
	}
	approve := r.chance(75)
	mustReject := false
	switch r.pick(12) {
	case 0:
		signer, mustReject = "mallory", true
	case 1:
		if party == "" {
			party, mustReject = "gov-a", true // parties do not review for the organiser
		} else {
			party, signer, mustReject = "", m.organiser, true // nor the organiser for the parties
		}
	}
	raw := r.must(client.ReviewProposalTx(testChain, key(signer), id, pid, party, approve, ""))
	what := fmt.Sprintf("review %s/%s by %q (%s): %v", id, pid, party, signer, approve)
	return propTx{raw: raw, what: what, mustReject: mustReject, onAccept: func(t *testing.T, blockTime int64) {
		s := m.subs[pid]
		if m.statusAt(blockTime) != sReview || s == nil || s.status != tabellav1.ProposalStatus_PROPOSAL_STATUS_PENDING {
			t.Errorf("%s accepted at %d while %s, proposal %v", what, blockTime, m.statusAt(blockTime), s)
			return
		}
		if _, dup := s.reviews[party]; dup {
			t.Errorf("%s accepted twice", what)
		}
		s.reviews[party] = approve
		if party == "" {
			if approve {
				m.approve(s)
			} else {
				s.status = tabellav1.ProposalStatus_PROPOSAL_STATUS_REJECTED
			}
			return
		}
		// Two government and two civil-society parties.
		yes, no := map[byte]int{}, map[byte]int{}
		for p, a := range s.reviews {
			if a {
				yes[p[0]]++
			} else {
				no[p[0]]++
			}
		}
		needG, needC := int(m.spec.Proposals.GovernmentApprovals), int(m.spec.Proposals.CivilSocietyApprovals)
		switch {
		case yes['g'] >= needG && yes['c'] >= needC:
			m.approve(s)
		case 2-no['g'] < needG || 2-no['c'] < needC:
			s.status = tabellav1.ProposalStatus_PROPOSAL_STATUS_REJECTED
		}
	}}
}

// genWithdraw makes a withdrawal.
func (r *propRun) genWithdraw(blockTime int64) propTx {
	id, m := r.pickInitiative(blockTime, func(m *propInitiative) bool {
		return m.statusAt(blockTime) == sVoting && len(m.live) > 0
	})
	if m == nil {
		return r.genBallot(blockTime)
	}
	voter := propVoters[r.pick(len(propVoters))]
	var livers []string
	for _, v := range propVoters {
		if _, ok := m.live[v]; ok {
			livers = append(livers, v)
		}
	}
	if len(livers) > 0 && r.chance(85) {
		voter = livers[r.pick(len(livers))]
	}
	seq := m.maxSeq[voter] + 1
	mustReject := false
	if lb, ok := m.live[voter]; ok && r.chance(10) {
		seq, mustReject = lb.seq, true
	} else {
		m.maxSeq[voter] = seq
	}
	raw := r.must(client.WithdrawBallotTx(testChain, key(voter), id, seq))
	what := fmt.Sprintf("withdraw %s/%s seq %d", id, voter, seq)
	return propTx{raw: raw, what: what, mustReject: mustReject, onAccept: func(t *testing.T, blockTime int64) {
		lb, live := m.live[voter]
		switch {
		case m.statusAt(blockTime) != sVoting:
			t.Errorf("%s accepted while %s", what, m.statusAt(blockTime))
		case !m.spec.Ballot.GetWithdrawalAllowed():
			t.Errorf("%s accepted, withdrawal is off", what)
		case !live:
			t.Errorf("%s accepted without a live ballot", what)
		case seq <= lb.seq:
			t.Errorf("%s accepted over live sequence %d", what, lb.seq)
		}
		m.history[voter] = append(m.history[voter], lb.seq)
		delete(m.live, voter)
		m.withdrawn[voter] = seq
		m.withdrawals++
		if m.kind() == kPetition && uint64(len(m.live)) < m.spec.ResultRule.SignatureThreshold {
			m.reached = 0
		}
	}}
}

// genCancel makes a cancellation, by the organiser or a stranger.
func (r *propRun) genCancel(blockTime int64) propTx {
	id, m := r.pickInitiative(blockTime, func(m *propInitiative) bool { return m.statusAt(blockTime) != sClosed })
	if m == nil {
		return r.genBallot(blockTime)
	}
	signer := m.organiser
	mustReject := false
	if r.chance(20) {
		signer, mustReject = "mallory", true
	}
	if st := m.statusAt(blockTime); m.created && (st == sClosed || st == sCancelled) {
		mustReject = true
	}
	if o := r.findOrganiser(m.organiser); o == nil || o.Revoked {
		mustReject = true
	}
	raw := r.must(client.CancelInitiativeTx(testChain, key(signer), id, "Cancelled by the property test."))
	what := fmt.Sprintf("cancel %s by %s", id, signer)
	return propTx{raw: raw, what: what, mustReject: mustReject, onAccept: func(t *testing.T, blockTime int64) {
		if st := m.statusAt(blockTime); !m.created || st == sClosed || st == sCancelled {
			t.Errorf("%s accepted while %s", what, st)
		}
		m.cancelledAt = blockTime
	}}
}
