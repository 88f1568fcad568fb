package ledger_test

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	idb "github.com/cosmos/iavl/db"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// TestPropertyDeterminism drives two independent ledgers with the same
// random block sequence (initiatives, valid and invalid ballots, governance,
// garbage) and checks:
//   - both give the same CheckTx and FinalizeBlock result (code, message,
//     hash) for every tx and the same app hash for every block, also when
//     one of them first finalizes a different block at the same height
//     (a round change) or is replaced by a ledger re-opened from its
//     database (a restart);
//   - a ledger re-opened after every commit resumes at the same height,
//     app hash and block time;
//   - after every commit, each initiative's counts sum to the selections of
//     its live ballots, turnout is the number of live ballots, the live
//     ballot keys hold exactly the model's ballots, superseded ballots are
//     in history, status follows the block time, and a result, once
//     CLOSED, never changes;
//   - governance proposals follow the dual-majority rule;
//   - no tx the generator made invalid on purpose is accepted, and no
//     accepted ballot breaks the rules it was checked against.
//
// Run with -v to see what each seed exercised.
func TestPropertyDeterminism(t *testing.T) {
	seeds, blocks := 20, 40
	if testing.Short() {
		seeds = 5
	}
	for seed := 1; seed <= seeds; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			newPropRun(t, uint64(seed)).run(blocks)
		})
	}
}

// propVoters is the voter pool; a voter's profile decides its attributes.
var propVoters = func() []string {
	v := make([]string, 15)
	for i := range v {
		v[i] = fmt.Sprintf("voter-%02d", i)
	}
	return v
}()

var (
	propParties = []string{"gov-a", "gov-b", "civ-a", "civ-b"}
	propTowns   = []string{"Aarhus", "Odense", "Aalborg"}
	propJobs    = []string{"health", "teacher", "farmer"}
)

func propProfile(i int) []*tabellav1.Attribute {
	return []*tabellav1.Attribute{
		intAttr("age", int64(14+(i*17)%70)),
		textAttr("municipality", propTowns[i%len(propTowns)]),
		textAttr("profession", propJobs[(i/3)%len(propJobs)]),
	}
}

// propInitiative is the model of one initiative.
type propInitiative struct {
	spec      *tabellav1.InitiativeSpec
	organiser string
	created   bool
	live      map[string]propBallot // voter -> live ballot
	history   map[string][]uint64   // voter -> superseded sequences
	maxSeq    map[string]uint64     // highest sequence ever generated
	accepted  map[string][][]byte   // voter -> raw accepted ballots
	cast      uint64                // accepted ballots, superseded included
	result    *tabellav1.Result     // frozen result once seen CLOSED

	// cancelledAt is the block time of the accepted cancellation.
	cancelledAt int64
	// options are the options on the ballot, in option order: the listed
	// ones, then approved proposals in the order of approval.
	options []propOption
	// subs are the accepted proposals (candidacies) by id.
	subs      map[string]*propSub
	subOrder  []string
	perPerson map[string]int
	// withdrawn maps a voter whose live record is a withdrawal to its
	// sequence.
	withdrawn   map[string]uint64
	withdrawals uint64
	// reached is the petition's threshold height as the model sees it.
	reached int64
}

type propBallot struct {
	seq uint64
	sel []uint32
}

type propProposal struct {
	action   *tabellav1.GovAction
	deadline int64
	created  bool
	votes    map[string]bool // party -> approve (accepted votes only)
}

// propTx is one generated tx with what the model knows about it.
type propTx struct {
	raw []byte
	// what describes the tx in failure messages.
	what string
	// mustReject is set when the generator made the tx invalid on purpose.
	mustReject bool
	// onAccept updates the model when the ledgers accept the tx; it may
	// check that acceptance was legitimate.
	onAccept func(t *testing.T, blockTime int64)
}

type propRun struct {
	t    *testing.T
	rng  *rand.Rand
	seed uint64

	a, b *ledger.Ledger
	dbA  *idb.MemDB

	initialHeight int64
	height        int64
	now           int64           // time of the last committed block
	times         map[int64]int64 // height -> block time

	inits     map[string]*propInitiative
	initOrder []string
	props     map[string]*propProposal
	propOrder []string
	nextID    int

	consortium *tabellav1.Genesis // as of the last commit

	// stats counts outcomes by code, to show in -v output what a run
	// exercised.
	stats map[ledger.Code]int
}

