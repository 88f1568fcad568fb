package client

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// SpecFile is the YAML form of an initiative, documented in
// docs/initiatives.md.
type SpecFile struct {
	ID       string `yaml:"id"`
	Kind     string `yaml:"kind"`
	Title    string `yaml:"title"`
	Summary  string `yaml:"summary"`
	Document struct {
		URI    string `yaml:"uri"`
		SHA256 string `yaml:"sha256"`
	} `yaml:"document"`
	Options []struct {
		ID          string `yaml:"id"`
		Title       string `yaml:"title"`
		Description string `yaml:"description"`
	} `yaml:"options"`
	Ballot struct {
		MinSelections uint32 `yaml:"min_selections"`
		MaxSelections uint32 `yaml:"max_selections"`
		Revoting      bool   `yaml:"revoting"`
	} `yaml:"ballot"`
	Schedule struct {
		Opens  yaml.Node `yaml:"opens"`
		Closes yaml.Node `yaml:"closes"`
	} `yaml:"schedule"`
	Eligibility struct {
		Issuers []string    `yaml:"issuers"`
		Rules   []yaml.Node `yaml:"rules"`
	} `yaml:"eligibility"`
	Result struct {
		Quorum uint64 `yaml:"quorum"`
	} `yaml:"result"`
}

// SpecError is a spec file problem with the line it is on (0 if unknown).
type SpecError struct {
	Line int
	Msg  string
}

