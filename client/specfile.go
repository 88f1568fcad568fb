package client

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

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

// ParseSpec reads an initiative spec file (YAML, documented in
// docs/initiatives.md) and returns the initiative spec, checked with the
// same rules the ledger applies. now resolves relative times ("now",
// "+2h", "+7d"). Every error names the line it is about when there is one.
func ParseSpec(data []byte, now time.Time) (*tabellav1.InitiativeSpec, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &SpecError{Msg: "the file is empty"}
		}
		return nil, yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &SpecError{Line: extra.Line, Msg: "one initiative per file: a second YAML document starts here"}
	}
	p := &specParser{now: now, lines: map[string]int{}}
	spec, err := p.spec(&doc)
	if err != nil {
		return nil, err
	}
	if err := ledger.ValidateInitiativeSpec(spec); err != nil {
		var le *ledger.Error
		if errors.As(err, &le) {
			return nil, &SpecError{Line: p.lineOf(le.Field), Msg: le.Msg}
		}
		return nil, err
	}
	return spec, nil
}

// yamlError turns a yaml.v3 error into a SpecError with its line.
func yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	}
	return &SpecError{Line: line, Msg: msg}
}

// specParser turns the YAML tree into an InitiativeSpec and remembers the
// line each protobuf field came from, so that the ledger's rejections
// (which name fields by protobuf path) point at the file.
type specParser struct {
	now   time.Time
	lines map[string]int
}

func (p *specParser) at(field string, n *yaml.Node) {
	if n != nil && n.Line > 0 {
		p.lines[field] = n.Line
	}
}

// lineOf finds the line of a protobuf field path, or of the nearest
// enclosing field the file has; for a field the file lacks altogether, the
// line of the kind, which decides what is required.
func (p *specParser) lineOf(field string) int {
	for field != "" {
		if l, ok := p.lines[field]; ok {
			return l
		}
		i := strings.LastIndexAny(field, ".[")
		if i < 0 {
			break
		}
		field = field[:i]
	}
	return p.lines["kind"]
}

func errAt(n *yaml.Node, format string, args ...any) error {
	return &SpecError{Line: n.Line, Msg: fmt.Sprintf(format, args...)}
}

// fields reads a mapping, refusing keys it does not know and repeated
// keys. The result maps each present key to its value node; keyLine gives
// the line of a key.
type fields struct {
	vals map[string]*yaml.Node
	keys map[string]*yaml.Node
}

func (f fields) get(k string) *yaml.Node { return f.vals[k] }

func mapping(n *yaml.Node, where string, known ...string) (fields, error) {
	f := fields{vals: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return f, errAt(n, "%s must be a mapping of fields", where)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !contains(known, k.Value) {
			return f, errAt(k, "unknown field %q in %s (known: %s)", k.Value, where, strings.Join(known, ", "))
		}
		if _, dup := f.vals[k.Value]; dup {
			return f, errAt(k, "field %q appears twice in %s", k.Value, where)
		}
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		f.vals[k.Value] = v
		f.keys[k.Value] = k
	}
	return f, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func scalar(n *yaml.Node, name string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", errAt(n, "%s must be a single value", name)
	}
	return n.Value, nil
}

func str(n *yaml.Node, name string) (string, error) {
	if n == nil {
		return "", nil
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return "", nil
	}
	return scalar(n, name)
}

// uintValue reads a whole number; '_' may group digits (250_000).
func uintValue(n *yaml.Node, name string, max uint64) (uint64, error) {
	s, err := scalar(n, name)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(strings.ReplaceAll(s, "_", ""), 10, 64)
	if err != nil || v > max {
		return 0, errAt(n, "%s %q: use a whole number from 0 to %d", name, s, max)
	}
	return v, nil
}

func boolValue(n *yaml.Node, name string) (bool, error) {
	s, err := scalar(n, name)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, nil
	case "false", "no", "off":
		return false, nil
	}
	return false, errAt(n, "%s %q: use true or false", name, s)
}

