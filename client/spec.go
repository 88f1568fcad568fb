package client

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

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
		return nil, fmt.Errorf("rule %q: start with an attribute name (a letter or '_', then letters, digits, '_', '.', '-')", s)
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