func (e *SpecError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// ParseSpec reads a spec file and returns the initiative spec, checked with
// the same rules the ledger applies. now resolves relative times ("now",
// "+2h", "+7d").
func ParseSpec(data []byte, now time.Time) (*tabellav1.InitiativeSpec, error) {
	var f SpecFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, &SpecError{Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	kind, ok := tabellav1.InitiativeKind_value["INITIATIVE_KIND_"+strings.ToUpper(f.Kind)]
	if !ok {
		return nil, &SpecError{Msg: fmt.Sprintf("kind %q: use consultation", f.Kind)}
	}
	spec := &tabellav1.InitiativeSpec{
		Id:          f.ID,
		Kind:        tabellav1.InitiativeKind(kind),
		Title:       f.Title,
		Summary:     f.Summary,
		DocumentUri: f.Document.URI,
		Ballot: &tabellav1.BallotRules{
			MinSelections:   f.Ballot.MinSelections,
			MaxSelections:   f.Ballot.MaxSelections,
			RevotingAllowed: f.Ballot.Revoting,
		},
		Eligibility: &tabellav1.Eligibility{IssuerIds: f.Eligibility.Issuers},
		ResultRule:  &tabellav1.ResultRule{Quorum: f.Result.Quorum},
	}
	if spec.Ballot.MinSelections == 0 {
		spec.Ballot.MinSelections = 1
	}
	if spec.Ballot.MaxSelections == 0 {
		spec.Ballot.MaxSelections = spec.Ballot.MinSelections
	}
	if f.Document.SHA256 != "" {
		h, err := hex.DecodeString(f.Document.SHA256)
		if err != nil {
			return nil, &SpecError{Msg: "document.sha256 is not hex"}
		}
		spec.DocumentSha256 = h
	}
	for _, o := range f.Options {
		spec.Options = append(spec.Options, &tabellav1.Option{Id: o.ID, Title: o.Title, Description: o.Description})
	}
	opens, err := specTime(&f.Schedule.Opens, "schedule.opens", now)
	if err != nil {
		return nil, err
	}
	closes, err := specTime(&f.Schedule.Closes, "schedule.closes", now)
	if err != nil {
		return nil, err
	}
	spec.Schedule = &tabellav1.Schedule{VotingOpensAt: opens, VotingClosesAt: closes}
	for i := range f.Eligibility.Rules {
		n := &f.Eligibility.Rules[i]
		if n.Kind != yaml.ScalarNode {
			return nil, &SpecError{Line: n.Line, Msg: "an eligibility rule is a string such as `age >= 60`"}
		}
		p, err := ParsePredicate(n.Value)
		if err != nil {
			return nil, &SpecError{Line: n.Line, Msg: err.Error()}
		}
		spec.Eligibility.Predicates = append(spec.Eligibility.Predicates, p)
	}
	if err := ledger.ValidateInitiativeSpec(spec); err != nil {
		var le *ledger.Error
		if errors.As(err, &le) {
			return nil, &SpecError{Msg: le.Msg}
		}
		return nil, err
	}
	return spec, nil
}

// specTime accepts RFC 3339, "now", or "+<n><s|m|h|d>" relative to now.
func specTime(n *yaml.Node, field string, now time.Time) (int64, error) {
	if n.Kind == 0 {
		return 0, &SpecError{Msg: field + " is required"}
	}
	s := strings.TrimSpace(n.Value)
	switch {
	case s == "now":
		return now.Unix(), nil
	case strings.HasPrefix(s, "+"):
		unit := s[len(s)-1]
		v, err := strconv.ParseInt(s[1:len(s)-1], 10, 64)
		mult := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[unit]
		if err != nil || mult == 0 || v < 0 {
			return 0, &SpecError{Line: n.Line, Msg: fmt.Sprintf("%s %q: use RFC 3339 time, now, or +N with s, m, h or d", field, s)}
		}
		return now.Add(time.Duration(v) * mult).Unix(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, &SpecError{Line: n.Line, Msg: fmt.Sprintf("%s %q: use RFC 3339 time (2026-12-01T09:00:00Z), now, or +N with s, m, h or d", field, s)}
	}
	return t.Unix(), nil
}

var predicateOps = []struct {
	sym string
	op  tabellav1.Operator
}{
	// Two-character operators first, so "<=" is not read as "<".
	{"==", tabellav1.Operator_OPERATOR_EQ},
	{"!=", tabellav1.Operator_OPERATOR_NE},
	{"<=", tabellav1.Operator_OPERATOR_LE},
	{">=", tabellav1.Operator_OPERATOR_GE},
	{"<", tabellav1.Operator_OPERATOR_LT},
	{">", tabellav1.Operator_OPERATOR_GT},
}

// ParsePredicate parses one eligibility rule: an attribute name, an
// operator and a value, such as `age >= 60`, `municipality == "Aarhus"` or
// `profession in ["nurse", "doctor"]`. Integers are bare; text is quoted
// (a bare word of letters, digits, '_', '.' and '-' is text too). One
// comparison per rule: a spec's rules must all hold.
func ParsePredicate(s string) (*tabellav1.Predicate, error) {
	s = strings.TrimSpace(s)
	n := 0
	for n < len(s) && ledger.ValidAttributeName(s[:n+1]) {
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("rule %q: start with an attribute name (letters, digits, '_', '.', '-')", s)
	}
	attr, rest := s[:n], strings.TrimSpace(s[n:])
	if strings.HasPrefix(rest, "in ") || strings.HasPrefix(rest, "in[") {
		list := strings.TrimSpace(rest[2:])
		if !strings.HasPrefix(list, "[") || !strings.HasSuffix(list, "]") {
			return nil, fmt.Errorf("rule %q: 'in' takes a list such as [\"a\", \"b\"]", s)
		}
		p := &tabellav1.Predicate{Attribute: attr, Op: tabellav1.Operator_OPERATOR_IN}
		items, err := splitList(list[1 : len(list)-1])
		if err != nil {
			return nil, fmt.Errorf("rule %q: %w", s, err)
		}
		for _, item := range items {
			v, err := parseValue(item)
			if err != nil {
				return nil, fmt.Errorf("rule %q: %w", s, err)
			}
			p.Values = append(p.Values, v)
		}
		return p, checkPredicate(s, p)
	}
	for _, o := range predicateOps {
		if strings.HasPrefix(rest, o.sym) {
			v, err := parseValue(strings.TrimSpace(rest[len(o.sym):]))
			if err != nil {
				return nil, fmt.Errorf("rule %q: %w", s, err)
			}
			p := &tabellav1.Predicate{Attribute: attr, Op: o.op, Values: []*tabellav1.AttributeValue{v}}
			return p, checkPredicate(s, p)
		}
	}
	return nil, fmt.Errorf("rule %q: expected `attribute OP value` with OP one of ==, !=, <, <=, >, >=, in", s)
}

func checkPredicate(s string, p *tabellav1.Predicate) error {
	if err := ledger.ValidatePredicate(p); err != nil {
		var le *ledger.Error
		if errors.As(err, &le) {
			return fmt.Errorf("rule %q: %s", s, le.Msg)
		}
		return err
	}
	return nil
}

// splitList splits a list body on commas outside quotes.
func splitList(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && inQuote && i+1 < len(s):
			cur.WriteByte(c)
			i++
			cur.WriteByte(s[i])
		case c == '"':
			inQuote = !inQuote
			cur.WriteByte(c)
		case c == ',' && !inQuote:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if inQuote {
		return nil, errors.New("unterminated quote in list")
	}
	if t := strings.TrimSpace(cur.String()); t != "" || len(out) > 0 {
		out = append(out, t)
	}
	return out, nil
}

func bareWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return s != ""
}

func parseValue(s string) (*tabellav1.AttributeValue, error) {
	if s == "" {
		return nil, errors.New("missing value")
	}
	if strings.HasPrefix(s, `"`) {
		t, err := strconv.Unquote(s)
		if err != nil {
			return nil, fmt.Errorf("bad quoted text %s (one value per rule; write several rules to combine conditions)", s)
		}
		return &tabellav1.AttributeValue{Value: &tabellav1.AttributeValue_Text{Text: t}}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return &tabellav1.AttributeValue{Value: &tabellav1.AttributeValue_Integer{Integer: n}}, nil
	}
	if !bareWord(s) {
		return nil, fmt.Errorf("value %q: quote text, e.g. \"Aarhus\"; one comparison per rule (write several rules to combine conditions)", s)
	}
	return &tabellav1.AttributeValue{Value: &tabellav1.AttributeValue_Text{Text: s}}, nil
}

// ParseAttribute parses "name=value" for credential issuance: an integer
// is stored as an integer, anything else as text (quotes optional).
func ParseAttribute(s string) (*tabellav1.Attribute, error) {
	name, val, ok := strings.Cut(s, "=")
	name, val = strings.TrimSpace(name), strings.TrimSpace(val)
	if !ok || !ledger.ValidAttributeName(name) {
		return nil, fmt.Errorf("attribute %q: use name=value, e.g. age=67 or municipality=Aarhus", s)
	}
	if n, err := strconv.ParseInt(val, 10, 64); err == nil {
		return &tabellav1.Attribute{Name: name, Value: &tabellav1.AttributeValue{Value: &tabellav1.AttributeValue_Integer{Integer: n}}}, nil
	}
	if t, err := strconv.Unquote(val); err == nil && strings.HasPrefix(val, `"`) {
		val = t
	}
	return &tabellav1.Attribute{Name: name, Value: &tabellav1.AttributeValue{Value: &tabellav1.AttributeValue_Text{Text: val}}}, nil
}
