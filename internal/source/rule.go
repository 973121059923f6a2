package source

import (
	"fmt"
	"strings"

	"github.com/syncer-dev/syncer/internal/membership"
)

// NewRule checks a Directory rule's value: an email for group and
// group_members, an absolute OU path for org_unit, a non-empty query.
func NewRule(kind membership.RuleKind, raw string, role membership.Role) (*membership.Rule, error) {
	v := strings.TrimSpace(raw)
	r := &membership.Rule{Kind: kind, Role: role, IncludeChildren: true}
	switch kind {
	case membership.RuleGroup, membership.RuleGroupMembers:
		email, err := normaliseEmail(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: a group is named by its email here: %v", kind, quote(raw), err)
		}
		if kind == membership.RuleGroup && role != membership.RoleUnmanaged {
			return nil, fmt.Errorf("group %s can't have a role: only people's roles are managed (group_members: gives its people a role)", quote(raw))
		}
		r.Value = email
	case membership.RuleOrgUnit:
		if i := strings.IndexAny(v, "\\\n"); i >= 0 && strings.HasPrefix(v, "/") {
			// The rule asks the Directory for orgUnitPath='...': Google
			// documents \' for a quote inside it (the rule writes that),
			// but nothing for a backslash.
			return nil, fmt.Errorf("org_unit %s: the path has a %q, which a Directory query can't carry (it is asked as orgUnitPath='...'); name its people with a query rule instead", quote(raw), string(v[i]))
		}
		if !strings.HasPrefix(v, "/") || len(v) > 1000 {
			return nil, fmt.Errorf("org_unit %s: an organisational unit is a path from the top, e.g. /Engineering/Platform", quote(raw))
		}
		if v != "/" {
			v = strings.TrimSuffix(v, "/")
		}
		r.Value = v
	case membership.RuleQuery:
		if v == "" || len(v) > 2000 || strings.ContainsAny(v, "\n\r") {
			return nil, fmt.Errorf("query %s: give a Directory users query, e.g. orgDepartment='Sales'", quote(raw))
		}
		r.Value = v
	default:
		return nil, fmt.Errorf("unknown rule %q", kind)
	}
	return r, nil
}

// ruleInCSV reads a CSV member cell written as a rule (group:EMAIL,
// group_members:EMAIL, org_unit:/PATH, query:QUERY); ok is false for a
// plain member.
func ruleInCSV(cell string, role membership.Role) (*membership.Rule, bool, error) {
	s := strings.TrimSpace(cell)
	kind, value, found := strings.Cut(s, ":")
	if !found {
		return nil, false, nil
	}
	switch k := membership.RuleKind(strings.ToLower(kind)); k {
	case membership.RuleGroup, membership.RuleGroupMembers, membership.RuleOrgUnit, membership.RuleQuery:
		r, err := NewRule(k, value, role)
		return r, true, err
	}
	return nil, false, nil
}