func newPropRun(t *testing.T, seed uint64) *propRun {
	r := &propRun{
		t:     t,
		rng:   rand.New(rand.NewPCG(seed, 0x7ab311a)),
		seed:  seed,
		dbA:   idb.NewMemDB(),
		now:   genesisTime.Unix(),
		times: map[int64]int64{},
		inits: map[string]*propInitiative{},
		props: map[string]*propProposal{},
		stats: map[ledger.Code]int{},
	}
	var err error
	// The first ledger keeps encoded nodes in a cache small enough to
	// drop some at every commit.
	if r.a, err = ledger.Open(r.dbA, ledger.Options{NodeCacheBytes: 64 << 10}); err != nil {
		t.Fatal(err)
	}
	// The second uses tiny IAVL node caches and no cache of encoded nodes,
	// so that it reads nodes back from its database where the first
	// serves them from memory, and IAVL's fast index, which the first
	// lacks: the state's reads and hash must not depend on any of them.
	if r.b, err = ledger.Open(idb.NewMemDB(), ledger.Options{CacheSize: 16, NodeCacheBytes: -1, FastIndex: true}); err != nil {
		t.Fatal(err)
	}
	// Every third seed starts the chain above height 1, as a chain
	// restarted from an exported state would.
	r.initialHeight = 1
	if seed%3 == 0 {
		r.initialHeight = int64(seed) * 10
	}
	r.height = r.initialHeight - 1
	r.times[r.height] = genesisTime.Unix()
	va, ha, err := r.a.InitChain(testChain, r.initialHeight, genesisTime, testGenesis())
	if err != nil {
		t.Fatal(err)
	}
	vb, hb, err := r.b.InitChain(testChain, r.initialHeight, genesisTime, testGenesis())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ha, hb) || len(va) != len(vb) {
		t.Fatalf("InitChain differs: %x vs %x", ha, hb)
	}
	r.consortium = testGenesis()
	return r
}

func (r *propRun) run(blocks int) {
	for i := 0; i < blocks; i++ {
		r.step()
		if r.t.Failed() {
			r.t.Fatalf("seed %d: stopping after the first failing block (height %d)", r.seed, r.height)
		}
	}
	closed, passed := 0, 0
	kinds := map[string]int{}
	var subs, approved, withdrawals, cancelled int
	for _, m := range r.inits {
		if !m.created {
			continue
		}
		k := m.kind().String()[len("INITIATIVE_KIND_"):]
		kinds[k]++
		if m.result != nil {
			closed++
			kinds[k+" closed"]++
		}
		subs += len(m.subs)
		for _, s := range m.subs {
			if s.status == tabellav1.ProposalStatus_PROPOSAL_STATUS_APPROVED {
				approved++
			}
		}
		withdrawals += int(m.withdrawals)
		if m.cancelledAt != 0 {
			cancelled++
		}
	}
	r.t.Logf("seed %d: initiatives by kind %v; %d proposals (%d approved), %d withdrawals, %d cancelled", r.seed, kinds, subs, approved, withdrawals, cancelled)
	v := r.mustView()
	for _, id := range r.propOrder {
		if p, _ := v.GovProposal(id); p != nil && p.Status == tabellav1.GovStatus_GOV_STATUS_PASSED {
			passed++
		}
	}
	r.t.Logf("seed %d: %d initiatives (%d closed), %d proposals (%d passed), results by code: %v", r.seed, len(r.inits), closed, len(r.props), passed, r.stats)
}

