package sealed

import "errors"

// Sentinel errors. Every rejection returned by this package wraps exactly one
// of them, so callers (the ledger) can map a failure to a stable error code
// with errors.Is while the wrapped message says what precisely was wrong.
var (
	// ErrEncoding: bytes that are not the canonical encoding of the expected
	// structure (wrong length, trailing bytes, unknown tag, a scalar >= the
	// group order, a non-canonical or invalid ristretto255 point, ...).
	ErrEncoding = errors.New("sealed: non-canonical encoding")

	// ErrRules: ballot rules or DKG parameters that are out of the supported
	// bounds or inconsistent.
	ErrRules = errors.New("sealed: invalid rules")

	// ErrChoices: the plaintext choices given to EncryptBallot do not satisfy
	// the rules (the client refuses to build a ballot it knows is invalid).
	ErrChoices = errors.New("sealed: choices violate the ballot rules")

	// ErrShape: a ballot, tally or partial decryption whose dimensions do not
	// match the rules or the tally it refers to.
	ErrShape = errors.New("sealed: wrong shape")

	// ErrProof: a zero-knowledge proof that does not verify.
	ErrProof = errors.New("sealed: proof does not verify")

	// ErrDeal: a DKG deal that is malformed or whose public part is invalid.
	ErrDeal = errors.New("sealed: invalid deal")

	// ErrBadShare: a recipient's decrypted share does not match the dealer's
	// commitments; the recipient should publish a Complaint.
	ErrBadShare = errors.New("sealed: share does not match the dealer's commitments")

	// ErrComplaintRejected: a complaint that does not prove the dealer cheated
	// (the revealed share is correct, or the complaint itself is invalid).
	ErrComplaintRejected = errors.New("sealed: complaint rejected")

	// ErrNotEnough: fewer qualified deals or valid partial decryptions than
	// the threshold.
	ErrNotEnough = errors.New("sealed: not enough participants for the threshold")

	// ErrOutOfRange: a decrypted value above the bound of the discrete-log table.
	ErrOutOfRange = errors.New("sealed: plaintext outside the table bound")

	// ErrRandom: the randomness source failed.
	ErrRandom = errors.New("sealed: randomness source failed")
)
