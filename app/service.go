package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// ErrorDomain is the ErrorInfo domain of ledger rejections.
const ErrorDomain = "tabella.v1"

// Mempool submits a tx to CometBFT's mempool and returns CheckTx's verdict.
type Mempool interface {
	Submit(ctx context.Context, tx []byte) (ledger.Code, string, error)
	// Committed looks a tx up in the committed chain; ok is false when it
	// is not (yet) in a block.
	Committed(ctx context.Context, hash []byte) (o TxOutcome, ok bool, err error)
}

// ErrTxInMempool is returned by a Mempool for a tx it already holds.
var ErrTxInMempool = errors.New("tx is already in the mempool")

// Service implements tabella.v1.TabellaService over the in-process ledger.
type Service struct {
	tabellav1.UnimplementedTabellaServiceServer

	ledger  *ledger.Ledger
	events  *CommitEvents
	mempool Mempool
	chain   Chain
	// WaitTimeout bounds wait_for_commit when the caller set no deadline.
	WaitTimeout time.Duration
	// RPCAddress is reported by GetChainInfo.
	RPCAddress  string
	NodeVersion string
	// Metrics, when set, counts the txs refused before the mempool.
	Metrics *Metrics
}

// NewService returns the gRPC service. chain may be nil, which disables
// receipts.
func NewService(l *ledger.Ledger, events *CommitEvents, mp Mempool, chain Chain) *Service {
	return &Service{ledger: l, events: events, mempool: mp, chain: chain, WaitTimeout: time.Minute}
}

// StatusFromCode turns a ledger rejection into a gRPC status whose details
// carry an ErrorInfo: reason is the code's name, metadata["code"] its number.
func StatusFromCode(code ledger.Code, msg string, meta map[string]string) error {
	st := status.New(grpcCode(code), msg)
	md := map[string]string{"code": strconv.FormatUint(uint64(code), 10)}
	for k, v := range meta {
		md[k] = v
	}
	if withDetails, err := st.WithDetails(&errdetails.ErrorInfo{Reason: code.String(), Domain: ErrorDomain, Metadata: md}); err == nil {
		st = withDetails
	}
	return st.Err()
}

// LedgerCode extracts the ledger code from a gRPC error produced by
// StatusFromCode; ok is false for other errors.

func grpcCode(c ledger.Code) codes.Code {
	switch c {
	case ledger.CodeOK:
		return codes.OK
	case ledger.CodeMalformedTx, ledger.CodeTxTooLarge, ledger.CodeWrongChainID, ledger.CodeInvalidField,
		ledger.CodeSelectionCount, ledger.CodeUnknownOption, ledger.CodeOverBudget, ledger.CodeBelowMinShare, ledger.CodeWrongKind,
		ledger.CodeWrongSecrecy, ledger.CodeBadSealedBallot, ledger.CodeBadDeal, ledger.CodeBadDecryptionShare:
		return codes.InvalidArgument
	case ledger.CodeBadSignature:
		return codes.Unauthenticated
	case ledger.CodeUnauthorized, ledger.CodeIneligible, ledger.CodeCredentialExpired, ledger.CodeUnknownIssuer,
		ledger.CodeIssuerRevoked, ledger.CodeBadCredential, ledger.CodeIssuerNotAccepted, ledger.CodeOrganiserRevoked,
		ledger.CodeBadToken, ledger.CodeBadBlindKey, ledger.CodeNotTrustee:
		return codes.PermissionDenied
	case ledger.CodeNotFound:
		return codes.NotFound
	case ledger.CodeNotSupported:
		return codes.Unimplemented
	case ledger.CodeMempoolFull:
		return codes.Unavailable
	case ledger.CodeAlreadyExists, ledger.CodeReplay, ledger.CodeAlreadyVoted, ledger.CodeAlreadyReviewed, ledger.CodeAlreadySigned:
		return codes.AlreadyExists
	case ledger.CodeNotOpen, ledger.CodeRevotingDisabled, ledger.CodeProposalClosed, ledger.CodeInitiativeNotActive,
		ledger.CodeWrongPhase, ledger.CodeLimitReached, ledger.CodeWithdrawalDisabled, ledger.CodeKeyNotReady,
		ledger.CodeComplaintRejected:
		return codes.FailedPrecondition
	default:
		return codes.Internal
	}
}