func (r *propRun) step() {
	t := r.t
	height := r.height + 1
	blockTime := r.now + 1 + r.rng.Int64N(8)
	n := r.rng.IntN(15)
	txs := make([]propTx, 0, n)
	for i := 0; i < n; i++ {
		txs = append(txs, r.genTx(blockTime))
	}
	raws := make([][]byte, len(txs))
	for i, tx := range txs {
		raws[i] = tx.raw
	}

	// The mempool view: both ledgers must answer CheckTx alike.
	for i, raw := range raws {
		ca, cb := r.a.CheckTx(raw), r.b.CheckTx(raw)
		if ca.Code != cb.Code || ca.Log != cb.Log || !bytes.Equal(ca.Hash, cb.Hash) {
			t.Errorf("height %d tx %d (%s): CheckTx differs: %s %q vs %s %q", height, i, txs[i].what, ca.Code, ca.Log, cb.Code, cb.Log)
		}
		checkResult(t, fmt.Sprintf("height %d tx %d CheckTx (%s)", height, i, txs[i].what), ca)
	}

	blk := ledger.Block{Height: height, Time: time.Unix(blockTime, 0).UTC(), Txs: raws, Hash: blockHash(height)}
	// Sometimes A first executes a different block at this height that is
	// never committed, as after a round change; FinalizeBlock must start
	// again from the last commit (at the first height, with the genesis
	// state written by InitChain and not yet committed).
	if (height == r.initialHeight && r.seed%2 == 0) || r.rng.IntN(6) == 0 {
		decoy := slices.Clone(raws)
		slices.Reverse(decoy)
		decoy = decoy[:r.rng.IntN(len(decoy)+1)]
		if _, err := r.a.FinalizeBlock(ledger.Block{Height: height, Time: blk.Time.Add(time.Second), Txs: decoy, Hash: blockHash(-height)}); err != nil {
			t.Fatalf("height %d: decoy FinalizeBlock: %v", height, err)
		}
	}
	ra, err := r.a.FinalizeBlock(blk)
	if err != nil {
		t.Fatalf("height %d: FinalizeBlock A: %v", height, err)
	}
	rb, err := r.b.FinalizeBlock(blk)
	if err != nil {
		t.Fatalf("height %d: FinalizeBlock B: %v", height, err)
	}
	if !bytes.Equal(ra.AppHash, rb.AppHash) {
		t.Errorf("height %d: app hash differs: %x vs %x", height, ra.AppHash, rb.AppHash)
	}
	if len(ra.ValidatorUpdates) != len(rb.ValidatorUpdates) {
		t.Errorf("height %d: validator updates differ", height)
	}
	if len(ra.TxResults) != len(txs) || len(rb.TxResults) != len(txs) {
		t.Fatalf("height %d: %d/%d results for %d txs", height, len(ra.TxResults), len(rb.TxResults), len(txs))
	}
	for i := range txs {
		x, y := ra.TxResults[i], rb.TxResults[i]
		if x.Code != y.Code || x.Log != y.Log || !bytes.Equal(x.Hash, y.Hash) {
			t.Errorf("height %d tx %d (%s): results differ: %s %q vs %s %q", height, i, txs[i].what, x.Code, x.Log, y.Code, y.Log)
		}
		checkResult(t, fmt.Sprintf("height %d tx %d (%s)", height, i, txs[i].what), x)
		r.stats[x.Code]++
		if !bytes.Equal(x.Hash, ledger.TxHash(raws[i])) {
			t.Errorf("height %d tx %d: result hash is not the tx hash", height, i)
		}
		switch {
		case x.Code == ledger.CodeOK && txs[i].mustReject:
			t.Errorf("height %d tx %d (%s): accepted, but the generator made it invalid", height, i, txs[i].what)
		case x.Code == ledger.CodeOK && txs[i].onAccept != nil:
			txs[i].onAccept(t, blockTime)
		}
	}

	ha, err := r.a.Commit()
	if err != nil {
		t.Fatalf("height %d: Commit A: %v", height, err)
	}
	hb, err := r.b.Commit()
	if err != nil {
		t.Fatalf("height %d: Commit B: %v", height, err)
	}
	if ha != height || hb != height {
		t.Fatalf("committed heights %d and %d, want %d", ha, hb, height)
	}
	for _, l := range []*ledger.Ledger{r.a, r.b} {
		if !bytes.Equal(l.LastAppHash(), ra.AppHash) {
			t.Errorf("height %d: committed app hash %x, FinalizeBlock returned %x", height, l.LastAppHash(), ra.AppHash)
		}
	}
	r.height, r.now = height, blockTime
	r.times[height] = blockTime

	r.checkReopen()
	r.checkInvariants()
}

