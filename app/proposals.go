package app

import (
	"context"
	"fmt"

	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// GetProposal returns one proposal (a budget project or a candidacy).
func (s *Service) GetProposal(_ context.Context, req *tabellav1.GetProposalRequest) (*tabellav1.GetProposalResponse, error) {
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	p, err := v.Proposal(req.InitiativeId, req.ProposalId)
	if err != nil {
		return nil, internal(err)
	}
	if p == nil {
		return nil, StatusFromCode(ledger.CodeNotFound, fmt.Sprintf("initiative %q has no proposal %q at height %d", req.InitiativeId, req.ProposalId, v.Height), nil)
	}
	return &tabellav1.GetProposalResponse{Proposal: p, Height: v.Height}, nil
}

// ListProposals pages through an initiative's proposals in id order.
func (s *Service) ListProposals(_ context.Context, req *tabellav1.ListProposalsRequest) (*tabellav1.ListProposalsResponse, error) {
	v, err := s.view(req.Height)
	if err != nil {
		return nil, err
	}
	raw, err := v.Get(ledger.InitiativeKey(req.InitiativeId))
	if err != nil {
		return nil, internal(err)
	}
	if raw == nil {
		return nil, StatusFromCode(ledger.CodeNotFound, fmt.Sprintf("initiative %q does not exist at height %d", req.InitiativeId, v.Height), nil)
	}
	size := int(req.PageSize)
	switch {
	case size == 0:
		size = 100
	case size > 1000:
		size = 1000
	}
	list, next, err := v.Proposals(req.InitiativeId, req.Status, req.PageToken, size)
	if err != nil {
		return nil, internal(err)
	}
	return &tabellav1.ListProposalsResponse{Proposals: list, NextPageToken: next, Height: v.Height}, nil
}
