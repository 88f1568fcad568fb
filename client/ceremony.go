package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"time"

	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// Playing every trustee from one home. `tabellad dev`'s sealed demo and
// `tabella bench --secrecy sealed` run sealed initiatives on networks
// whose home holds the admin keys of all the trustee parties, so one
// process can run the whole key ceremony. On a real network each party
// runs its own part with `tabella trustee`.

// homeTrustee is a trustee party whose admin key and trustee secret are
// in the home.
type homeTrustee struct {
	party  string
	admin  *Key
	secret *TrusteeSecret
}

// TrusteeAdminKey is the name of the admin key of party that a dev or
// bench home holds, as `tabellad dev` creates it.
func TrusteeAdminKey(party string) string { return party + "-admin" }

// CreateSealedInitiative creates a sealed initiative and plays all its
// trustees in the key ceremony, for a network whose home holds every
// trustee party's admin key (TrusteeAdminKey). It registers each party's
// trustee key unless the ledger already holds that key (creating the
// secret in <home>/trustee/ on first use), creates the initiative from
// specYAML with organiser's key, and posts every trustee's deal. Relative
// times in specYAML count from the chain's clock once the keys are
// registered: leave the deals a few blocks. The ledger fixes the joint key
// when the complaint window closes; WaitSealedKey waits for it.
func CreateSealedInitiative(ctx context.Context, c *Client, home, organiserID string, organiser *Key, specYAML []byte) (*tabellav1.InitiativeSpec, error) {
	// A first parse names the trustees; the one that counts comes after
	// the registrations, against the chain's clock.
	draft, err := ParseSpec(specYAML, time.Now())
	if err != nil {
		return nil, err
	}
	parties := draft.GetSealed().GetTrusteePartyIds()
	if len(parties) == 0 {
		return nil, fmt.Errorf("initiative %s is not sealed: its spec names no trustees", draft.Id)
	}
	chainID, err := c.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("chain id: %s", Describe(err))
	}
	trustees := make([]*homeTrustee, len(parties))
	for i, p := range parties {
		if trustees[i], err = loadHomeTrustee(home, p); err != nil {
			return nil, err
		}
	}
	if err := registerTrusteeKeys(ctx, c, chainID, trustees); err != nil {
		return nil, err
	}
	info, err := c.GetChainInfo(ctx, &tabellav1.GetChainInfoRequest{})
	if err != nil {
		return nil, fmt.Errorf("chain info: %s", Describe(err))
	}
	spec, err := ParseSpec(specYAML, time.Unix(info.BlockTime, 0))
	if err != nil {
		return nil, err
	}
	tx, err := CreateInitiativeTx(chainID, organiser.Private, organiserID, spec)
	if err != nil {
		return nil, err
	}
	if err := broadcastAll(ctx, c, [][]byte{tx}, "create sealed initiative "+spec.Id); err != nil {
		return nil, err
	}
	sd, err := c.GetSealed(ctx, &tabellav1.GetSealedRequest{InitiativeId: spec.Id})
	if err != nil {
		return nil, fmt.Errorf("sealed initiative %s: %s", spec.Id, Describe(err))
	}
	txs := make([][]byte, len(trustees))
	for i, t := range trustees {
		tr, err := NewTrustee(chainID, spec, sd.State, t.party, t.secret)
		if err != nil {
			return nil, err
		}
		deal, err := tr.Deal(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("trustee %s: %w", t.party, err)
		}
		if txs[i], err = TrusteeDealTx(chainID, t.admin.Private, spec.Id, t.party, deal); err != nil {
			return nil, err
		}
	}
	if err := broadcastAll(ctx, c, txs, "post a trustee deal in "+spec.Id); err != nil {
		return nil, err
	}
	return spec, nil
}

