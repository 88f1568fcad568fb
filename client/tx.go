// Package client is the Go library portals and the CLI use to talk to
// Tabella: building and signing txs and credentials, the gRPC client, and
// key files.
package client

import (
	"crypto/ed25519"
	"fmt"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// SignTx serializes body, signs "tabella/v1" || chain_id || body with key
// and returns the serialized Tx envelope, ready to broadcast.
func SignTx(chainID string, key ed25519.PrivateKey, body *tabellav1.TxBody) ([]byte, error) {
	body.ChainId = chainID
	bodyBytes, err := proto.MarshalOptions{Deterministic: true}.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode tx body: %w", err)
	}
	tx := &tabellav1.Tx{
		Body: bodyBytes,
		Signatures: []*tabellav1.Signature{{
			PublicKey: key.Public().(ed25519.PublicKey),
			Signature: ed25519.Sign(key, ledger.TxSignBytes(chainID, bodyBytes)),
		}},
	}
	raw, err := proto.Marshal(tx)
	if err != nil {
		return nil, fmt.Errorf("encode tx: %w", err)
	}
	return raw, nil
}

// IssueCredential signs a credential with the issuer's key. Attributes are
// sorted by name, as the ledger requires.
func IssueCredential(chainID string, issuerKey ed25519.PrivateKey, c *tabellav1.Credential) (*tabellav1.SignedCredential, error) {
	sort.Slice(c.Attributes, func(i, j int) bool { return c.Attributes[i].Name < c.Attributes[j].Name })
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode credential: %w", err)
	}
	return &tabellav1.SignedCredential{
		Body:      body,
		Signature: ed25519.Sign(issuerKey, ledger.CredentialSignBytes(chainID, body)),
	}, nil
}

// BallotTx builds and signs a ballot with the voter's key.
func BallotTx(chainID string, voterKey ed25519.PrivateKey, initiativeID string, cred *tabellav1.SignedCredential, selections []uint32, sequence uint64) ([]byte, error) {
	sel := append([]uint32(nil), selections...)
	sort.Slice(sel, func(i, j int) bool { return sel[i] < sel[j] })
	return SignTx(chainID, voterKey, &tabellav1.TxBody{Msg: &tabellav1.TxBody_CastBallot{CastBallot: &tabellav1.CastBallot{
		InitiativeId: initiativeID,
		Credential:   cred,
		Selections:   sel,
		Sequence:     sequence,
	}}})
}

// CreateInitiativeTx builds and signs an initiative creation with the
// organiser's key.
func CreateInitiativeTx(chainID string, organiserKey ed25519.PrivateKey, organiserID string, spec *tabellav1.InitiativeSpec) ([]byte, error) {
	return SignTx(chainID, organiserKey, &tabellav1.TxBody{Msg: &tabellav1.TxBody_CreateInitiative{CreateInitiative: &tabellav1.CreateInitiative{
		OrganiserId: organiserID,
		Spec:        spec,
	}}})
}

// GovProposeTx builds and signs a governance proposal with a party admin key.
func GovProposeTx(chainID string, adminKey ed25519.PrivateKey, partyID, proposalID string, deadline int64, action *tabellav1.GovAction) ([]byte, error) {
	return SignTx(chainID, adminKey, &tabellav1.TxBody{Msg: &tabellav1.TxBody_GovPropose{GovPropose: &tabellav1.GovPropose{
		PartyId:    partyID,
		ProposalId: proposalID,
		Action:     action,
		Deadline:   deadline,
	}}})
}

// GovVoteTx builds and signs a party's vote on a governance proposal.
func GovVoteTx(chainID string, adminKey ed25519.PrivateKey, partyID, proposalID string, approve bool) ([]byte, error) {
	return SignTx(chainID, adminKey, &tabellav1.TxBody{Msg: &tabellav1.TxBody_GovVote{GovVote: &tabellav1.GovVote{
		PartyId:    partyID,
		ProposalId: proposalID,
		Approve:    approve,
	}}})
}

// Proposal is what a citizen submits to a participatory budget.
type Proposal struct {
	ID, Title, Summary string
	// Cost in whole units of the budget's currency.
	Cost uint64
	// DocumentURI and DocumentSHA256 point at the full proposal
	// (optional; the hash is required with a URI).
	DocumentURI    string
	DocumentSHA256 []byte
}

// SubmitProposalTx builds and signs a project submission with the
// submitter's key, which the credential must certify.
func SubmitProposalTx(chainID string, key ed25519.PrivateKey, initiativeID string, cred *tabellav1.SignedCredential, p Proposal) ([]byte, error) {
	return SignTx(chainID, key, &tabellav1.TxBody{Msg: &tabellav1.TxBody_SubmitProposal{SubmitProposal: &tabellav1.SubmitProposal{
		InitiativeId:   initiativeID,
		Credential:     cred,
		ProposalId:     p.ID,
		Title:          p.Title,
		Summary:        p.Summary,
		Cost:           p.Cost,
		DocumentUri:    p.DocumentURI,
		DocumentSha256: p.DocumentSHA256,
	}}})
}

// RegisterCandidateTx builds and signs a candidacy with the candidate's
// key, which the credential must certify.
func RegisterCandidateTx(chainID string, key ed25519.PrivateKey, initiativeID string, cred *tabellav1.SignedCredential, candidateID, name, statement string) ([]byte, error) {
	return SignTx(chainID, key, &tabellav1.TxBody{Msg: &tabellav1.TxBody_RegisterCandidate{RegisterCandidate: &tabellav1.RegisterCandidate{
		InitiativeId: initiativeID,
		Credential:   cred,
		CandidateId:  candidateID,
		Name:         name,
		Statement:    statement,
	}}})
}

// ReviewProposalTx builds and signs a review: with partyID set, by one of
// the party's admin keys (dual review); with partyID empty, by the
// organiser's key (organiser review).
func ReviewProposalTx(chainID string, key ed25519.PrivateKey, initiativeID, proposalID, partyID string, approve bool, note string) ([]byte, error) {
	return SignTx(chainID, key, &tabellav1.TxBody{Msg: &tabellav1.TxBody_ReviewProposal{ReviewProposal: &tabellav1.ReviewProposal{
		InitiativeId: initiativeID,
		ProposalId:   proposalID,
		PartyId:      partyID,
		Approve:      approve,
		Note:         note,
	}}})
}

// WithdrawBallotTx builds and signs the withdrawal of the voter's live
// ballot (a petition signature); sequence must be above the live ballot's.
func WithdrawBallotTx(chainID string, voterKey ed25519.PrivateKey, initiativeID string, sequence uint64) ([]byte, error) {
	return SignTx(chainID, voterKey, &tabellav1.TxBody{Msg: &tabellav1.TxBody_WithdrawBallot{WithdrawBallot: &tabellav1.WithdrawBallot{
		InitiativeId: initiativeID,
		Sequence:     sequence,
	}}})
}

// CancelInitiativeTx builds and signs an initiative's cancellation with
// the organiser's key.
func CancelInitiativeTx(chainID string, organiserKey ed25519.PrivateKey, initiativeID, reason string) ([]byte, error) {
	return SignTx(chainID, organiserKey, &tabellav1.TxBody{Msg: &tabellav1.TxBody_CancelInitiative{CancelInitiative: &tabellav1.CancelInitiative{
		InitiativeId: initiativeID,
		Reason:       reason,
	}}})
}