// checkResult checks what every result must satisfy.
func checkResult(t *testing.T, where string, res ledger.TxResult) {
	t.Helper()
	if !slices.Contains(ledger.AllCodes(), res.Code) {
		t.Errorf("%s: code %d is not a defined code", where, res.Code)
	}
	if res.Code == ledger.CodeInternal {
		t.Errorf("%s: INTERNAL: %s", where, res.Log)
	}
	if res.Code != ledger.CodeOK && res.Log == "" {
		t.Errorf("%s: rejected with %s and no message", where, res.Code)
	}
}

// checkReopen opens a second ledger on A's database: it must resume where A
// is. Now and then A is replaced by it, as after a restart. Half the time
// it turns IAVL's fast index on, which builds the index from the tree, or
// over a stale one a ledger without it left behind.
func (r *propRun) checkReopen() {
	t := r.t
	c, err := ledger.Open(r.dbA, ledger.Options{FastIndex: r.rng.IntN(2) == 0, NodeCacheBytes: []int{-1, 64 << 10, 0}[r.rng.IntN(3)]})
	if err != nil {
		t.Fatalf("height %d: re-open: %v", r.height, err)
	}
	if c.LastHeight() != r.a.LastHeight() || !bytes.Equal(c.LastAppHash(), r.a.LastAppHash()) {
		t.Errorf("height %d: re-opened ledger at %d %x, running ledger at %d %x", r.height, c.LastHeight(), c.LastAppHash(), r.a.LastHeight(), r.a.LastAppHash())
	}
	if c.ChainID() != testChain || !c.LastBlockTime().Equal(r.a.LastBlockTime()) {
		t.Errorf("height %d: re-opened ledger has chain %q time %v, want %q %v", r.height, c.ChainID(), c.LastBlockTime(), testChain, r.a.LastBlockTime())
	}
	if r.rng.IntN(5) == 0 {
		if err := r.a.Close(); err != nil {
			t.Fatal(err)
		}
		r.a = c
	} else if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkInvariants compares the committed state with the model.
func (r *propRun) checkInvariants() {
	t := r.t
	v, err := r.a.View(0)
	if err != nil {
		t.Fatal(err)
	}
	vb, err := r.b.View(0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.AppHash(), vb.AppHash()) {
		t.Errorf("height %d: views disagree on the app hash", r.height)
	}
	for _, l := range []*ledger.Ledger{r.a, r.b} {
		if got := l.LastBlockTime().Unix(); got != r.now {
			t.Errorf("height %d: last block time %d, want %d", r.height, got, r.now)
		}
	}
	if r.consortium, err = v.Consortium(); err != nil {
		t.Fatal(err)
	}
	for _, id := range r.initOrder {
		r.checkInitiative(v, id, r.inits[id])
	}
	for _, id := range r.propOrder {
		r.checkProposal(v, id, r.props[id])
	}
}

func propWinners(counts []uint64) []uint32 {
	best := slices.Max(counts)
	if best == 0 {
		return nil
	}
	var w []uint32
	for i, c := range counts {
		if c == best {
			w = append(w, uint32(i))
		}
	}
	return w
}

// checkProposal checks a governance proposal's status against the
// dual-majority rule for two government and two civil-society parties:
// passing needs all four, one "no" rejects.
func (r *propRun) checkProposal(v *ledger.View, id string, m *propProposal) {
	t := r.t
	p, err := v.GovProposal(id)
	if err != nil {
		t.Fatal(err)
	}
	if !m.created {
		if p != nil {
			t.Errorf("height %d: proposal %q exists, but no proposal was accepted", r.height, id)
		}
		return
	}
	if p == nil {
		t.Errorf("height %d: proposal %q was accepted but is missing", r.height, id)
		return
	}
	yes, no := 0, 0
	for _, approve := range m.votes {
		if approve {
			yes++
		} else {
			no++
		}
	}
	if len(p.Votes) != len(m.votes) {
		t.Errorf("height %d: proposal %q records %d votes, %d were accepted", r.height, id, len(p.Votes), len(m.votes))
	}
	switch {
	case no > 0:
		if p.Status != tabellav1.GovStatus_GOV_STATUS_REJECTED {
			t.Errorf("height %d: proposal %q has a no vote but is %s", r.height, id, p.Status)
		}
	case yes == len(propParties):
		switch p.Status {
		case tabellav1.GovStatus_GOV_STATUS_PASSED:
			r.checkApplied(id, m.action)
		case tabellav1.GovStatus_GOV_STATUS_REJECTED:
			// The action no longer applied when the last vote came in.
		default:
			t.Errorf("height %d: proposal %q has every vote but is %s", r.height, id, p.Status)
		}
	case r.now >= m.deadline:
		if p.Status != tabellav1.GovStatus_GOV_STATUS_EXPIRED {
			t.Errorf("height %d: proposal %q is past its deadline but %s", r.height, id, p.Status)
		}
	default:
		if p.Status != tabellav1.GovStatus_GOV_STATUS_OPEN {
			t.Errorf("height %d: proposal %q is undecided but %s", r.height, id, p.Status)
		}
	}
}

func (r *propRun) checkApplied(proposal string, a *tabellav1.GovAction) {
	t := r.t
	switch x := a.Action.(type) {
	case *tabellav1.GovAction_RegisterIssuer:
		if is := r.findIssuer(x.RegisterIssuer.Id); is == nil || is.ProposalId != proposal && !is.Revoked {
			t.Errorf("height %d: passed proposal %q did not register issuer %q", r.height, proposal, x.RegisterIssuer.Id)
		}
	case *tabellav1.GovAction_RegisterOrganiser:
		if o := r.findOrganiser(x.RegisterOrganiser.Id); o == nil || o.ProposalId != proposal && !o.Revoked {
			t.Errorf("height %d: passed proposal %q did not register organiser %q", r.height, proposal, x.RegisterOrganiser.Id)
		}
	case *tabellav1.GovAction_RevokeIssuer:
		if is := r.findIssuer(x.RevokeIssuer.Id); is == nil || !is.Revoked {
			t.Errorf("height %d: passed proposal %q did not revoke issuer %q", r.height, proposal, x.RevokeIssuer.Id)
		}
	case *tabellav1.GovAction_RevokeOrganiser:
		if o := r.findOrganiser(x.RevokeOrganiser.Id); o == nil || !o.Revoked {
			t.Errorf("height %d: passed proposal %q did not revoke organiser %q", r.height, proposal, x.RevokeOrganiser.Id)
		}
	}
}

func (r *propRun) findIssuer(id string) *tabellav1.Issuer {
	for _, is := range r.consortium.Issuers {
		if is.Id == id {
			return is
		}
	}
	return nil
}

func (r *propRun) findOrganiser(id string) *tabellav1.Organiser {
	for _, o := range r.consortium.Organisers {
		if o.Id == id {
			return o
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------

func (r *propRun) genTx(blockTime int64) propTx {
	switch k := r.rng.IntN(100); {
	case k < 12:
		return r.genCreate(blockTime)
	case k < 54:
		return r.genBallot(blockTime)
	case k < 63:
		return r.genSubmit(blockTime)
	case k < 71:
		return r.genReview(blockTime)
	case k < 75:
		return r.genWithdraw(blockTime)
	case k < 77:
		return r.genCancel(blockTime)
	case k < 83:
		return r.genPropose(blockTime)
	case k < 92:
		return r.genGovVote()
	default:
		return r.genGarbage()
	}
}

func (r *propRun) pick(n int) int { return r.rng.IntN(n) }

func (r *propRun) chance(pct int) bool { return r.rng.IntN(100) < pct }

func (r *propRun) fresh(prefix string) string {
	r.nextID++
	return fmt.Sprintf("%s%d", prefix, r.nextID)
}

func (r *propRun) must(raw []byte, err error) []byte {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
	return raw
}

func (r *propRun) activeIssuers() []string {
	var out []string
	for _, is := range r.consortium.Issuers {
		if !is.Revoked {
			out = append(out, is.Id)
		}
	}
	return out
}

func (r *propRun) genPredicate() *tabellav1.Predicate {
	switch r.pick(6) {
	case 0:
		return &tabellav1.Predicate{Attribute: "age", Op: tabellav1.Operator_OPERATOR_GE, Values: []*tabellav1.AttributeValue{intVal([]int64{16, 18, 60}[r.pick(3)])}}
	case 1:
		return &tabellav1.Predicate{Attribute: "age", Op: tabellav1.Operator_OPERATOR_LT, Values: []*tabellav1.AttributeValue{intVal(70)}}
	case 2:
		return &tabellav1.Predicate{Attribute: "municipality", Op: tabellav1.Operator_OPERATOR_EQ, Values: []*tabellav1.AttributeValue{textVal(propTowns[r.pick(3)])}}
	case 3:
		return &tabellav1.Predicate{Attribute: "municipality", Op: tabellav1.Operator_OPERATOR_IN, Values: []*tabellav1.AttributeValue{textVal("Aarhus"), textVal("Odense")}}
	case 4:
		return &tabellav1.Predicate{Attribute: "municipality", Op: tabellav1.Operator_OPERATOR_NE, Values: []*tabellav1.AttributeValue{textVal("Aalborg")}}
	default:
		return &tabellav1.Predicate{Attribute: "profession", Op: tabellav1.Operator_OPERATOR_EQ, Values: []*tabellav1.AttributeValue{textVal("health")}}
	}
}

// ballotKind enumerates the ballots the generator makes: valid ones and
// each way of being invalid.
const (
	ballotValid = iota
	ballotWrongOption
	ballotTooMany
	ballotEmpty
	ballotSeqZero
	ballotLowSeq
	ballotReplay
	ballotIneligible
	ballotExpired
	ballotOtherKey
	ballotUnknownIssuer
	ballotUnknownInitiative
	ballotKinds
)

// violate returns attrs changed so that p does not hold.
func violate(attrs []*tabellav1.Attribute, p *tabellav1.Predicate) []*tabellav1.Attribute {
	var out []*tabellav1.Attribute
	for _, a := range attrs {
		if a.Name != p.Attribute {
			out = append(out, a)
			continue
		}
		switch p.Op {
		case tabellav1.Operator_OPERATOR_GE:
			out = append(out, intAttr(a.Name, p.Values[0].GetInteger()-1))
		case tabellav1.Operator_OPERATOR_LT:
			out = append(out, intAttr(a.Name, p.Values[0].GetInteger()))
		case tabellav1.Operator_OPERATOR_NE:
			out = append(out, textAttr(a.Name, p.Values[0].GetText()))
		case tabellav1.Operator_OPERATOR_EQ:
			out = append(out, textAttr(a.Name, "Nowhere"))
		case tabellav1.Operator_OPERATOR_IN:
			// Leave the attribute out: a missing attribute fails too.
		}
	}
	return out
}

func (r *propRun) genPropose(blockTime int64) propTx {
	party := propParties[r.pick(len(propParties))]
	signer := party + "-admin"
	id := r.fresh("prop-")
	deadline := blockTime + 5 + int64(r.pick(60))
	mustReject := false
	var action *tabellav1.GovAction
	var what string
	switch r.pick(6) {
	case 0, 1:
		is := r.fresh("iss-")
		action = &tabellav1.GovAction{Action: &tabellav1.GovAction_RegisterIssuer{RegisterIssuer: &tabellav1.RegisterIssuer{Id: is, Name: "Issuer " + is, PublicKey: pub(is)}}}
		what = "propose register issuer " + is
	case 2:
		o := r.fresh("org-")
		action = &tabellav1.GovAction{Action: &tabellav1.GovAction_RegisterOrganiser{RegisterOrganiser: &tabellav1.RegisterOrganiser{Id: o, Name: "Organiser " + o, PublicKey: pub(o)}}}
		what = "propose register organiser " + o
	case 3:
		// Revoke an issuer: rarely the genesis registry, which most
		// ballots depend on.
		target := "registry"
		var regs []string
		for _, is := range r.activeIssuers() {
			if is != "registry" {
				regs = append(regs, is)
			}
		}
		if len(regs) > 0 && !r.chance(10) {
			target = regs[r.pick(len(regs))]
		} else if !r.chance(20) {
			target = "nobody"
			mustReject = true
		}
		if is := r.findIssuer(target); is != nil && is.Revoked {
			mustReject = true
		}
		action = &tabellav1.GovAction{Action: &tabellav1.GovAction_RevokeIssuer{RevokeIssuer: &tabellav1.RevokeIssuer{Id: target}}}
		what = "propose revoke issuer " + target
	case 4:
		target := "city"
		if len(r.consortium.Organisers) > 1 && !r.chance(10) {
			target = r.consortium.Organisers[r.pick(len(r.consortium.Organisers))].Id
		} else if !r.chance(20) {
			target = "nobody"
		}
		if o := r.findOrganiser(target); o == nil || o.Revoked {
			mustReject = true
		}
		action = &tabellav1.GovAction{Action: &tabellav1.GovAction_RevokeOrganiser{RevokeOrganiser: &tabellav1.RevokeOrganiser{Id: target}}}
		what = "propose revoke organiser " + target
	default:
		// Invalid on purpose.
		action = registerIssuer("registry")
		mustReject = true
		what = "propose re-register registry"
		switch r.pick(3) {
		case 0:
			action = registerIssuer(r.fresh("iss-"))
			signer = "mallory"
			what = "propose signed by non-admin"
		case 1:
			action = registerIssuer(r.fresh("iss-"))
			deadline = blockTime - int64(r.pick(3))
			what = "propose with past deadline"
		}
	}
	raw := r.must(client.GovProposeTx(testChain, key(signer), party, id, deadline, action))
	m := &propProposal{action: action, deadline: deadline, votes: map[string]bool{}}
	r.props[id] = m
	r.propOrder = append(r.propOrder, id)
	return propTx{raw: raw, what: what, mustReject: mustReject, onAccept: func(t *testing.T, _ int64) {
		m.created = true
		m.votes[party] = true
	}}
}

func (r *propRun) genGovVote() propTx {
	t := r.t
	party := propParties[r.pick(len(propParties))]
	signer := party + "-admin"
	if len(r.propOrder) == 0 || r.chance(5) {
		raw := r.must(client.GovVoteTx(testChain, key(signer), party, "no-such-proposal", true))
		return propTx{raw: raw, what: "vote on unknown proposal", mustReject: true}
	}
	// Mostly votes on proposals still open.
	var open []string
	for _, id := range r.propOrder {
		m := r.props[id]
		if m.created && m.deadline > r.now+8 && !slices.Contains(slices.Collect(maps.Values(m.votes)), false) {
			open = append(open, id)
		}
	}
	id := r.propOrder[r.pick(len(r.propOrder))]
	if len(open) > 0 && r.chance(85) {
		id = open[r.pick(len(open))]
	}
	m := r.props[id]
	approve := r.chance(90)
	mustReject := false
	what := fmt.Sprintf("%s votes %v on %s", party, approve, id)
	if r.chance(5) {
		signer, mustReject, what = "civ-a-admin", party != "civ-a", what+" signed by civ-a"
	}
	if _, voted := m.votes[party]; voted {
		mustReject = true
	}
	if m.created {
		if p, err := r.mustView().GovProposal(id); err != nil || p == nil {
			t.Fatalf("proposal %q: %v", id, err)
		} else if p.Status != tabellav1.GovStatus_GOV_STATUS_OPEN {
			mustReject = true
		}
	}
	raw := r.must(client.GovVoteTx(testChain, key(signer), party, id, approve))
	return propTx{raw: raw, what: what, mustReject: mustReject, onAccept: func(t *testing.T, blockTime int64) {
		if !m.created {
			t.Errorf("%s accepted on a proposal never created", what)
		}
		if blockTime >= m.deadline {
			t.Errorf("%s accepted at %d, past the deadline %d", what, blockTime, m.deadline)
		}
		m.votes[party] = approve
	}}
}

func (r *propRun) mustView() *ledger.View {
	v, err := r.a.View(0)
	if err != nil {
		r.t.Fatal(err)
	}
	return v
}

func (r *propRun) genGarbage() propTx {
	if r.chance(50) || len(r.initOrder) == 0 {
		b := make([]byte, r.pick(200))
		for i := range b {
			b[i] = byte(r.rng.UintN(256))
		}
		return propTx{raw: b, what: fmt.Sprintf("garbage %x", b), mustReject: true}
	}
	// A valid-looking tx with a flipped bit: usually rejected, never
	// required to be. If it is accepted its body was left intact (the
	// signature covers it), so it counts as the original ballot.
	src := r.genBallot(r.now + 1)
	raw := slices.Clone(src.raw)
	raw[r.pick(len(raw))] ^= 1 << r.pick(8)
	return propTx{raw: raw, what: "bit-flipped " + src.what, onAccept: src.onAccept}
}
