package client

import (
	"strings"
	"testing"
	"time"

	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

func TestParsePredicate(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want: ledger.FormatPredicate of the result, or "error: <substring>"
	}{
		{"age >= 60", "age >= 60"},
		{"age>=60", "age >= 60"},
		{`municipality == "Aarhus"`, `municipality == "Aarhus"`},
		{"municipality == Aarhus", `municipality == "Aarhus"`},
		{`town == "Ringkøbing in Skjern"`, `town == "Ringkøbing in Skjern"`},
		{`profession in ["nurse", "doctor"]`, `profession in ["nurse", "doctor"]`},
		{`code in [1, 2,3]`, `code in [1, 2, 3]`},
		{`name in ["a, b", "c"]`, `name in ["a, b", "c"]`},
		{"age != 17", "age != 17"},
		{"age < 18", "age < 18"},
		{"age >= 60 and age <= 70", "error: one comparison per rule"},
		{`town == "Aarhus" or x`, "error: one value per rule"},
		{"age >= sixty", "error: compares integers only"},
		{">= 60", "error: start with an attribute name"},
		{"age", "error: expected `attribute OP value`"},
		{"age in 1", "error: takes a list"},
		{`x in ["a]`, "error: unterminated quote"},
		{"age ==", "error: missing value"},
	} {
		p, err := ParsePredicate(tc.in)
		if want, ok := strings.CutPrefix(tc.want, "error: "); ok {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%q: err = %v, want one containing %q", tc.in, err, want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := ledger.FormatPredicate(p); got != tc.want {
			t.Errorf("%q parsed as %q, want %q", tc.in, got, tc.want)
		}
	}
}

const goodSpec = `id: parks
kind: consultation
title: Parks
options:
  - {id: a, title: A}
  - {id: b, title: B}
ballot: {min_selections: 1, max_selections: 1}
schedule:
  opens: now
  closes: +2d
eligibility:
  issuers: [registry]
  rules:
    - age >= 16
`

func TestParseSpec(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	spec, err := ParseSpec([]byte(goodSpec), now)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Kind != tabellav1.InitiativeKind_INITIATIVE_KIND_CONSULTATION || spec.Schedule.VotingOpensAt != now.Unix() ||
		spec.Schedule.VotingClosesAt != now.Add(48*time.Hour).Unix() || len(spec.Eligibility.Predicates) != 1 {
		t.Fatalf("spec = %v", spec)
	}
	for _, tc := range []struct{ edit, want string }{
		{strings.Replace(goodSpec, "    - age >= 16", "    - age >= sixteen", 1), "line 14: "},
		{strings.Replace(goodSpec, "  closes: +2d", "  closes: tomorrow", 1), "line 10: "},
		{strings.Replace(goodSpec, "title: Parks", "titel: Parks", 1), "line 3: unknown field \"titel\""},
		{strings.Replace(goodSpec, "kind: consultation", "kind: referendum", 1), "kind \"referendum\""},
		{strings.Replace(goodSpec, "  - {id: b, title: B}\n", "", 1), "line 4: an initiative needs 2 to"},
	} {
		_, err := ParseSpec([]byte(tc.edit), now)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want it to contain %q", err, tc.want)
		}
	}
}

func TestParseAttribute(t *testing.T) {
	a, err := ParseAttribute("age=67")
	if err != nil || a.Value.GetInteger() != 67 {
		t.Fatalf("age: %v %v", a, err)
	}
	a, err = ParseAttribute("municipality=Ringkøbing Skjern")
	if err != nil || a.Value.GetText() != "Ringkøbing Skjern" {
		t.Fatalf("municipality: %v %v", a, err)
	}
	if _, err := ParseAttribute("no value"); err == nil {
		t.Fatal("accepted an attribute without '='")
	}
}
