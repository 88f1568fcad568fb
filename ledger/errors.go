package ledger

import (
	"errors"
	"fmt"
)

// Code is a stable rejection code. Codes are part of the protocol: they are
// returned in CheckTx and FinalizeBlock results, carried in gRPC error
// details and documented in docs/protocol.md. Never renumber them.
type Code uint32

// Codespace is reported beside every non-zero code.
const Codespace = "tabella"

const (
	CodeOK                  Code = 0
	CodeInternal            Code = 1
	CodeMalformedTx         Code = 2
	CodeTxTooLarge          Code = 3
	CodeWrongChainID        Code = 4
	CodeBadSignature        Code = 5
	CodeUnauthorized        Code = 6
	CodeInvalidField        Code = 7
	CodeNotFound            Code = 8
	CodeAlreadyExists       Code = 9
	CodeNotOpen             Code = 10
	CodeIneligible          Code = 11
	CodeCredentialExpired   Code = 12
	CodeUnknownIssuer       Code = 13
	CodeIssuerRevoked       Code = 14
	CodeBadCredential       Code = 15
	CodeReplay              Code = 16
	CodeRevotingDisabled    Code = 17
	CodeSelectionCount      Code = 18
	CodeUnknownOption       Code = 19
	CodeProposalClosed      Code = 20
	CodeAlreadyVoted        Code = 21
	CodeIssuerNotAccepted   Code = 22
	CodeOrganiserRevoked    Code = 23
	CodeInitiativeNotActive Code = 24
	CodeOverBudget          Code = 25
	CodeBelowMinShare       Code = 26
	CodeWrongPhase          Code = 27
	CodeAlreadyReviewed     Code = 28
	CodeLimitReached        Code = 29
	CodeAlreadySigned       Code = 30
	CodeWithdrawalDisabled  Code = 31
	CodeWrongKind           Code = 32
	CodeWrongSecrecy        Code = 33
	CodeBadToken            Code = 34
	CodeBadBlindKey         Code = 35
	CodeNotSupported        Code = 36
	// Sealed ballots (docs/protocol.md §5.11).
	CodeBadSealedBallot    Code = 37
	CodeKeyNotReady        Code = 38
	CodeBadDeal            Code = 39
	CodeComplaintRejected  Code = 40
	CodeBadDecryptionShare Code = 41
	CodeNotTrustee         Code = 42
	// CodeMempoolFull is a node's answer, not the ledger's: the mempool
	// filled up while the tx waited to be checked, so it was not checked.
	CodeMempoolFull Code = 43
)

var codeNames = map[Code]string{
	CodeOK:                  "OK",
	CodeInternal:            "INTERNAL",
	CodeMalformedTx:         "MALFORMED_TX",
	CodeTxTooLarge:          "TX_TOO_LARGE",
	CodeWrongChainID:        "WRONG_CHAIN_ID",
	CodeBadSignature:        "BAD_SIGNATURE",
	CodeUnauthorized:        "UNAUTHORIZED",
	CodeInvalidField:        "INVALID_FIELD",
	CodeNotFound:            "NOT_FOUND",
	CodeAlreadyExists:       "ALREADY_EXISTS",
	CodeNotOpen:             "VOTING_NOT_OPEN",
	CodeIneligible:          "INELIGIBLE",
	CodeCredentialExpired:   "CREDENTIAL_EXPIRED",
	CodeUnknownIssuer:       "UNKNOWN_ISSUER",
	CodeIssuerRevoked:       "ISSUER_REVOKED",
	CodeBadCredential:       "BAD_CREDENTIAL",
	CodeReplay:              "REPLAYED_BALLOT",
	CodeRevotingDisabled:    "REVOTING_DISABLED",
	CodeSelectionCount:      "SELECTION_COUNT",
	CodeUnknownOption:       "UNKNOWN_OPTION",
	CodeProposalClosed:      "PROPOSAL_CLOSED",
	CodeAlreadyVoted:        "ALREADY_VOTED",
	CodeIssuerNotAccepted:   "ISSUER_NOT_ACCEPTED",
	CodeOrganiserRevoked:    "ORGANISER_REVOKED",
	CodeInitiativeNotActive: "INITIATIVE_NOT_ACTIVE",
	CodeOverBudget:          "OVER_BUDGET",
	CodeBelowMinShare:       "BELOW_MIN_SHARE",
	CodeWrongPhase:          "WRONG_PHASE",
	CodeAlreadyReviewed:     "ALREADY_REVIEWED",
	CodeLimitReached:        "LIMIT_REACHED",
	CodeAlreadySigned:       "ALREADY_SIGNED",
	CodeWithdrawalDisabled:  "WITHDRAWAL_DISABLED",
	CodeWrongKind:           "WRONG_KIND",
	CodeWrongSecrecy:        "WRONG_SECRECY",
	CodeBadToken:            "BAD_TOKEN",
	CodeBadBlindKey:         "BAD_BLIND_KEY",
	CodeNotSupported:        "NOT_SUPPORTED",
	CodeBadSealedBallot:     "BAD_SEALED_BALLOT",
	CodeKeyNotReady:         "KEY_NOT_READY",
	CodeBadDeal:             "BAD_DEAL",
	CodeComplaintRejected:   "COMPLAINT_REJECTED",
	CodeBadDecryptionShare:  "BAD_DECRYPTION_SHARE",
	CodeNotTrustee:          "NOT_TRUSTEE",
	CodeMempoolFull:         "MEMPOOL_FULL",
}

// String returns the code's stable upper-case name, e.g. "BAD_SIGNATURE".
func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("CODE_%d", uint32(c))
}

// AllCodes lists every defined code in numeric order.
func AllCodes() []Code {
	out := make([]Code, 0, len(codeNames))
	for c := Code(0); int(c) < len(codeNames); c++ {
		out = append(out, c)
	}
	return out
}

// Error is a rejection with a stable code and a message for people.
type Error struct {
	Code Code
	Msg  string
	// Field, when set, names the offending field of an initiative spec by
	// its protobuf path, e.g. "options[3].title" or "schedule.voting_opens_at",
	// so that tools can point at the line of a spec file. It is not part of
	// any result.
	Field string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Msg) }

// Errorf builds a coded rejection.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// fieldErrorf builds an INVALID_FIELD rejection that names the field.
func fieldErrorf(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidField, Msg: fmt.Sprintf(format, args...), Field: field}
}

// codedFieldErrorf builds a rejection with another code that names the
// field of an initiative spec.
func codedFieldErrorf(code Code, field, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Field: field}
}

// CodeOf returns the code of err: CodeOK for nil, the coded value for an
// *Error anywhere in the chain, CodeInternal otherwise.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var le *Error
	if errors.As(err, &le) {
		return le.Code
	}
	return CodeInternal
}