// percentValue reads "25%" or "12.5%" (at most two decimals) as basis
// points.
func percentValue(n *yaml.Node, name string) (uint32, error) {
	s, err := scalar(n, name)
	if err != nil {
		return 0, err
	}
	bp, ok := parsePercent(s)
	if !ok {
		return 0, errAt(n, "%s %q: use a percentage such as 25%% or 12.5%% (at most two decimals, at most 100%%)", name, s)
	}
	return bp, nil
}

func parsePercent(s string) (uint32, bool) {
	t, ok := strings.CutSuffix(strings.TrimSpace(s), "%")
	if !ok || t == "" {
		return 0, false
	}
	whole, frac, _ := strings.Cut(strings.TrimSpace(t), ".")
	if len(frac) > 2 || whole == "" {
		return 0, false
	}
	for len(frac) < 2 {
		frac += "0"
	}
	w, err1 := strconv.ParseUint(whole, 10, 32)
	f, err2 := strconv.ParseUint(frac, 10, 32)
	if err1 != nil || err2 != nil || w*100+f > ledger.BasisPoints {
		return 0, false
	}
	return uint32(w*100 + f), true
}

func enumValue(n *yaml.Node, name string, values map[string]int32) (int32, error) {
	s, err := scalar(n, name)
	if err != nil {
		return 0, err
	}
	if v, ok := values[strings.ToLower(strings.ReplaceAll(s, "-", "_"))]; ok {
		return v, nil
	}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	return 0, errAt(n, "%s %q: use one of %s", name, s, strings.Join(names, ", "))
}

// oneOf returns the value of whichever of the keys is present (at most
// one may be) and the key used.
func (f fields) oneOf(where string, keys ...string) (*yaml.Node, string, error) {
	var got *yaml.Node
	var used string
	for _, k := range keys {
		if v := f.get(k); v != nil {
			if got != nil {
				return nil, "", errAt(f.keys[k], "%s: give either %q or %q, not both", where, used, k)
			}
			got, used = v, k
		}
	}
	return got, used, nil
}

var kinds = map[string]int32{
	"consultation": int32(tabellav1.InitiativeKind_INITIATIVE_KIND_CONSULTATION),
	"budget":       int32(tabellav1.InitiativeKind_INITIATIVE_KIND_BUDGET),
	"petition":     int32(tabellav1.InitiativeKind_INITIATIVE_KIND_PETITION),
	"election":     int32(tabellav1.InitiativeKind_INITIATIVE_KIND_ELECTION),
}