// BroadcastTx submits a tx and optionally waits for its block.
func (s *Service) BroadcastTx(ctx context.Context, req *tabellav1.BroadcastTxRequest) (*tabellav1.BroadcastTxResponse, error) {
	if len(req.Tx) == 0 {
		s.Metrics.observeAPIReject("empty", ledger.CodeMalformedTx)
		return nil, StatusFromCode(ledger.CodeMalformedTx, "tx is empty", nil)
	}
	if len(req.Tx) > ledger.MaxTxBytes {
		s.Metrics.observeAPIReject("oversized", ledger.CodeTxTooLarge)
		return nil, StatusFromCode(ledger.CodeTxTooLarge, fmt.Sprintf("tx is %d bytes, the limit is %d", len(req.Tx), ledger.MaxTxBytes), nil)
	}
	// Verify signatures here, in this request's goroutine: many requests
	// verify in parallel on every core, and CheckTx then finds them
	// cached instead of verifying one at a time.
	if err := s.ledger.PreVerify(req.Tx); err != nil {
		var le *ledger.Error
		if errors.As(err, &le) {
			s.Metrics.observeAPIReject(txType(req.Tx), le.Code)
			return nil, StatusFromCode(le.Code, le.Msg, nil)
		}
		return nil, status.Errorf(codes.Internal, "verify: %v", err)
	}
	hash := ledger.TxHash(req.Tx)
	var (
		committed <-chan TxOutcome
		cancel    = func() {}
	)
	if req.WaitForCommit {
		committed, cancel = s.events.WaitTx(hash)
	}
	defer cancel()

	code, log, err := s.mempool.Submit(ctx, req.Tx)
	seen := errors.Is(err, ErrTxInMempool)
	switch {
	case seen:
		// The node has seen these exact bytes: broadcasting is idempotent.
		// The tx is either still pending or already in a block.
	case err != nil:
		return nil, status.Errorf(codes.Unavailable, "submit to mempool: %v", err)
	case code != ledger.CodeOK:
		return nil, StatusFromCode(code, log, nil)
	}
	resp := &tabellav1.BroadcastTxResponse{TxHash: hash}
	if !req.WaitForCommit && !seen {
		return resp, nil
	}
	if _, ok := ctx.Deadline(); !ok && req.WaitForCommit {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, s.WaitTimeout)
		defer stop()
	}
	if seen && !req.WaitForCommit {
		o, ok, err := s.mempool.Committed(ctx, hash)
		if err != nil {
			return nil, status.Errorf(codes.Unavailable, "look up tx: %v", err)
		}
		if !ok {
			return resp, nil // still pending
		}
		wctx, stop := context.WithTimeout(ctx, s.WaitTimeout)
		defer stop()
		if err := s.awaitState(wctx, o.Height); err != nil {
			return nil, err
		}
		return s.outcome(resp, o)
	}
	o, err := s.awaitCommit(ctx, hash, committed, seen)
	if err != nil {
		return nil, err
	}
	return s.outcome(resp, o)
}

// awaitCommit waits for a tx's block. A tx the node had already seen may
// have been committed before the caller registered: CometBFT's indexer
// knows it a moment after the commit, so with poll set the indexer is
// asked until it or the commit notification answers. Either way the
// ledger's readable state includes the block when it returns.
func (s *Service) awaitCommit(ctx context.Context, hash []byte, committed <-chan TxOutcome, poll bool) (TxOutcome, error) {
	var tick <-chan time.Time
	if poll {
		ticker := time.NewTicker(200 * time.Millisecond)
		defer ticker.Stop()
		tick = ticker.C
	}
	for {
		if poll {
			o, ok, err := s.mempool.Committed(ctx, hash)
			if err != nil {
				return TxOutcome{}, status.Errorf(codes.Unavailable, "look up tx: %v", err)
			}
			if ok {
				// The indexer can know the block before the ledger has
				// written its state (Ledger.CommitAsync).
				return o, s.awaitState(ctx, o.Height)
			}
		}
		select {
		case o := <-committed:
			return o, nil
		case <-tick:
		case <-ctx.Done():
			return TxOutcome{}, status.Errorf(codes.DeadlineExceeded, "tx %X was not committed before the deadline", hash)
		}
	}
}

