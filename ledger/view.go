package ledger

import (
	"errors"
	"fmt"

	"github.com/cosmos/iavl"
	ics23 "github.com/cosmos/ics23/go"
	"google.golang.org/protobuf/proto"

	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// ErrNoSuchHeight is returned for a height that is not committed.
var ErrNoSuchHeight = errors.New("height is not committed")

// View reads one committed, immutable state version. Every read takes the
// ledger's read lock, so it never observes a version being saved.
type View struct {
	l      *Ledger
	tree   *iavl.ImmutableTree
	Height int64
}

// View opens the committed version at height; 0 means the latest. A
// height CometBFT has committed but whose version is still being written
// (Ledger.CommitAsync) is waited for: it is readable in a moment.
func (l *Ledger) View(height int64) (*View, error) {
	if s := l.writing.Load(); s != nil && height == s.height {
		<-s.done
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	latest := l.committed
	if latest.Version() == 0 {
		return nil, fmt.Errorf("%w: nothing is committed yet", ErrNoSuchHeight)
	}
	if height == 0 || height == latest.Version() {
		return &View{l: l, tree: latest, Height: latest.Version()}, nil
	}
	if height < 0 || height > latest.Version() {
		return nil, fmt.Errorf("%w: %d (latest is %d)", ErrNoSuchHeight, height, latest.Version())
	}
	t, err := l.reader.GetImmutable(height)
	if err != nil {
		return nil, fmt.Errorf("%w: %d: %v", ErrNoSuchHeight, height, err)
	}
	return &View{l: l, tree: t, Height: height}, nil
}

// Get returns the raw value at key, nil when absent.
func (v *View) Get(key []byte) ([]byte, error) {
	v.l.mu.RLock()
	defer v.l.mu.RUnlock()
	return v.tree.Get(key)
}

// AppHash is the root hash of this version: the app hash in header
// Height+1.
func (v *View) AppHash() []byte {
	v.l.mu.RLock()
	defer v.l.mu.RUnlock()
	return v.tree.Hash()
}

// Prove returns the value at key and an ICS23 proof against AppHash: a
// membership proof when the key exists, a non-membership proof otherwise.
func (v *View) Prove(key []byte) ([]byte, *ics23.CommitmentProof, error) {
	v.l.mu.RLock()
	defer v.l.mu.RUnlock()
	val, err := v.tree.Get(key)
	if err != nil {
		return nil, nil, err
	}
	var p *ics23.CommitmentProof
	if val != nil {
		p, err = v.tree.GetMembershipProof(key)
	} else {
		p, err = v.tree.GetNonMembershipProof(key)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("prove %q at height %d: %w", key, v.Height, err)
	}
	return val, p, nil
}

func (v *View) getProto(key []byte, m proto.Message) (bool, error) {
	return getProto(v, key, m)
}

// scan calls fn for each key with prefix, from start (inclusive) on, until
// fn returns false.
func (v *View) scan(prefix, start []byte, fn func(k, val []byte) bool) error {
	v.l.mu.RLock()
	defer v.l.mu.RUnlock()
	if start == nil {
		start = prefix
	}
	it, err := v.tree.Iterator(start, prefixEnd(prefix), true)
	if err != nil {
		return err
	}
	defer it.Close()
	for ; it.Valid(); it.Next() {
		if !fn(it.Key(), it.Value()) {
			break
		}
	}
	return it.Error()
}

// Initiative returns an initiative, nil when it does not exist. For an
// initiative whose options come from proposals (or candidacies), the
// options approved so far are filled in from their option keys: the
// stored record holds none.
func (v *View) Initiative(id string) (*tabellav1.Initiative, error) {
	var in tabellav1.Initiative
	ok, err := v.getProto(InitiativeKey(id), &in)
	if err != nil || !ok {
		return nil, err
	}
	if in.Spec.GetProposals() != nil {
		var t tabellav1.Tally
		if _, err := v.getProto(TallyKey(id), &t); err != nil {
			return nil, err
		}
		for i := uint32(0); i < t.OptionCount; i++ {
			var o tabellav1.Option
			if _, err := v.getProto(OptionKey(id, i), &o); err != nil {
				return nil, err
			}
			in.Spec.Options = append(in.Spec.Options, &o)
		}
	}
	return &in, nil
}

// Initiatives lists initiatives in id order starting after pageToken,
// keeping those with the given status (UNSPECIFIED keeps all). The records
// are as stored: options that come from proposals are not filled in (use
// Initiative).
func (v *View) Initiatives(status tabellav1.InitiativeStatus, pageToken string, pageSize int) ([]*tabellav1.Initiative, string, error) {
	prefix := []byte(prefixInitiative)
	var start []byte
	if pageToken != "" {
		start = append(InitiativeKey(pageToken), 0)
	}
	var out []*tabellav1.Initiative
	var next string
	var decodeErr error
	err := v.scan(prefix, start, func(k, val []byte) bool {
		var in tabellav1.Initiative
		if err := proto.Unmarshal(val, &in); err != nil {
			decodeErr = fmt.Errorf("decode %q: %w", k, err)
			return false
		}
		if status != tabellav1.InitiativeStatus_INITIATIVE_STATUS_UNSPECIFIED && in.Status != status {
			return true
		}
		if len(out) == pageSize {
			next = out[len(out)-1].Spec.Id
			return false
		}
		out = append(out, &in)
		return true
	})
	if err == nil {
		err = decodeErr
	}
	return out, next, err
}

// Tally returns the running tally with every option's count, nil when the
// initiative does not exist.
func (v *View) Tally(id string) (*tabellav1.Tally, error) {
	in, err := v.Initiative(id)
	if err != nil || in == nil {
		return nil, err
	}
	var t tabellav1.Tally
	if _, err := v.getProto(TallyKey(id), &t); err != nil {
		return nil, err
	}
	t.Counts = make([]uint64, optionCount(in, &t))
	for i := range t.Counts {
		if t.Counts[i], err = readCount(v, CountKey(id, uint32(i))); err != nil {
			return nil, err
		}
	}
	return &t, nil
}

// Proposal returns a proposal (or candidacy), nil when it does not exist.
func (v *View) Proposal(initiative, id string) (*tabellav1.Proposal, error) {
	var p tabellav1.Proposal
	ok, err := v.getProto(ProposalKey(initiative, id), &p)
	if err != nil || !ok {
		return nil, err
	}
	return &p, nil
}

// Proposals lists an initiative's proposals in id order starting after
// pageToken, keeping those with the given status (UNSPECIFIED keeps all).
func (v *View) Proposals(initiative string, status tabellav1.ProposalStatus, pageToken string, pageSize int) ([]*tabellav1.Proposal, string, error) {
	prefix := []byte(prefixProposal + initiative + "/")
	var start []byte
	if pageToken != "" {
		start = append(ProposalKey(initiative, pageToken), 0)
	}
	var out []*tabellav1.Proposal
	var next string
	var decodeErr error
	err := v.scan(prefix, start, func(k, val []byte) bool {
		var p tabellav1.Proposal
		if err := proto.Unmarshal(val, &p); err != nil {
			decodeErr = fmt.Errorf("decode %q: %w", k, err)
			return false
		}
		if status != tabellav1.ProposalStatus_PROPOSAL_STATUS_UNSPECIFIED && p.Status != status {
			return true
		}
		if len(out) == pageSize {
			next = out[len(out)-1].Id
			return false
		}
		out = append(out, &p)
		return true
	})
	if err == nil {
		err = decodeErr
	}
	return out, next, err
}

// Ballot returns the live ballot of a voter, nil when there is none.
func (v *View) Ballot(initiative string, voter []byte) (*tabellav1.BallotRecord, error) {
	var b tabellav1.BallotRecord
	ok, err := v.getProto(BallotKey(initiative, voter), &b)
	if err != nil || !ok {
		return nil, err
	}
	return &b, nil
}

// GovProposal returns a governance proposal, nil when it does not exist.
func (v *View) GovProposal(id string) (*tabellav1.GovProposal, error) {
	var p tabellav1.GovProposal
	ok, err := v.getProto(GovKey(id), &p)
	if err != nil || !ok {
		return nil, err
	}
	return &p, nil
}

// Consortium returns the parties, organisers and issuers.
func (v *View) Consortium() (*tabellav1.Genesis, error) {
	out := &tabellav1.Genesis{}
	var idx tabellav1.PartyIndex
	if _, err := v.getProto(keyPartyIndex, &idx); err != nil {
		return nil, err
	}
	for _, id := range idx.PartyIds {
		var p tabellav1.Party
		if _, err := v.getProto(PartyKey(id), &p); err != nil {
			return nil, err
		}
		out.Parties = append(out.Parties, &p)
	}
	var decodeErr error
	err := v.scan([]byte(prefixOrganiser), nil, func(k, val []byte) bool {
		var o tabellav1.Organiser
		if decodeErr = proto.Unmarshal(val, &o); decodeErr != nil {
			return false
		}
		out.Organisers = append(out.Organisers, &o)
		return true
	})
	if err != nil || decodeErr != nil {
		return nil, errors.Join(err, decodeErr)
	}
	err = v.scan([]byte(prefixIssuer), nil, func(k, val []byte) bool {
		var is tabellav1.Issuer
		if decodeErr = proto.Unmarshal(val, &is); decodeErr != nil {
			return false
		}
		out.Issuers = append(out.Issuers, &is)
		return true
	})
	if err != nil || decodeErr != nil {
		return nil, errors.Join(err, decodeErr)
	}
	return out, nil
}

// Ballots calls fn for each live ballot of an initiative, in voter key
// order.
func (v *View) Ballots(initiative string, fn func(*tabellav1.BallotRecord) error) error {
	return v.eachBallot([]byte(prefixBallot+initiative+"/"), fn)
}

// SupersededBallots calls fn for each ballot replaced by a revote, in
// (voter, sequence) order.
func (v *View) SupersededBallots(initiative string, fn func(*tabellav1.BallotRecord) error) error {
	return v.eachBallot([]byte(prefixHistory+initiative+"/"), fn)
}

func (v *View) eachBallot(prefix []byte, fn func(*tabellav1.BallotRecord) error) error {
	// Collect first: fn may be slow, and the read lock is held while
	// scanning.
	var recs []*tabellav1.BallotRecord
	var decodeErr error
	err := v.scan(prefix, nil, func(k, val []byte) bool {
		var b tabellav1.BallotRecord
		if decodeErr = proto.Unmarshal(val, &b); decodeErr != nil {
			decodeErr = fmt.Errorf("decode %q: %w", k, decodeErr)
			return false
		}
		recs = append(recs, &b)
		return true
	})
	if err != nil || decodeErr != nil {
		return errors.Join(err, decodeErr)
	}
	for _, b := range recs {
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

// CountsHidden reports whether queries must keep an initiative's running
// counts to themselves: it hides them (results_during_voting: false) and
// is not CLOSED. Hiding is a presentation rule of the query API; the
// counts are in state, readable by anyone with the state.
func CountsHidden(in *tabellav1.Initiative) bool {
	return in.Spec.GetResultRule().GetHideRunningTally() && in.Status != statusClosed
}