func (p *specParser) spec(doc *yaml.Node) (*tabellav1.InitiativeSpec, error) {
	root := doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, &SpecError{Msg: "the file is empty"}
		}
		root = root.Content[0]
	}
	f, err := mapping(root, "the initiative",
		"id", "kind", "title", "summary", "document", "options", "projects", "candidates",
		"budget", "proposals", "candidacy", "ballot", "schedule", "eligibility", "result", "secrecy", "blind_keys", "sealed")
	if err != nil {
		return nil, err
	}
	s := &tabellav1.InitiativeSpec{}
	kindNode := f.get("kind")
	if kindNode == nil {
		return nil, &SpecError{Line: root.Line, Msg: "kind is required: consultation, budget, petition or election"}
	}
	k, err := enumValue(kindNode, "kind", kinds)
	if err != nil {
		return nil, err
	}
	s.Kind = tabellav1.InitiativeKind(k)
	p.at("kind", kindNode)
	for _, t := range []struct {
		key, field string
		dst        *string
	}{{"id", "id", &s.Id}, {"title", "title", &s.Title}, {"summary", "summary", &s.Summary}} {
		n := f.get(t.key)
		if *t.dst, err = str(n, t.key); err != nil {
			return nil, err
		}
		p.at(t.field, n)
	}
	if n := f.get("document"); n != nil {
		if err := p.document(n, s); err != nil {
			return nil, err
		}
	}
	if err := p.options(f, s); err != nil {
		return nil, err
	}
	if n := f.get("budget"); n != nil {
		if s.Budget, err = p.budget(n); err != nil {
			return nil, err
		}
	}
	if n, key, err := f.oneOf("the initiative", "proposals", "candidacy"); err != nil {
		return nil, err
	} else if n != nil {
		if s.Proposals, err = p.proposals(n, key); err != nil {
			return nil, err
		}
	}
	if err := p.result(f.get("result"), s); err != nil {
		return nil, err
	}
	if err := p.ballot(f.get("ballot"), s); err != nil {
		return nil, err
	}
	if err := p.schedule(f.get("schedule"), root, s); err != nil {
		return nil, err
	}
	n := f.get("eligibility")
	if n == nil {
		return nil, &SpecError{Line: root.Line, Msg: "eligibility is required: at least the credential issuers the initiative accepts"}
	}
	if s.Eligibility, err = p.eligibility(n, "eligibility"); err != nil {
		return nil, err
	}
	if n := f.get("secrecy"); n != nil {
		v, err := enumValue(n, "secrecy", secrecyModes)
		if err != nil {
			return nil, err
		}
		s.Secrecy = tabellav1.Secrecy(v)
		if s.Secrecy == tabellav1.Secrecy_SECRECY_PUBLIC {
			// Stored as unset, the encoding of every public
			// initiative made before secrecy modes existed.
			s.Secrecy = tabellav1.Secrecy_SECRECY_UNSPECIFIED
		}
		p.at("secrecy", n)
	}
	if n := f.get("blind_keys"); n != nil {
		if s.BlindKeys, err = p.blindKeys(n); err != nil {
			return nil, err
		}
	}
	if n := f.get("sealed"); n != nil {
		if s.Sealed, err = p.sealed(n); err != nil {
			return nil, err
		}
	}
	// A section as a whole is at the line of its key.
	for key, field := range map[string]string{"budget": "budget", "proposals": "proposals", "candidacy": "proposals", "result": "result_rule", "ballot": "ballot", "schedule": "schedule", "eligibility": "eligibility", "blind_keys": "blind_keys", "sealed": "sealed"} {
		p.at(field, f.keys[key])
	}
	return s, nil
}

func (p *specParser) document(n *yaml.Node, s *tabellav1.InitiativeSpec) error {
	f, err := mapping(n, "document", "uri", "sha256")
	if err != nil {
		return err
	}
	p.at("document_uri", n)
	p.at("document_sha256", n)
	if s.DocumentUri, err = str(f.get("uri"), "document.uri"); err != nil {
		return err
	}
	p.at("document_uri", f.get("uri"))
	if h := f.get("sha256"); h != nil {
		v, err := str(h, "document.sha256")
		if err != nil {
			return err
		}
		if s.DocumentSha256, err = hex.DecodeString(v); err != nil {
			return errAt(h, "document.sha256 is not hex: give the 64 hex digits of the document's SHA-256 (sha256sum FILE)")
		}
		p.at("document_sha256", h)
	}
	return nil
}

func (p *specParser) options(f fields, s *tabellav1.InitiativeSpec) error {
	n, key, err := f.oneOf("the initiative", "options", "projects", "candidates")
	if err != nil || n == nil {
		return err
	}
	p.at("options", f.keys[key])
	if n.Kind != yaml.SequenceNode {
		return errAt(n, "%s must be a list", key)
	}
	for i, item := range n.Content {
		path := fmt.Sprintf("options[%d]", i)
		of, err := mapping(item, fmt.Sprintf("%s item %d", key, i+1), "id", "title", "description", "cost")
		if err != nil {
			return err
		}
		p.at(path, item)
		o := &tabellav1.Option{}
		for _, t := range []struct {
			key string
			dst *string
		}{{"id", &o.Id}, {"title", &o.Title}, {"description", &o.Description}} {
			v := of.get(t.key)
			if *t.dst, err = str(v, key+" "+t.key); err != nil {
				return err
			}
			p.at(path+"."+t.key, v)
		}
		if c := of.get("cost"); c != nil {
			if o.Cost, err = uintValue(c, "cost", ledger.MaxAmount); err != nil {
				return err
			}
			p.at(path+".cost", c)
		}
		s.Options = append(s.Options, o)
	}
	return nil
}

