// Package sealed is the cryptographic core of sealed (encrypted) ballots:
// exponential ElGamal over ristretto255, non-interactive ballot validity
// proofs, a Pedersen/Feldman distributed key generation whose messages are
// public transactions, and threshold decryption of the homomorphic tally.
//
// It is pure and deterministic — no I/O, no CometBFT, no protobuf, no global
// mutable state. Functions that create secrets or proofs take an io.Reader
// (crypto/rand.Reader in production); every verifier is a pure function of
// its inputs and uses no randomness, so the ledger can run it in consensus.
//
// # Flow
//
//	trustees:  NewTrusteeKey → register Public()
//	round 1:   NewDeal (public tx)              ledger: VerifyDeal
//	           TrusteeKey.CheckShare → Complain ledger: CheckComplaint
//	           ledger: Qualify → JointKey (Y), VerificationKey (Y_i)
//	           TrusteeKey.KeyShare (trustee-local secret)
//	voting:    EncryptBallot (client)           ledger: VerifyBallot, Tally.Add / Tally.Sub
//	closing:   KeyShare.PartialDecrypt (tx)     ledger: VerifyPartial
//	           ledger: NewDLogTable, Combine → per-option counts
//
// # Encodings
//
// Elements and scalars are 32 bytes and must be canonical; every top-level
// message has a one-byte tag, fixed-width big-endian counts, and no
// trailing bytes. Every Decode function rejects anything else with an error
// wrapping ErrEncoding, so one value has exactly one encoding.
//
// # Rejections
//
// Every error wraps one sentinel (ErrEncoding, ErrRules, ErrShape, ErrProof,
// ErrDeal, ErrBadShare, ErrComplaintRejected, ErrNotEnough, ErrOutOfRange,
// ErrChoices, ErrRandom) for errors.Is, with context in the message.
//
// # Performance
//
// Measured on a 2-core VM (docs/sealed-ballots.md §9 has the full table and
// the command): proving an approval ballot of 2 / 10 / 50 options takes
// 1.5 / 7.1 / 36 ms and verifying it 1.1 / 5.3 / 27 ms; a 5-project budget
// ballot takes 12.5 ms to prove and 8.7 ms to verify. Adding a ballot to the
// tally costs ≈ 0.4 µs per option. Recovering counts up to 1,000,000 costs
// 4 ms to build the default table plus at most ≈ 5 ms per option.
//
// The design, every proof statement and transcript, the DKG complaint rule,
// the threshold choice and the integration checklist are in
// docs/sealed-ballots.md.
package sealed
