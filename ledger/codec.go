package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// Domain-separation prefixes of sign bytes. Chain ids cannot contain '/', so
// a tx's sign bytes can never equal a credential's.
const (
	TxSignPrefix         = "tabella/v1"
	CredentialSignPrefix = "tabella/v1/credential"
)

// TxSignBytes returns the bytes a tx signer signs.
func TxSignBytes(chainID string, body []byte) []byte {
	return signBytes(TxSignPrefix, chainID, body)
}

// CredentialSignBytes returns the bytes an issuer signs for a credential.
func CredentialSignBytes(chainID string, body []byte) []byte {
	return signBytes(CredentialSignPrefix, chainID, body)
}

func signBytes(prefix, chainID string, body []byte) []byte {
	b := make([]byte, 0, len(prefix)+len(chainID)+len(body))
	b = append(b, prefix...)
	b = append(b, chainID...)
	return append(b, body...)
}

// TxHash is SHA-256 of the tx bytes, equal to CometBFT's tx hash. For a
// ballot it is the ballot hash on the voter's receipt.
func TxHash(tx []byte) []byte {
	h := sha256.Sum256(tx)
	return h[:]
}

// DecodedTx is a tx whose envelope and body parsed and passed stateless
// validation. Signer is the verified signer's public key once
// VerifySignature succeeded.
type DecodedTx struct {
	Raw    []byte
	Hash   []byte
	Tx     *tabellav1.Tx
	Body   *tabellav1.TxBody
	Signer ed25519.PublicKey
	// Credential is the decoded credential of a ballot, a proposal or a
	// candidacy, nil otherwise.
	Credential *tabellav1.Credential
}

// Type is the name of the tx's message (MsgType).
func (d *DecodedTx) Type() string { return MsgType(d.Body) }

// MsgType names a body's message: the TxBody oneof field set
// ("cast_ballot", "create_initiative", …), or "empty".
func MsgType(body *tabellav1.TxBody) string {
	if fd := body.ProtoReflect().WhichOneof(msgOneof); fd != nil {
		return string(fd.Name())
	}
	return "empty"
}

var msgOneof = (&tabellav1.TxBody{}).ProtoReflect().Descriptor().Oneofs().ByName("msg")

// unmarshalStrict decodes b into m and rejects unknown fields at any depth:
// they would be carried into state (and, in the unsigned envelope, let a
// relay change a tx's hash). The envelope is additionally held to
// canonical encoding by DecodeTx.
func unmarshalStrict(b []byte, m proto.Message) error {
	if err := proto.Unmarshal(b, m); err != nil {
		return err
	}
	if hasUnknownFields(m.ProtoReflect()) {
		return errUnknownFields
	}
	return nil
}

// hasUnknownFields reports unknown fields in m or any message inside it.
func hasUnknownFields(m protoreflect.Message) bool {
	if len(m.GetUnknown()) > 0 {
		return true
	}
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil {
			return true
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && !found; i++ {
				found = hasUnknownFields(l.Get(i).Message())
			}
		case fd.IsMap():
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				found = hasUnknownFields(mv.Message())
				return !found
			})
		default:
			found = hasUnknownFields(v.Message())
		}
		return !found
	})
	return found
}

var errUnknownFields = Errorf(CodeMalformedTx, "message has unknown fields")

// DecodeTx parses a tx and runs every check that needs no state: sizes,
// field formats, chain id and the signature. The result is safe to execute.
func DecodeTx(chainID string, raw []byte) (*DecodedTx, error) {
	return decodeTx(chainID, raw, nil)
}

// decodeTx is DecodeTx with a signature cache (nil: none).
func decodeTx(chainID string, raw []byte, sigs *SigCache) (*DecodedTx, error) {
	if len(raw) == 0 {
		return nil, Errorf(CodeMalformedTx, "empty tx")
	}
	if len(raw) > MaxTxBytes {
		return nil, Errorf(CodeTxTooLarge, "tx is %d bytes, the limit is %d", len(raw), MaxTxBytes)
	}
	var tx tabellav1.Tx
	if err := unmarshalStrict(raw, &tx); err != nil {
		return nil, Errorf(CodeMalformedTx, "tx envelope does not decode: %v", err)
	}
	// The envelope must be in canonical encoding (fields in order, each
	// once, nothing unknown): otherwise a relay could re-encode a voter's
	// tx into different bytes, a different ballot hash, and front-run it.
	if canon, err := proto.Marshal(&tx); err != nil || !bytes.Equal(canon, raw) {
		return nil, Errorf(CodeMalformedTx, "tx envelope is not canonically encoded (fields in order, each once, no unknown fields)")
	}
	if len(tx.Signatures) == 0 {
		return nil, Errorf(CodeBadSignature, "tx is not signed")
	}
	if len(tx.Signatures) > MaxSignatures {
		return nil, Errorf(CodeBadSignature, "tx has %d signatures, exactly %d is allowed", len(tx.Signatures), MaxSignatures)
	}
	var body tabellav1.TxBody
	if err := unmarshalStrict(tx.Body, &body); err != nil {
		return nil, Errorf(CodeMalformedTx, "tx body does not decode: %v", err)
	}
	if body.ChainId != chainID {
		return nil, Errorf(CodeWrongChainID, "tx is for chain %q, this is chain %q", body.ChainId, chainID)
	}
	if limit, what := msgTxLimit(body.Msg); len(raw) > limit {
		return nil, Errorf(CodeTxTooLarge, "%s tx is %d bytes, the limit is %d", what, len(raw), limit)
	}
	d := &DecodedTx{Raw: raw, Tx: &tx, Body: &body}
	if err := validateBody(d); err != nil {
		return nil, err
	}
	sig := tx.Signatures[0]
	if len(sig.PublicKey) != ed25519.PublicKeySize {
		return nil, Errorf(CodeBadSignature, "signer public key is %d bytes, want %d", len(sig.PublicKey), ed25519.PublicKeySize)
	}
	if len(sig.Signature) != ed25519.SignatureSize {
		return nil, Errorf(CodeBadSignature, "signature is %d bytes, want %d", len(sig.Signature), ed25519.SignatureSize)
	}
	if !sigs.Verify(sig.PublicKey, TxSignBytes(chainID, tx.Body), sig.Signature) {
		return nil, Errorf(CodeBadSignature, "tx signature does not verify for chain %q", chainID)
	}
	d.Signer = ed25519.PublicKey(sig.PublicKey)
	d.Hash = TxHash(raw)
	return d, nil
}