var budgetRules = map[string]int32{
	"within_budget": int32(tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_WITHIN_BUDGET),
	"project_count": int32(tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_PROJECT_COUNT),
	"min_share":     int32(tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_MIN_SHARE),
}

func (p *specParser) budget(n *yaml.Node) (*tabellav1.Budget, error) {
	f, err := mapping(n, "budget", "total", "currency", "ballot_rule", "min_share")
	if err != nil {
		return nil, err
	}
	p.at("budget", n)
	b := &tabellav1.Budget{BallotRule: tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_WITHIN_BUDGET}
	t := f.get("total")
	if t == nil {
		return nil, errAt(n, "budget.total is required: the pot, in whole units of the currency")
	}
	if b.Total, err = uintValue(t, "budget.total", ledger.MaxAmount); err != nil {
		return nil, err
	}
	p.at("budget.total", t)
	if b.Currency, err = str(f.get("currency"), "budget.currency"); err != nil {
		return nil, err
	}
	p.at("budget.currency", f.get("currency"))
	if m := f.get("min_share"); m != nil {
		if b.MinShareBp, err = percentValue(m, "budget.min_share"); err != nil {
			return nil, err
		}
		b.BallotRule = tabellav1.BudgetBallotRule_BUDGET_BALLOT_RULE_MIN_SHARE
		p.at("budget.min_share_bp", m)
	}
	if r := f.get("ballot_rule"); r != nil {
		v, err := enumValue(r, "budget.ballot_rule", budgetRules)
		if err != nil {
			return nil, err
		}
		b.BallotRule = tabellav1.BudgetBallotRule(v)
		p.at("budget.ballot_rule", r)
	}
	return b, nil
}

var reviewModes = map[string]int32{
	"none":      int32(tabellav1.ReviewMode_REVIEW_MODE_NONE),
	"organiser": int32(tabellav1.ReviewMode_REVIEW_MODE_ORGANISER),
	"organizer": int32(tabellav1.ReviewMode_REVIEW_MODE_ORGANISER),
	"dual":      int32(tabellav1.ReviewMode_REVIEW_MODE_DUAL),
}

func (p *specParser) proposals(n *yaml.Node, key string) (*tabellav1.Proposals, error) {
	f, err := mapping(n, key, "review", "government_approvals", "civil_society_approvals", "max_per_person", "eligibility")
	if err != nil {
		return nil, err
	}
	p.at("proposals", n)
	pr := &tabellav1.Proposals{Review: tabellav1.ReviewMode_REVIEW_MODE_NONE}
	if r := f.get("review"); r != nil {
		v, err := enumValue(r, key+".review", reviewModes)
		if err != nil {
			return nil, err
		}
		pr.Review = tabellav1.ReviewMode(v)
		p.at("proposals.review", r)
	}
	if pr.Review == tabellav1.ReviewMode_REVIEW_MODE_DUAL {
		pr.GovernmentApprovals, pr.CivilSocietyApprovals = 1, 1
	}
	for _, t := range []struct {
		key, field string
		dst        *uint32
	}{
		{"government_approvals", "proposals.government_approvals", &pr.GovernmentApprovals},
		{"civil_society_approvals", "proposals.civil_society_approvals", &pr.CivilSocietyApprovals},
		{"max_per_person", "proposals.max_per_person", &pr.MaxPerPerson},
	} {
		if v := f.get(t.key); v != nil {
			x, err := uintValue(v, key+"."+t.key, ledger.MaxOptions)
			if err != nil {
				return nil, err
			}
			*t.dst = uint32(x)
			p.at(t.field, v)
		}
	}
	if e := f.get("eligibility"); e != nil {
		if pr.Eligibility, err = p.eligibility(e, "proposals.eligibility"); err != nil {
			return nil, err
		}
	}
	return pr, nil
}

