package client

import (
	"slices"
	"strings"
	"testing"
	"time"

	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

func TestParseSealedSpec(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	spec := "id: poll\nkind: consultation\ntitle: Poll\noptions: [{id: a, title: A}, {id: b, title: B}]\n" +
		"schedule: {opens: +30m, closes: +1d}\neligibility: {issuers: [registry]}\nsecrecy: sealed\n" +
		"sealed:\n  trustees: [gov-a, gov-b, civ-a, civ-b]\n  deals_close: +10m\n  complaints_close: +20m\n"
	s, err := ParseSpec([]byte(spec), now)
	if err != nil {
		t.Fatal(err)
	}
	want := &tabellav1.SealedSpec{TrusteePartyIds: []string{"gov-a", "gov-b", "civ-a", "civ-b"}, DealsCloseAt: now.Add(10 * time.Minute).Unix(), ComplaintsCloseAt: now.Add(20 * time.Minute).Unix()}
	if s.Secrecy != tabellav1.Secrecy_SECRECY_SEALED || !slices.Equal(s.Sealed.TrusteePartyIds, want.TrusteePartyIds) ||
		s.Sealed.DealsCloseAt != want.DealsCloseAt || s.Sealed.ComplaintsCloseAt != want.ComplaintsCloseAt || s.Sealed.Threshold != 0 {
		t.Fatalf("parsed %v", s.Sealed)
	}
	for _, c := range []struct{ spec, want string }{
		{strings.Replace(spec, "complaints_close: +20m", "complaints_close: +40m", 1), "line 11: the key ceremony must end"},
		{strings.Replace(spec, "[gov-a, gov-b, civ-a, civ-b]", "[gov-a, gov-b, civ-a]", 1), "line 9: a sealed initiative needs 4 to"},
		{strings.Replace(spec, "  deals_close: +10m\n", "", 1), "sealed.deals_close is required"},
		{strings.Replace(spec, "secrecy: sealed", "secrecy: public", 1), "apply only to a sealed initiative"},
	} {
		if _, err := ParseSpec([]byte(c.spec), now); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}