// msgTxLimit is the size cap of a tx carrying msg.
func msgTxLimit(msg any) (int, string) {
	switch m := msg.(type) {
	case *tabellav1.TxBody_CastBallot:
		if len(m.CastBallot.GetSealedBallot()) != 0 {
			return MaxSealedBallotTxBytes, "sealed ballot"
		}
		return MaxBallotTxBytes, "ballot"
	case *tabellav1.TxBody_SubmitProposal:
		return MaxSubmissionTxBytes, "proposal"
	case *tabellav1.TxBody_RegisterCandidate:
		return MaxSubmissionTxBytes, "candidacy"
	case *tabellav1.TxBody_ReviewProposal:
		return MaxSmallTxBytes, "review"
	case *tabellav1.TxBody_WithdrawBallot:
		return MaxSmallTxBytes, "withdrawal"
	case *tabellav1.TxBody_CancelInitiative:
		return MaxSmallTxBytes, "cancellation"
	case *tabellav1.TxBody_RegisterTrusteeKey:
		return MaxSmallTxBytes, "trustee key"
	case *tabellav1.TxBody_TrusteeComplaint:
		return MaxSmallTxBytes, "complaint"
	case *tabellav1.TxBody_TrusteeDeal:
		return MaxSubmissionTxBytes, "deal"
	case *tabellav1.TxBody_DecryptionShare:
		return MaxSubmissionTxBytes, "decryption share"
	}
	return MaxTxBytes, "a"
}

// DecodeCredential parses a signed credential's body and checks its
// signature against the issuer key.
func DecodeCredential(sc *tabellav1.SignedCredential) (*tabellav1.Credential, error) {
	if sc == nil {
		return nil, Errorf(CodeBadCredential, "ballot carries no credential")
	}
	var c tabellav1.Credential
	if err := unmarshalStrict(sc.Body, &c); err != nil {
		return nil, Errorf(CodeBadCredential, "credential does not decode: %v", err)
	}
	if err := validateCredential(&c); err != nil {
		return nil, err
	}
	if len(sc.Signature) != ed25519.SignatureSize {
		return nil, Errorf(CodeBadCredential, "credential signature is %d bytes, want %d", len(sc.Signature), ed25519.SignatureSize)
	}
	return &c, nil
}

// VerifyCredentialSignature checks sc was signed by issuerKey for chainID.
func VerifyCredentialSignature(chainID string, issuerKey []byte, sc *tabellav1.SignedCredential) bool {
	return verifyCredential(nil, chainID, issuerKey, sc)
}

func verifyCredential(sigs *SigCache, chainID string, issuerKey []byte, sc *tabellav1.SignedCredential) bool {
	return sigs.Verify(issuerKey, CredentialSignBytes(chainID, sc.Body), sc.Signature)
}

// marshal encodes state values deterministically. State values hash into
// the app hash, so encoding must not depend on map order or the process.
func marshal(m proto.Message) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		// Only messages with invalid UTF-8 fail; every string was
		// validated on the way in, so this is a programming error.
		panic("ledger: marshal state value: " + err.Error())
	}
	return b
}

// DecodeTxUnverified parses a tx's body without checking its chain id,
// signature or fields: for tools that classify txs already in blocks.
func DecodeTxUnverified(raw []byte) (*tabellav1.TxBody, error) {
	var tx tabellav1.Tx
	if err := proto.Unmarshal(raw, &tx); err != nil {
		return nil, err
	}
	var body tabellav1.TxBody
	if err := proto.Unmarshal(tx.Body, &body); err != nil {
		return nil, err
	}
	return &body, nil
}