// result reads the result section; it comes before the ballot, whose
// defaults depend on an election's seats.
func (p *specParser) result(n *yaml.Node, s *tabellav1.InitiativeSpec) error {
	if n == nil {
		return nil
	}
	f, err := mapping(n, "result", "quorum", "electorate", "results_during_voting", "seats", "threshold")
	if err != nil {
		return err
	}
	p.at("result_rule", n)
	r := &tabellav1.ResultRule{}
	if q := f.get("quorum"); q != nil {
		v, err := scalar(q, "result.quorum")
		if err != nil {
			return err
		}
		if strings.HasSuffix(strings.TrimSpace(v), "%") {
			if r.QuorumShareBp, err = percentValue(q, "result.quorum"); err != nil {
				return err
			}
			p.at("result_rule.quorum_share_bp", q)
		} else {
			if r.Quorum, err = uintValue(q, "result.quorum", ledger.MaxElectorate); err != nil {
				return err
			}
			p.at("result_rule.quorum", q)
		}
	}
	if e := f.get("electorate"); e != nil {
		if r.Electorate, err = uintValue(e, "result.electorate", ledger.MaxElectorate); err != nil {
			return err
		}
		p.at("result_rule.electorate", e)
	}
	if v := f.get("results_during_voting"); v != nil {
		show, err := boolValue(v, "result.results_during_voting")
		if err != nil {
			return err
		}
		r.HideRunningTally = !show
		p.at("result_rule.hide_running_tally", v)
	}
	if v := f.get("seats"); v != nil {
		x, err := uintValue(v, "result.seats", ledger.MaxSeats)
		if err != nil {
			return err
		}
		r.Seats = uint32(x)
		p.at("result_rule.seats", v)
	}
	if v := f.get("threshold"); v != nil {
		if r.SignatureThreshold, err = uintValue(v, "result.threshold", ledger.MaxAmount); err != nil {
			return err
		}
		p.at("result_rule.signature_threshold", v)
	}
	s.ResultRule = r
	return nil
}

// ballot reads the ballot rules and fills in the kind's defaults.
func (p *specParser) ballot(n *yaml.Node, s *tabellav1.InitiativeSpec) error {
	r := &tabellav1.BallotRules{}
	var minSet, maxSet bool
	if n != nil {
		f, err := mapping(n, "ballot", "min_selections", "max_selections", "revoting", "withdrawal")
		if err != nil {
			return err
		}
		p.at("ballot", n)
		for _, t := range []struct {
			key string
			dst *uint32
			set *bool
		}{{"min_selections", &r.MinSelections, &minSet}, {"max_selections", &r.MaxSelections, &maxSet}} {
			if v := f.get(t.key); v != nil {
				x, err := uintValue(v, "ballot."+t.key, ledger.MaxOptions)
				if err != nil {
					return err
				}
				*t.dst, *t.set = uint32(x), true
				p.at("ballot."+t.key, v)
			}
		}
		if v := f.get("revoting"); v != nil {
			if r.RevotingAllowed, err = boolValue(v, "ballot.revoting"); err != nil {
				return err
			}
			p.at("ballot.revoting_allowed", v)
		}
		if v := f.get("withdrawal"); v != nil {
			if r.WithdrawalAllowed, err = boolValue(v, "ballot.withdrawal"); err != nil {
				return err
			}
			p.at("ballot.withdrawal_allowed", v)
		}
	}
	if s.Kind != tabellav1.InitiativeKind_INITIATIVE_KIND_PETITION && !minSet {
		r.MinSelections = 1
	}
	if !maxSet {
		switch s.Kind {
		case tabellav1.InitiativeKind_INITIATIVE_KIND_CONSULTATION:
			r.MaxSelections = r.MinSelections
		case tabellav1.InitiativeKind_INITIATIVE_KIND_ELECTION:
			r.MaxSelections = s.GetResultRule().GetSeats()
		}
	}
	s.Ballot = r
	return nil
}

