package ledger

import (
	"crypto/ed25519"

	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// ValidatorUpdate is a change of consensus power; power 0 removes the
// validator.
type ValidatorUpdate struct {
	PubKey ed25519.PublicKey
	Power  int64
}

// ValidateGenesis checks the consortium: at least one party of each kind,
// unique ids and keys, sane sizes.
func ValidateGenesis(g *tabellav1.Genesis) error {
	if g == nil {
		return Errorf(CodeInvalidField, "genesis app_state is missing")
	}
	if len(g.Parties) == 0 || len(g.Parties) > MaxParties {
		return Errorf(CodeInvalidField, "genesis needs 1 to %d parties, has %d", MaxParties, len(g.Parties))
	}
	kinds := map[tabellav1.PartyKind]int{}
	ids := map[string]bool{}
	valKeys := map[string]bool{}
	adminKeys := map[string]string{}
	for _, p := range g.Parties {
		if err := checkID("party id", p.Id); err != nil {
			return err
		}
		if ids[p.Id] {
			return Errorf(CodeInvalidField, "party id %q appears twice", p.Id)
		}
		ids[p.Id] = true
		if err := checkText("party "+p.Id+" name", p.Name, MaxNameLen, true); err != nil {
			return err
		}
		switch p.Kind {
		case tabellav1.PartyKind_PARTY_KIND_GOVERNMENT, tabellav1.PartyKind_PARTY_KIND_CIVIL_SOCIETY:
			kinds[p.Kind]++
		default:
			return Errorf(CodeInvalidField, "party %q must be GOVERNMENT or CIVIL_SOCIETY", p.Id)
		}
		if len(p.AdminKeys) == 0 || len(p.AdminKeys) > MaxAdminKeys {
			return Errorf(CodeInvalidField, "party %q needs 1 to %d admin keys", p.Id, MaxAdminKeys)
		}
		for _, k := range p.AdminKeys {
			if err := checkKey("party "+p.Id+" admin key", k); err != nil {
				return err
			}
			// One key acting for two parties would let one person vote
			// twice in a dual-majority decision.
			if other, dup := adminKeys[string(k)]; dup {
				if other == p.Id {
					return Errorf(CodeInvalidField, "party %q lists the same admin key twice", p.Id)
				}
				return Errorf(CodeInvalidField, "party %q shares an admin key with party %q", p.Id, other)
			}
			adminKeys[string(k)] = p.Id
		}
		if p.Validator == nil {
			// A party may run no validator (yet): it still governs.
			continue
		}
		if err := checkKey("party "+p.Id+" validator key", p.Validator.PublicKey); err != nil {
			return err
		}
		if p.Validator.Power <= 0 {
			return Errorf(CodeInvalidField, "party %q validator power must be positive", p.Id)
		}
		if valKeys[string(p.Validator.PublicKey)] {
			return Errorf(CodeInvalidField, "party %q shares its validator key with another party", p.Id)
		}
		valKeys[string(p.Validator.PublicKey)] = true
	}
	if len(valKeys) == 0 {
		return Errorf(CodeInvalidField, "at least one party must run a validator")
	}
	if kinds[tabellav1.PartyKind_PARTY_KIND_GOVERNMENT] == 0 || kinds[tabellav1.PartyKind_PARTY_KIND_CIVIL_SOCIETY] == 0 {
		return Errorf(CodeInvalidField, "the consortium needs at least one GOVERNMENT and one CIVIL_SOCIETY party")
	}
	seen := map[string]bool{}
	for _, o := range g.Organisers {
		if err := ValidateGovAction(&tabellav1.GovAction{Action: &tabellav1.GovAction_RegisterOrganiser{RegisterOrganiser: &tabellav1.RegisterOrganiser{Id: o.Id, Name: o.Name, PublicKey: o.PublicKey}}}); err != nil {
			return err
		}
		if seen[o.Id] {
			return Errorf(CodeInvalidField, "organiser %q appears twice", o.Id)
		}
		seen[o.Id] = true
	}
	seen = map[string]bool{}
	for _, is := range g.Issuers {
		if err := ValidateGovAction(&tabellav1.GovAction{Action: &tabellav1.GovAction_RegisterIssuer{RegisterIssuer: &tabellav1.RegisterIssuer{Id: is.Id, Name: is.Name, PublicKey: is.PublicKey}}}); err != nil {
			return err
		}
		if seen[is.Id] {
			return Errorf(CodeInvalidField, "issuer %q appears twice", is.Id)
		}
		seen[is.Id] = true
	}
	return nil
}

// writeGenesis stores the consortium and returns the initial validator set.
func writeGenesis(kv *overlay, chainID string, g *tabellav1.Genesis) []ValidatorUpdate {
	kv.Set(keyChainID, []byte(chainID))
	idx := &tabellav1.PartyIndex{}
	vals := make([]ValidatorUpdate, 0, len(g.Parties))
	for _, p := range g.Parties {
		kv.Set(PartyKey(p.Id), marshal(p))
		idx.PartyIds = append(idx.PartyIds, p.Id)
		if p.Validator == nil {
			continue
		}
		vals = append(vals, ValidatorUpdate{PubKey: ed25519.PublicKey(p.Validator.PublicKey), Power: p.Validator.Power})
	}
	kv.Set(keyPartyIndex, marshal(idx))
	for _, o := range g.Organisers {
		kv.Set(OrganiserKey(o.Id), marshal(&tabellav1.Organiser{Id: o.Id, Name: o.Name, PublicKey: o.PublicKey}))
	}
	for _, is := range g.Issuers {
		kv.Set(IssuerKey(is.Id), marshal(&tabellav1.Issuer{Id: is.Id, Name: is.Name, PublicKey: is.PublicKey}))
	}
	return vals
}
