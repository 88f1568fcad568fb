package ledger

// Size limits. Every string, list and tx accepted by the ledger is capped so
// that a single tx can neither exhaust a node's memory nor bloat the state.
// The figures are part of the protocol and listed in docs/protocol.md.
const (
	// MaxTxBytes caps any serialized Tx envelope.
	MaxTxBytes = 1 << 20
	// MaxBallotTxBytes caps a Tx carrying a ballot.
	MaxBallotTxBytes = 8 << 10
	// MaxIDLen caps every identifier (party, organiser, issuer, initiative,
	// proposal, option ids).
	MaxIDLen = 64
	// MaxChainIDLen caps the chain id (CometBFT's own limit is 50).
	MaxChainIDLen = 50
	MaxNameLen    = 200
	MaxTitleLen   = 200
	MaxSummaryLen = 4000
	MaxURILen     = 512
	MaxMemoLen    = 256
	// MaxOptionDescriptionLen caps an option's description.
	MaxOptionDescriptionLen = 2000
	// MaxOptions caps the options (or candidates, or projects) of an
	// initiative; selections are capped by it too.
	MaxOptions = 10000
	// MaxAttributes caps the attributes of a credential.
	MaxAttributes       = 32
	MaxAttributeNameLen = 64
	MaxAttributeTextLen = 128
	// MaxPredicates caps the eligibility predicates of an initiative, and
	// MaxPredicateValues the values of one IN predicate.
	MaxPredicates      = 16
	MaxPredicateValues = 256
	// MaxAcceptedIssuers caps the issuers an initiative accepts.
	MaxAcceptedIssuers = 16
	// MaxParties caps the consortium; MaxAdminKeys a party's admin keys.
	MaxParties   = 64
	MaxAdminKeys = 8
	// MaxValidatorPower caps one validator's power.
	MaxValidatorPower = 1_000_000
	// MaxSignatures caps the signatures on one Tx (exactly one is used).
	MaxSignatures = 1

	// MaxSubmissionTxBytes caps a Tx carrying a SubmitProposal or a
	// RegisterCandidate.
	MaxSubmissionTxBytes = 16 << 10
	// MaxSmallTxBytes caps a Tx carrying a ReviewProposal, a
	// WithdrawBallot or a CancelInitiative.
	MaxSmallTxBytes = 4 << 10
	// MaxNoteLen caps a review note and a cancellation reason.
	MaxNoteLen = 1000
	// MaxCurrencyLen caps a budget's currency code.
	MaxCurrencyLen = 8
	// MaxAmount caps a budget total and a project cost (whole currency
	// units), and a petition's signature threshold; with at most
	// MaxOptions projects every sum of costs fits in 64 bits, and so does
	// total * 10000 for basis-point shares.
	MaxAmount = 1_000_000_000_000_000
	// MaxElectorate caps a declared electorate size.
	MaxElectorate = 10_000_000_000
	// MaxSeats caps an election's seats.
	MaxSeats = 1000
	// BasisPoints is 100%: shares are integers in basis points.
	BasisPoints = 10_000
	// TallyReadsPerBlock bounds the work of counting closed initiatives in
	// one block: at most this many option entries (a count, and a cost for
	// budgets, each one read) are read per block, across all initiatives
	// being counted. An initiative that needs more stays CLOSING and is
	// finished in the next blocks. See docs/protocol.md and
	// BenchmarkCloseBudget.
	TallyReadsPerBlock = 4096

	// MinBlindKeyBits and MaxBlindKeyBits bound the modulus of an
	// issuer's RSA blind-signing key: below 2048 bits RSA is too weak,
	// above 4096 a token costs too much to verify in every node.
	MinBlindKeyBits = 2048
	MaxBlindKeyBits = 4096
	// MaxBlindKeyDERBytes caps the encoded key before it is parsed (a
	// 4096-bit key's SubjectPublicKeyInfo is 550 bytes).
	MaxBlindKeyDERBytes = 1024
)