func (p *specParser) schedule(n *yaml.Node, root *yaml.Node, s *tabellav1.InitiativeSpec) error {
	if n == nil {
		return &SpecError{Line: root.Line, Msg: "schedule is required: at least when voting opens and closes"}
	}
	f, err := mapping(n, "schedule", "proposals_opens", "proposals_closes", "opens", "closes")
	if err != nil {
		return err
	}
	p.at("schedule", n)
	sc := &tabellav1.Schedule{}
	for _, t := range []struct {
		key, field string
		dst        *int64
		required   bool
	}{
		{"proposals_opens", "schedule.proposals_opens_at", &sc.ProposalsOpensAt, false},
		{"proposals_closes", "schedule.proposals_closes_at", &sc.ProposalsClosesAt, false},
		{"opens", "schedule.voting_opens_at", &sc.VotingOpensAt, true},
		{"closes", "schedule.voting_closes_at", &sc.VotingClosesAt, true},
	} {
		v := f.get(t.key)
		if v == nil {
			if t.required {
				return errAt(n, "schedule.%s is required", t.key)
			}
			continue
		}
		if *t.dst, err = specTime(v, "schedule."+t.key, p.now); err != nil {
			return err
		}
		p.at(t.field, v)
	}
	s.Schedule = sc
	return nil
}

// sealed parses the trustees and key ceremony of a sealed initiative:
//
//	sealed:
//	  trustees: [gov-a, gov-b, civ-a, civ-b]
//	  threshold: 3            # optional: the smallest no side reaches alone
//	  deals_close: +10m
//	  complaints_close: +20m
func (p *specParser) sealed(n *yaml.Node) (*tabellav1.SealedSpec, error) {
	f, err := mapping(n, "sealed", "trustees", "threshold", "deals_close", "complaints_close")
	if err != nil {
		return nil, err
	}
	out := &tabellav1.SealedSpec{}
	tn := f.get("trustees")
	if tn == nil || tn.Kind != yaml.SequenceNode {
		return nil, errAt(n, "sealed.trustees must list the trustee parties, e.g. [gov-a, gov-b, civ-a, civ-b]")
	}
	p.at("sealed.trustee_party_ids", tn)
	for i, item := range tn.Content {
		id, err := str(item, "sealed.trustees item")
		if err != nil {
			return nil, err
		}
		p.at(fmt.Sprintf("sealed.trustee_party_ids[%d]", i), item)
		out.TrusteePartyIds = append(out.TrusteePartyIds, id)
	}
	if v := f.get("threshold"); v != nil {
		t, err := uintValue(v, "sealed.threshold", 64)
		if err != nil {
			return nil, err
		}
		out.Threshold = uint32(t)
		p.at("sealed.threshold", v)
	}
	for _, t := range []struct {
		key, field string
		dst        *int64
	}{
		{"deals_close", "sealed.deals_close_at", &out.DealsCloseAt},
		{"complaints_close", "sealed.complaints_close_at", &out.ComplaintsCloseAt},
	} {
		v := f.get(t.key)
		if v == nil {
			return nil, errAt(n, "sealed.%s is required: when the key ceremony's %s window closes", t.key, strings.TrimSuffix(t.key, "_close"))
		}
		if *t.dst, err = specTime(v, "sealed."+t.key, p.now); err != nil {
			return nil, err
		}
		p.at(t.field, v)
	}
	return out, nil
}

func (p *specParser) eligibility(n *yaml.Node, field string) (*tabellav1.Eligibility, error) {
	f, err := mapping(n, field, "issuers", "rules")
	if err != nil {
		return nil, err
	}
	p.at(field, n)
	e := &tabellav1.Eligibility{}
	if is := f.get("issuers"); is != nil {
		p.at(field+".issuer_ids", is)
		if is.Kind != yaml.SequenceNode {
			return nil, errAt(is, "%s.issuers must be a list of issuer ids, e.g. [demo-registry]", field)
		}
		for i, item := range is.Content {
			v, err := scalar(item, field+".issuers item")
			if err != nil {
				return nil, err
			}
			e.IssuerIds = append(e.IssuerIds, v)
			p.at(fmt.Sprintf("%s.issuer_ids[%d]", field, i), item)
		}
	} else {
		p.at(field+".issuer_ids", n)
	}
	if rs := f.get("rules"); rs != nil {
		p.at(field+".predicates", rs)
		if rs.Kind != yaml.SequenceNode {
			return nil, errAt(rs, "%s.rules must be a list of rules such as `age >= 60`", field)
		}
		for i, item := range rs.Content {
			if item.Kind != yaml.ScalarNode {
				return nil, errAt(item, "an eligibility rule is a string such as `age >= 60`")
			}
			pr, err := ParsePredicate(item.Value)
			if err != nil {
				return nil, errAt(item, "%s", err.Error())
			}
			e.Predicates = append(e.Predicates, pr)
			p.at(fmt.Sprintf("%s.predicates[%d]", field, i), item)
		}
	}
	return e, nil
}