// awaitState waits until the ledger's saved state reaches height.
func (s *Service) awaitState(ctx context.Context, height int64) error {
	heights, cancel := s.events.WatchHeights()
	defer cancel()
	for s.ledger.LastHeight() < height {
		select {
		case <-heights:
		case <-ctx.Done():
			return status.Errorf(codes.DeadlineExceeded, "the state of height %d is not saved yet (latest %d)", height, s.ledger.LastHeight())
		}
	}
	return nil
}

func (s *Service) outcome(resp *tabellav1.BroadcastTxResponse, o TxOutcome) (*tabellav1.BroadcastTxResponse, error) {
	if o.Code != ledger.CodeOK {
		return nil, StatusFromCode(o.Code, o.Log, map[string]string{"height": strconv.FormatInt(o.Height, 10)})
	}
	resp.Height = o.Height
	return resp, nil
}

func (s *Service) view(height int64) (*ledger.View, error) {
	v, err := s.ledger.View(height)
	if errors.Is(err, ledger.ErrNoSuchHeight) {
		return nil, status.Error(codes.OutOfRange, err.Error())
	}
	if err != nil {
		return nil, status.Errorf(codes.Internal, "open state: %v", err)
	}
	return v, nil
}

func internal(err error) error { return status.Errorf(codes.Internal, "read state: %v", err) }

// GetInitiative returns one initiative.
func (s *Service) GetInitiative(_ context.Context, req *tabellav1.GetInitiativeRequest) (*tabellav1.GetInitiativeResponse, error) {
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	in, err := v.Initiative(req.Id)
	if err != nil {
		return nil, internal(err)
	}
	if in == nil {
		return nil, StatusFromCode(ledger.CodeNotFound, fmt.Sprintf("initiative %q does not exist at height %d", req.Id, v.Height), nil)
	}
	return &tabellav1.GetInitiativeResponse{Initiative: in, Height: v.Height}, nil
}

// ListInitiatives pages through initiatives in id order.
func (s *Service) ListInitiatives(_ context.Context, req *tabellav1.ListInitiativesRequest) (*tabellav1.ListInitiativesResponse, error) {
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	size := int(req.PageSize)
	switch {
	case size == 0:
		size = 50
	case size > 500:
		size = 500
	}
	list, next, err := v.Initiatives(req.Status, req.PageToken, size)
	if err != nil {
		return nil, internal(err)
	}
	return &tabellav1.ListInitiativesResponse{Initiatives: list, NextPageToken: next, Height: v.Height}, nil
}

// GetTally returns the running tally and, once closed, the result.
func (s *Service) GetTally(_ context.Context, req *tabellav1.GetTallyRequest) (*tabellav1.GetTallyResponse, error) {
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	in, err := v.Initiative(req.InitiativeId)
	if err != nil {
		return nil, internal(err)
	}
	if in == nil {
		return nil, StatusFromCode(ledger.CodeNotFound, fmt.Sprintf("initiative %q does not exist at height %d", req.InitiativeId, v.Height), nil)
	}
	t, err := v.Tally(req.InitiativeId)
	if err != nil {
		return nil, internal(err)
	}
	// results_during_voting: false hides the running counts until the
	// initiative is CLOSED. A presentation rule: the counts are in state.
	hidden := ledger.CountsHidden(in)
	if hidden {
		t.Counts = nil
	}
	return &tabellav1.GetTallyResponse{Tally: t, Status: in.Status, Result: in.Result, Height: v.Height, CountsHidden: hidden}, nil
}

