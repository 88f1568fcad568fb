package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tabella/tabella/client"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// The sealed demo: a consultation whose ballots are encrypted to a joint
// key of the four dev parties. The dev home holds every party's admin key,
// so `tabellad dev` plays all four trustees in the key ceremony (their
// trustee secrets are kept in <home>/trustee/); decrypting after the close
// is left to the user, to show the threshold.
const (
	devSealedInitiative = "aarhus-square-trees"
	devSealedSpec       = `# A demo sealed consultation of ` + "`tabellad dev`" + `. See docs/initiatives.md#sealed-initiatives.
id: aarhus-square-trees
kind: consultation
title: Which square gets the new trees?
options:
  - {id: north, title: North square}
  - {id: harbour, title: Harbour square}
  - {id: station, title: Station square}
ballot:
  min_selections: 1
  max_selections: 2
  revoting: true
schedule:
  opens: +10s
  closes: +15m
eligibility:
  issuers: [demo-registry]
  rules:
    - age >= 16
secrecy: sealed
sealed:
  trustees: [city-council, regional-office, residents-union, transparency-ngo]
  deals_close: +4s
  complaints_close: +8s
`
)

// devSealed creates the sealed demo unless it exists: it registers the
// parties' trustee keys, creates the initiative and posts every party's
// deal. The ledger fixes the joint key when the complaint window closes.
func devSealed(ctx context.Context, c *client.Client, home string) error {
	_, err := c.GetInitiative(ctx, &tabellav1.GetInitiativeRequest{Id: devSealedInitiative})
	if status.Code(err) != codes.NotFound {
		if err != nil {
			return fmt.Errorf("look up demo initiative %s: %s", devSealedInitiative, client.Describe(err))
		}
		return nil
	}
	chainID, err := c.ChainID(ctx)
	if err != nil {
		return err
	}
	secrets := map[string]*client.TrusteeSecret{}
	admins := map[string]*client.Key{}
	var txs [][]byte
	for _, p := range devParties {
		s, err := client.LoadTrusteeSecret(home, p.id)
		if err != nil {
			if s, err = client.CreateTrusteeSecret(home, p.id); err != nil {
				return err
			}
		}
		secrets[p.id] = s
		if admins[p.id], err = client.LoadKey(home, p.id+"-admin"); err != nil {
			return err
		}
		tx, err := client.RegisterTrusteeKeyTx(chainID, admins[p.id].Private, p.id, s.Public())
		if err != nil {
			return err
		}
		txs = append(txs, tx)
	}
	if err := broadcastAll(ctx, c, txs, "register a trustee key"); err != nil {
		return err
	}
	info, err := c.GetChainInfo(ctx, &tabellav1.GetChainInfoRequest{})
	if err != nil {
		return err
	}
	spec, err := client.ParseSpec([]byte(devSealedSpec), time.Unix(info.BlockTime, 0))
	if err != nil {
		return fmt.Errorf("demo initiative %s: %w", devSealedInitiative, err)
	}
	org, err := client.LoadKey(home, devOrganiser)
	if err != nil {
		return err
	}
	tx, err := client.CreateInitiativeTx(chainID, org.Private, devOrganiser, spec)
	if err != nil {
		return err
	}
	if err := broadcastAll(ctx, c, [][]byte{tx}, "create demo initiative "+devSealedInitiative); err != nil {
		return err
	}
	sd, err := c.GetSealed(ctx, &tabellav1.GetSealedRequest{InitiativeId: devSealedInitiative})
	if err != nil {
		return fmt.Errorf("demo initiative %s: %s", devSealedInitiative, client.Describe(err))
	}
	txs = nil
	for _, p := range devParties {
		tr, err := client.NewTrustee(chainID, spec, sd.State, p.id, secrets[p.id])
		if err != nil {
			return err
		}
		deal, err := tr.Deal(rand.Reader)
		if err != nil {
			return err
		}
		tx, err := client.TrusteeDealTx(chainID, admins[p.id].Private, devSealedInitiative, p.id, deal)
		if err != nil {
			return err
		}
		txs = append(txs, tx)
	}
	return broadcastAll(ctx, c, txs, "post a demo trustee deal")
}

// broadcastAll submits txs concurrently (they share blocks) and waits for
// each to be committed.
func broadcastAll(ctx context.Context, c *client.Client, txs [][]byte, what string) error {
	errs := make(chan error, len(txs))
	for _, tx := range txs {
		go func() {
			_, err := c.Broadcast(ctx, tx, true)
			errs <- err
		}()
	}
	for range txs {
		if err := <-errs; err != nil {
			return fmt.Errorf("%s: %s", what, client.Describe(err))
		}
	}
	return nil
}