var secrecyModes = map[string]int32{
	"public":           int32(tabellav1.Secrecy_SECRECY_PUBLIC),
	"anonymous":        int32(tabellav1.Secrecy_SECRECY_ANONYMOUS),
	"sealed":           int32(tabellav1.Secrecy_SECRECY_SEALED),
	"anonymous_sealed": int32(tabellav1.Secrecy_SECRECY_ANONYMOUS_SEALED),
}

// blindKeys reads the issuers' attested blind keys, as `tabella credential
// blind-key` prints them: issuer, rsa_public_key and attestation, the two
// last in base64.
func (p *specParser) blindKeys(n *yaml.Node) ([]*tabellav1.BlindKey, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, errAt(n, "blind_keys must be a list of issuer keys, as `tabella credential blind-key` prints them")
	}
	var out []*tabellav1.BlindKey
	for i, item := range n.Content {
		path := fmt.Sprintf("blind_keys[%d]", i)
		f, err := mapping(item, fmt.Sprintf("blind_keys item %d", i+1), "issuer", "rsa_public_key", "attestation")
		if err != nil {
			return nil, err
		}
		p.at(path, item)
		bk := &tabellav1.BlindKey{}
		if bk.IssuerId, err = str(f.get("issuer"), "blind_keys issuer"); err != nil {
			return nil, err
		}
		p.at(path+".issuer_id", f.get("issuer"))
		for _, t := range []struct {
			key string
			dst *[]byte
		}{{"rsa_public_key", &bk.RsaPublicKey}, {"attestation", &bk.Attestation}} {
			v := f.get(t.key)
			if v == nil {
				return nil, errAt(item, "blind_keys item %d: %s is required", i+1, t.key)
			}
			text, err := str(v, "blind_keys "+t.key)
			if err != nil {
				return nil, err
			}
			if *t.dst, err = base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), "")); err != nil {
				return nil, errAt(v, "blind_keys %s is not base64: copy it as `tabella credential blind-key` printed it", t.key)
			}
			p.at(path+"."+t.key, v)
		}
		out = append(out, bk)
	}
	return out, nil
}

// BlindKeyYAML renders a blind key registration as an item of a spec
// file's blind_keys list.
func BlindKeyYAML(bk *tabellav1.BlindKey) string {
	return fmt.Sprintf("  - issuer: %s\n    rsa_public_key: %s\n    attestation: %s\n",
		bk.IssuerId, base64.StdEncoding.EncodeToString(bk.RsaPublicKey), base64.StdEncoding.EncodeToString(bk.Attestation))
}

// specTime accepts RFC 3339, "now", or "+<n><s|m|h|d>" relative to now.
func specTime(n *yaml.Node, field string, now time.Time) (int64, error) {
	s, err := scalar(n, field)
	if err != nil {
		return 0, err
	}
	s = strings.TrimSpace(s)
	switch {
	case s == "now":
		return now.Unix(), nil
	case strings.HasPrefix(s, "+") && len(s) > 2:
		unit := s[len(s)-1]
		v, err := strconv.ParseInt(s[1:len(s)-1], 10, 64)
		mult := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[unit]
		if err != nil || mult == 0 || v < 0 || v > 100*365*24*3600 {
			return 0, errAt(n, "%s %q: use RFC 3339 time, now, or +N with s, m, h or d", field, s)
		}
		return now.Add(time.Duration(v) * mult).Unix(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, errAt(n, "%s %q: use RFC 3339 time (2026-12-01T09:00:00Z), now, or +N with s, m, h or d", field, s)
	}
	return t.Unix(), nil
}
