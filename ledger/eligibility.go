package ledger

import (
	"fmt"
	"strconv"

	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// Eligible reports whether a credential's attributes satisfy every
// predicate. The returned message names the first predicate that fails.
func Eligible(attrs []*tabellav1.Attribute, preds []*tabellav1.Predicate) (bool, string) {
	for _, p := range preds {
		var have *tabellav1.AttributeValue
		for _, a := range attrs {
			if a.Name == p.Attribute {
				have = a.Value
				break
			}
		}
		if have == nil {
			return false, fmt.Sprintf("credential has no %q attribute, required by %s", p.Attribute, FormatPredicate(p))
		}
		if !holds(have, p) {
			return false, fmt.Sprintf("%s = %s does not satisfy %s", p.Attribute, FormatValue(have), FormatPredicate(p))
		}
	}
	return true, ""
}

func holds(have *tabellav1.AttributeValue, p *tabellav1.Predicate) bool {
	if len(p.Values) == 0 {
		return false // never valid: ValidatePredicate refuses it
	}
	switch p.Op {
	case tabellav1.Operator_OPERATOR_EQ:
		return equalValues(have, p.Values[0])
	case tabellav1.Operator_OPERATOR_NE:
		return !equalValues(have, p.Values[0])
	case tabellav1.Operator_OPERATOR_IN:
		for _, v := range p.Values {
			if equalValues(have, v) {
				return true
			}
		}
		return false
	}
	hi, ok := have.Value.(*tabellav1.AttributeValue_Integer)
	if !ok {
		return false
	}
	want := p.Values[0].GetInteger()
	switch p.Op {
	case tabellav1.Operator_OPERATOR_LT:
		return hi.Integer < want
	case tabellav1.Operator_OPERATOR_LE:
		return hi.Integer <= want
	case tabellav1.Operator_OPERATOR_GT:
		return hi.Integer > want
	case tabellav1.Operator_OPERATOR_GE:
		return hi.Integer >= want
	}
	return false
}

// equalValues compares values of the same type; values of different types
// are never equal (the integer 60 is not the text "60").
func equalValues(a, b *tabellav1.AttributeValue) bool {
	switch x := a.Value.(type) {
	case *tabellav1.AttributeValue_Text:
		y, ok := b.Value.(*tabellav1.AttributeValue_Text)
		return ok && x.Text == y.Text
	case *tabellav1.AttributeValue_Integer:
		y, ok := b.Value.(*tabellav1.AttributeValue_Integer)
		return ok && x.Integer == y.Integer
	}
	return false
}

var opSymbols = map[tabellav1.Operator]string{
	tabellav1.Operator_OPERATOR_EQ: "==",
	tabellav1.Operator_OPERATOR_NE: "!=",
	tabellav1.Operator_OPERATOR_LT: "<",
	tabellav1.Operator_OPERATOR_LE: "<=",
	tabellav1.Operator_OPERATOR_GT: ">",
	tabellav1.Operator_OPERATOR_GE: ">=",
	tabellav1.Operator_OPERATOR_IN: "in",
}

// OperatorSymbol returns the spec-file symbol of op ("==", "in", ...).
func OperatorSymbol(op tabellav1.Operator) string { return opSymbols[op] }

// FormatValue renders a value as in spec files: integers bare, text quoted.
func FormatValue(v *tabellav1.AttributeValue) string {
	switch x := v.GetValue().(type) {
	case *tabellav1.AttributeValue_Integer:
		return strconv.FormatInt(x.Integer, 10)
	case *tabellav1.AttributeValue_Text:
		return strconv.Quote(x.Text)
	}
	return "?"
}

// FormatPredicate renders p as in spec files, e.g. `age >= 60`.
func FormatPredicate(p *tabellav1.Predicate) string {
	if p.Op == tabellav1.Operator_OPERATOR_IN {
		s := p.Attribute + " in ["
		for i, v := range p.Values {
			if i > 0 {
				s += ", "
			}
			s += FormatValue(v)
		}
		return s + "]"
	}
	if len(p.Values) != 1 {
		return p.Attribute + " " + opSymbols[p.Op] + " ?"
	}
	return p.Attribute + " " + opSymbols[p.Op] + " " + FormatValue(p.Values[0])
}