// loadHomeTrustee loads party's admin key and trustee secret from home,
// creating the secret on first use.
func loadHomeTrustee(home, party string) (*homeTrustee, error) {
	admin, err := LoadKey(home, TrusteeAdminKey(party))
	if err != nil {
		return nil, fmt.Errorf("admin key of trustee %s: %w", party, err)
	}
	secret, err := LoadTrusteeSecret(home, party)
	if err != nil {
		if secret, err = CreateTrusteeSecret(home, party); err != nil {
			return nil, err
		}
	}
	return &homeTrustee{party: party, admin: admin, secret: secret}, nil
}

// registerTrusteeKeys registers the trustees' keys the ledger does not
// hold yet. The ledger replaces a party's registered key without
// complaint; skipping the ones already there keeps a rerun to reads.
func registerTrusteeKeys(ctx context.Context, c *Client, chainID string, trustees []*homeTrustee) error {
	var txs [][]byte
	for _, t := range trustees {
		reg, err := c.GetTrusteeKey(ctx, &tabellav1.GetTrusteeKeyRequest{PartyId: t.party})
		if err != nil {
			return fmt.Errorf("trustee key of %s: %s", t.party, Describe(err))
		}
		if bytes.Equal(reg.PublicKey, t.secret.Public()) {
			continue
		}
		tx, err := RegisterTrusteeKeyTx(chainID, t.admin.Private, t.party, t.secret.Public())
		if err != nil {
			return err
		}
		txs = append(txs, tx)
	}
	return broadcastAll(ctx, c, txs, "register a trustee key")
}

// WaitSealedKey polls a sealed initiative until its key ceremony ends and
// returns its state with the joint key, or an error if the ceremony
// failed.
func WaitSealedKey(ctx context.Context, c *Client, initiative string) (*tabellav1.SealedState, error) {
	var st *tabellav1.SealedState
	err := poll(ctx, func() (bool, error) {
		sd, err := c.GetSealed(ctx, &tabellav1.GetSealedRequest{InitiativeId: initiative})
		if err != nil {
			return false, fmt.Errorf("sealed initiative %s: %s", initiative, Describe(err))
		}
		st = sd.State
		switch st.GetStatus() {
		case tabellav1.CeremonyStatus_CEREMONY_STATUS_READY:
			return true, nil
		case tabellav1.CeremonyStatus_CEREMONY_STATUS_FAILED:
			return false, fmt.Errorf("the key ceremony of %s failed: %s", initiative, st.GetFailure())
		}
		return false, nil
	})
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("waiting for the joint key of %s (ceremony %s): %w", initiative, st.GetStatus(), err)
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// WaitVoting polls an initiative until it is open for ballots; it fails if
// the initiative moves past SCHEDULED to anything but VOTING.
func WaitVoting(ctx context.Context, c *Client, initiative string) error {
	err := poll(ctx, func() (bool, error) {
		res, err := c.GetInitiative(ctx, &tabellav1.GetInitiativeRequest{Id: initiative})
		if err != nil {
			return false, fmt.Errorf("initiative %s: %s", initiative, Describe(err))
		}
		switch s := res.Initiative.Status; s {
		case tabellav1.InitiativeStatus_INITIATIVE_STATUS_VOTING:
			return true, nil
		case tabellav1.InitiativeStatus_INITIATIVE_STATUS_SCHEDULED:
			return false, nil
		default:
			return false, fmt.Errorf("initiative %s is %s, not open for ballots", initiative, s)
		}
	})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("waiting for initiative %s to open: %w", initiative, err)
	}
	return err
}

// poll calls check every 200 ms (a block is at least that far apart)
// until it reports done or fails, or ctx ends.
func poll(ctx context.Context, check func() (done bool, err error)) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if done, err := check(); done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// broadcastAll submits txs concurrently (they share blocks) and waits for
// each to be committed.
func broadcastAll(ctx context.Context, c *Client, txs [][]byte, what string) error {
	errs := make(chan error, len(txs))
	for _, tx := range txs {
		go func() {
			_, err := c.Broadcast(ctx, tx, true)
			errs <- err
		}()
	}
	for range txs {
		if err := <-errs; err != nil {
			return fmt.Errorf("%s: %s", what, Describe(err))
		}
	}
	return nil
}
