package main

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tabella/tabella/client"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// The sealed demo: a consultation whose ballots are encrypted to a joint
// key of the four dev parties. The dev home holds every party's admin key,
// so `tabellad dev` plays all four trustees in the key ceremony (their
// trustee secrets are kept in <home>/trustee/); decrypting after the close
// is left to the user, to show the threshold. The deal window is 20 s, not
// the few seconds the deals need, because `tabellad dev` fails when a deal
// misses it, and on a loaded machine the first blocks can take seconds.
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
  opens: +30s
  closes: +15m
eligibility:
  issuers: [demo-registry]
  rules:
    - age >= 16
secrecy: sealed
sealed:
  trustees: [city-council, regional-office, residents-union, transparency-ngo]
  deals_close: +20s
  complaints_close: +25s
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
	org, err := client.LoadKey(home, devOrganiser)
	if err != nil {
		return err
	}
	if _, err := client.CreateSealedInitiative(ctx, c, home, devOrganiser, org, []byte(devSealedSpec)); err != nil {
		return fmt.Errorf("demo initiative %s: %w", devSealedInitiative, err)
	}
	return nil
}