// GetBallot returns a voter's live ballot.
func (s *Service) GetBallot(_ context.Context, req *tabellav1.GetBallotRequest) (*tabellav1.GetBallotResponse, error) {
	if len(req.Voter) != ed25519.PublicKeySize {
		return nil, StatusFromCode(ledger.CodeInvalidField, fmt.Sprintf("voter must be a %d-byte ed25519 public key", ed25519.PublicKeySize), nil)
	}
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	b, err := v.Ballot(req.InitiativeId, req.Voter)
	if err != nil {
		return nil, internal(err)
	}
	if b == nil {
		return nil, StatusFromCode(ledger.CodeNotFound, fmt.Sprintf("no ballot from this voter in initiative %q at height %d", req.InitiativeId, v.Height), nil)
	}
	return &tabellav1.GetBallotResponse{Ballot: b, Height: v.Height}, nil
}

// ListParties returns the consortium, organisers and issuers.
func (s *Service) ListParties(_ context.Context, req *tabellav1.ListPartiesRequest) (*tabellav1.ListPartiesResponse, error) {
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	c, err := v.Consortium()
	if err != nil {
		return nil, internal(err)
	}
	return &tabellav1.ListPartiesResponse{Parties: c.Parties, Organisers: c.Organisers, Issuers: c.Issuers, Height: v.Height}, nil
}

// GetGovProposal returns a governance proposal with its votes.
func (s *Service) GetGovProposal(_ context.Context, req *tabellav1.GetGovProposalRequest) (*tabellav1.GetGovProposalResponse, error) {
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	p, err := v.GovProposal(req.Id)
	if err != nil {
		return nil, internal(err)
	}
	if p == nil {
		return nil, StatusFromCode(ledger.CodeNotFound, fmt.Sprintf("governance proposal %q does not exist at height %d", req.Id, v.Height), nil)
	}
	return &tabellav1.GetGovProposalResponse{Proposal: p, Height: v.Height}, nil
}

// GetChainInfo reports the chain id and the latest committed state.
func (s *Service) GetChainInfo(context.Context, *tabellav1.GetChainInfoRequest) (*tabellav1.GetChainInfoResponse, error) {
	height, hash, bt := s.ledger.LastCommit()
	if height == 0 {
		return nil, status.Error(codes.OutOfRange, "nothing is committed yet")
	}
	return &tabellav1.GetChainInfoResponse{
		ChainId:     s.ledger.ChainID(),
		Height:      height,
		AppHash:     hash,
		BlockTime:   bt.Unix(),
		NodeVersion: s.NodeVersion,
		RpcAddress:  s.RPCAddress,
	}, nil
}

// GetSealed returns a sealed initiative's key ceremony and decryption
// record.
func (s *Service) GetSealed(_ context.Context, req *tabellav1.GetSealedRequest) (*tabellav1.GetSealedResponse, error) {
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	rec, err := v.Sealed(req.InitiativeId)
	if err != nil {
		return nil, internal(err)
	}
	if rec == nil {
		return nil, StatusFromCode(ledger.CodeNotFound, fmt.Sprintf("initiative %q is not a sealed initiative at height %d", req.InitiativeId, v.Height), nil)
	}
	return &tabellav1.GetSealedResponse{State: rec.State, Deals: rec.Deals, Complaints: rec.Complaints, Shares: rec.Shares, Height: v.Height}, nil
}

// GetTrusteeKey returns a party's registered trustee transport key.
func (s *Service) GetTrusteeKey(_ context.Context, req *tabellav1.GetTrusteeKeyRequest) (*tabellav1.GetTrusteeKeyResponse, error) {
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	k, err := v.TrusteeKey(req.PartyId)
	if err != nil {
		return nil, internal(err)
	}
	return &tabellav1.GetTrusteeKeyResponse{PublicKey: k, Height: v.Height}, nil
}
