package rules_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/rules"
	"github.com/syncer-dev/syncer/internal/source"
	"github.com/syncer-dev/syncer/internal/throttle"
)

// directory is a small organisation: engineering (platform, web), sales; a
// group of engineers with a nested group of leads; one suspended and one
// archived engineer, whom no rule names.
func directory() *emulator.Seed {
	return &emulator.Seed{
		Users: []emulator.SeedUser{
			{ID: "1", Email: "ann@example.com", OrgUnit: "/Engineering/Platform", Department: "Engineering"},
			{ID: "2", Email: "bob@example.com", OrgUnit: "/Engineering/Web", Department: "Engineering"},
			{ID: "3", Email: "cat@example.com", OrgUnit: "/Engineering", Department: "Engineering"},
			{ID: "4", Email: "dan@example.com", OrgUnit: "/Sales", Department: "Sales"},
			{ID: "5", Email: "eve@example.com", OrgUnit: "/Engineering/Platform", Suspended: true},
			{ID: "6", Email: "fay@example.com", OrgUnit: "/Engineering", Archived: true},
		},
		Groups: []emulator.SeedGroup{
			{ID: "g-eng", Email: "eng@example.com", Members: []string{"ann@example.com", "bob@example.com", "eve@example.com", "fay@example.com", "leads@example.com"}},
			{ID: "g-leads", Email: "leads@example.com", Members: []string{"cat@example.com"}},
			{ID: "g-empty", Email: "nobody@example.com"},
			{ID: "g-outer", Email: "outer@example.com", Members: []string{"leads@example.com"}},
			// Everyone in the domain, and ann: a member of type CUSTOMER.
			{ID: "g-all", Email: "all@example.com", Members: []string{"*", "ann@example.com"}},
		},
	}
}

func expand(t *testing.T, seed *emulator.Seed, opts emulator.Options, yaml string) (rules.Expansion, error, *emulator.Server) {
	t.Helper()
	em, url := emulatortest.Start(t, seed, opts)
	dir, err := chatapi.NewDirectory(context.Background(), url, chatapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(path, []byte(yaml), 0o644)
	d, err := source.Load([]source.Spec{{Path: path}})
	if err != nil {
		t.Fatal(err)
	}
	e := &rules.Expander{Directory: dir, Throttle: throttle.New(throttle.Limits{MaxAttempts: 2, BaseDelay: time.Millisecond}), Concurrency: 4}
	x, err := e.Expand(context.Background(), d)
	return x, err, em
}

func members(x rules.Expansion, space string) string {
	var out []string
	for _, s := range x.Desired.Spaces {
		if s.Name != space {
			continue
		}
		for _, m := range s.Members {
			line := string(m.Principal)
			if m.Role != "" {
				line += " " + m.Role.UIName()
			}
			if m.Source.Via() != "" {
				line += fmt.Sprintf(" <%d %s>", m.Source.Location().Line, m.Source.Via())
			}
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func TestRuleKinds(t *testing.T) {
	tests := []struct {
		name, rule, want string
	}{
		{"a group's members, suspended people and groups left out", "{group_members: eng@example.com}",
			"users/ann@example.com <6 group_members eng@example.com>\nusers/bob@example.com <6 group_members eng@example.com>"},
		{"nested: the members of the groups in it too", "{group_members: eng@example.com, nested: true}",
			"users/ann@example.com <6 group_members eng@example.com (nested)>\nusers/bob@example.com <6 group_members eng@example.com (nested)>\nusers/cat@example.com <6 group_members eng@example.com (nested)>"},
		{"an organisational unit and the units below it", "{org_unit: /Engineering}",
			"users/ann@example.com <6 org_unit /Engineering>\nusers/bob@example.com <6 org_unit /Engineering>\nusers/cat@example.com <6 org_unit /Engineering>"},
		{"this unit only", "{org_unit: /Engineering, include_children: false}",
			"users/cat@example.com <6 org_unit /Engineering (this unit only)>"},
		{"a query", `{query: "orgDepartment='Sales'", role: member}`,
			"users/dan@example.com member <6 query orgDepartment='Sales'>"},
		{"a group by email is one member: groups/{id}", "{group: eng@example.com}",
			"groups/g-eng <6 group eng@example.com>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err, _ := expand(t, directory(), emulator.Options{}, "spaces:\n  - space: spaces/A\n    members:\n      - x@example.com\n\n      - "+tt.rule+"\n")
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Replace(members(x, "spaces/A"), "users/x@example.com\n", "", 1)
			got = strings.Replace(got, "\nusers/x@example.com", "", 1)
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestRolePrecedence(t *testing.T) {
	x, err, em := expand(t, directory(), emulator.Options{}, `spaces:
  - space: spaces/A
    members:
      - {user: ann@example.com, role: member}
      - bob@example.com
      - {group_members: eng@example.com, role: manager, nested: true}
      - {org_unit: /Engineering, role: owner}
      - {group_members: leads@example.com, role: owner}
  - space: spaces/B
    members:
      - {group_members: eng@example.com}
      - {org_unit: /Engineering/Web, role: member}
`)
	if err != nil {
		t.Fatal(err)
	}
	// ann: named with a role, it stands. bob: named without one, takes the
	// highest rule (owner, org_unit). cat: rules only, the highest: owner
	// from org_unit (line 7) before the tie at line 8.
	want := "users/ann@example.com member\nusers/bob@example.com owner <7 org_unit /Engineering>\nusers/cat@example.com owner <7 org_unit /Engineering>"
	if got := members(x, "spaces/A"); got != want {
		t.Errorf("spaces/A\n%s\nwant\n%s", got, want)
	}
	if got, want := members(x, "spaces/B"), "users/ann@example.com <11 group_members eng@example.com>\nusers/bob@example.com member <12 org_unit /Engineering/Web>"; got != want {
		t.Errorf("spaces/B\n%s\nwant\n%s", got, want)
	}
	if x.Known["cat@example.com"] != "users/3" {
		t.Errorf("known %v", x.Known)
	}
	// B's eng@ rule is not nested: a different question from A's. Five
	// distinct rules, one page each.
	st := em.Stats()
	if n := st.Count("directory.members.list") + st.Count("directory.users.list"); n != 5 {
		t.Errorf("%d Directory calls for 5 distinct rules: %v", n, st.Requests)
	}
}

func TestEmptyAndFailedRules(t *testing.T) {
	tests := []struct {
		name, rule string
		opts       emulator.Options
		mis        map[string]emulator.Misbehaviour
		want       string // "" when it expands
	}{
		{"an empty group", "{group_members: nobody@example.com}", emulator.Options{}, nil,
			"rules.yaml:4: group_members nobody@example.com: the Directory returned nobody; if that is right, mark the rule allow_empty: true"},
		{"an empty group, allowed", "{group_members: nobody@example.com, allow_empty: true}", emulator.Options{}, nil, ""},
		{"a query matching nobody", `{query: "orgDepartment='Legal'"}`, emulator.Options{}, nil, "query orgDepartment='Legal': the Directory returned nobody"},
		{"no such group", "{group_members: ghost@example.com}", emulator.Options{}, nil, "rules.yaml:4: group_members ghost@example.com: no such group in the Directory"},
		{"the scope not granted", "{group_members: eng@example.com}", emulator.Options{RefuseDirectory: true}, nil, "rules.yaml:4: group_members eng@example.com: 403"},
		{"5xx after retries", "{org_unit: /Sales}", emulator.Options{}, map[string]emulator.Misbehaviour{"directory.users.list": {Status: 500}},
			"rules.yaml:4: org_unit /Sales: gave up after 2 attempts: 500"},
		{"a query the Directory refuses", `{query: "favouriteColour='blue'"}`, emulator.Options{}, nil, "Invalid Input"},
		{"people found, none can be members", `{query: "isSuspended=true"}`, emulator.Options{}, nil,
			"query isSuspended=true: the Directory returned 1, none of whom can be a member (suspended or archived users)"},
		{"a group of groups, not nested", "{group_members: outer@example.com}", emulator.Options{}, nil,
			"the Directory returned 1, none of whom can be a member (1 groups (nested: true takes their members)"},
		// Expanded to ann alone, everyone else in the domain would be
		// unwanted: under sync, removed.
		{"a group holding everyone in the domain", "{group_members: all@example.com}", emulator.Options{}, nil,
			"rules.yaml:4: group_members all@example.com: the group holds everyone in the domain (a member of type CUSTOMER)"},
		{"the same, nested", "{group_members: all@example.com, nested: true}", emulator.Options{}, nil, "holds everyone in the domain"},
		{"the same, allowed empty", "{group_members: all@example.com, allow_empty: true}", emulator.Options{}, nil, "holds everyone in the domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			em, url := emulatortest.Start(t, directory(), tt.opts)
			for m, b := range tt.mis {
				em.SetMisbehaviour(m, b)
			}
			dir, _ := chatapi.NewDirectory(context.Background(), url, chatapi.Options{})
			path := filepath.Join(t.TempDir(), "rules.yaml")
			os.WriteFile(path, []byte("spaces:\n  - space: spaces/A\n    members:\n      - "+tt.rule+"\n"), 0o644)
			d, err := source.Load([]source.Spec{{Path: path}})
			if err != nil {
				t.Fatal(err)
			}
			e := &rules.Expander{Directory: dir, Throttle: throttle.New(throttle.Limits{MaxAttempts: 2, BaseDelay: time.Millisecond}), Concurrency: 2}
			_, err = e.Expand(context.Background(), d)
			got := ""
			if err != nil {
				got = strings.ReplaceAll(err.Error(), filepath.Dir(path)+"/", "")
			}
			if tt.want == "" && err != nil || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("err = %v\nwant %q", got, tt.want)
			}
			var re *rules.Error
			if err != nil && !errors.As(err, &re) {
				t.Errorf("not a rules.Error: %T", err)
			}
		})
	}
}

func TestTotalsCountExpandedMembers(t *testing.T) {
	x, err, _ := expand(t, directory(), emulator.Options{}, "spaces:\n  - space: spaces/A\n    members:\n      - {group_members: eng@example.com, nested: true}\n      - zed@example.com\n")
	if err != nil {
		t.Fatal(err)
	}
	for file, n := range x.Desired.Totals {
		if n != 4 {
			t.Errorf("%s: %d memberships, want 4 (3 from the group, 1 named)", file, n)
		}
	}
	if x.Desired.Count() != 4 {
		t.Errorf("count %d", x.Desired.Count())
	}
	_ = membership.RuleGroup
}

// A rule that fails is named at each place it is written.
func TestAFailedRuleIsNamedAtEachUse(t *testing.T) {
	_, err, _ := expand(t, directory(), emulator.Options{}, `spaces:
  - space: spaces/A
    members:
      - {group_members: ghost@example.com}
  - space: spaces/B
    members:
      - {group_members: GHOST@example.com}
`)
	if err == nil || !strings.Contains(err.Error(), "rules.yaml:4: group_members ghost@example.com: no such group") || !strings.Contains(err.Error(), "rules.yaml:7: group_members ghost@example.com: no such group") {
		t.Errorf("%v", err)
	}
}

// Each file's total counts its own entries: a person a names file lists
// without a role, whose role a rule file sets, still counts for the names
// file, so editing the rules never looks like the names file shrinking.
func TestTotalsPerFile(t *testing.T) {
	_, url := emulatortest.Start(t, directory(), emulator.Options{})
	dir, _ := chatapi.NewDirectory(context.Background(), url, chatapi.Options{})
	tmp := t.TempDir()
	names, ruleFile := filepath.Join(tmp, "names.yaml"), filepath.Join(tmp, "rules.yaml")
	os.WriteFile(names, []byte("spaces:\n  - space: spaces/A\n    members:\n      - ann@example.com\n      - bob@example.com\n      - zed@example.com\n"), 0o644)
	os.WriteFile(ruleFile, []byte("spaces:\n  - space: spaces/A\n    members:\n      - {group_members: eng@example.com, role: manager}\n"), 0o644)
	d, err := source.Load([]source.Spec{{Path: names}, {Path: ruleFile}})
	if err != nil {
		t.Fatal(err)
	}
	e := &rules.Expander{Directory: dir, Throttle: throttle.New(throttle.Limits{MaxAttempts: 2, BaseDelay: time.Millisecond}), Concurrency: 2}
	x, err := e.Expand(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if x.Desired.Totals[names] != 3 || x.Desired.Totals[ruleFile] != 2 {
		t.Errorf("totals %v: want names.yaml 3 (its entries), rules.yaml 2 (the people its rule names)", x.Desired.Totals)
	}
}

// A group with groups in it, expanded without nested: the groups are left
// out, and the report says so.
func TestGroupsLeftOutAreWarnedOf(t *testing.T) {
	x, err, _ := expand(t, directory(), emulator.Options{}, "spaces:\n  - space: spaces/A\n    members:\n      - {group_members: eng@example.com}\n  - space: spaces/B\n    members:\n      - {group_members: eng@example.com}\n      - {group_members: eng@example.com, nested: true}\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Warnings) != 1 || !strings.Contains(x.Warnings[0], "rules.yaml:4: group_members eng@example.com: 1 groups in it were left out (nested: false)") {
		t.Errorf("warnings %q, want one for the rule without nested", x.Warnings)
	}
}

// noIDs is a Directory that lists people without their IDs. Google
// documents an ID on every member and user, and the emulator always gives
// one: only a stand-in can answer so.
type noIDs struct{ rules.Directory }

func (noIDs) Group(context.Context, string) (string, string, error) { return "", "g@example.com", nil }
func (noIDs) GroupMembersPage(context.Context, string, bool, string) ([]chatapi.GroupMember, string, error) {
	return []chatapi.GroupMember{{Email: "p1@example.com", Type: "USER"}, {Email: "p2@example.com", Type: "USER"}}, "", nil
}
func (noIDs) UsersPage(context.Context, string, string) ([]chatapi.DirectoryUser, string, error) {
	return []chatapi.DirectoryUser{{PrimaryEmail: "p1@example.com"}, {PrimaryEmail: "p2@example.com"}}, "", nil
}

// People listed without an ID would be taken for one person (users/), the
// other dropped: the rule fails instead.
func TestPeopleListedWithoutAnIDFailTheRule(t *testing.T) {
	for _, rule := range []string{"{group_members: g@example.com}", "{org_unit: /Sales}", "{group: g@example.com}"} {
		path := filepath.Join(t.TempDir(), "rules.yaml")
		os.WriteFile(path, []byte("spaces:\n  - space: spaces/A\n    members:\n      - "+rule+"\n"), 0o644)
		d, err := source.Load([]source.Spec{{Path: path}})
		if err != nil {
			t.Fatal(err)
		}
		e := &rules.Expander{Directory: noIDs{}, Throttle: throttle.New(throttle.Limits{MaxAttempts: 2, BaseDelay: time.Millisecond}), Concurrency: 1}
		x, err := e.Expand(context.Background(), d)
		if err == nil || !strings.Contains(err.Error(), "without") {
			t.Errorf("%s: expanded to %d memberships (%v), want the rule failed", rule, x.Desired.Count(), err)
		}
	}
}

// An organisational unit whose name has an apostrophe is asked for with
// the quote escaped, as Google's query language documents (\').
func TestAnOrgUnitWithAnApostrophe(t *testing.T) {
	seed := directory()
	seed.Users = append(seed.Users, emulator.SeedUser{ID: "9", Email: "kit@example.com", OrgUnit: "/Children's Services"})
	x, err, em := expand(t, seed, emulator.Options{}, "spaces:\n  - space: spaces/A\n    members:\n      - {org_unit: \"/Children's Services\"}\n")
	if err != nil || members(x, "spaces/A") != "users/kit@example.com <4 org_unit /Children's Services>" {
		t.Errorf("%v; members %q (%v)", err, members(x, "spaces/A"), em.Stats().Requests)
	}
}

// Suspended and archived people a rule names are not members it adds, but
// the rule still names them: the expansion says who, per space, with the
// first rule naming each, so removals can keep them.
func TestRulesSaySuspendedPeopleTheyName(t *testing.T) {
	x, err, _ := expand(t, directory(), emulator.Options{}, `spaces:
  - space: spaces/A
    members:
      - {group_members: eng@example.com}
      - {org_unit: /Engineering}
  - space: spaces/B
    members:
      - {org_unit: /Engineering/Platform}
  - space: spaces/C
    members:
      - {org_unit: /Sales}
`)
	if err != nil {
		t.Fatal(err)
	}
	a, b := x.Suspended["spaces/A"], x.Suspended["spaces/B"]
	eve, fay := a["users/5"], a["users/6"]
	if len(a) != 2 || !strings.HasPrefix(eve.Rule, "group_members eng@example.com (") || eve.Archived ||
		!strings.HasPrefix(fay.Rule, "group_members eng@example.com (") || !fay.Archived {
		t.Errorf("spaces/A: %+v; want eve (suspended) and fay (archived), by the group rule", a)
	}
	if len(b) != 1 || !strings.HasPrefix(b["users/5"].Rule, "org_unit /Engineering/Platform (") || x.Suspended["spaces/C"] != nil {
		t.Errorf("spaces/B: %+v, spaces/C: %+v; want eve by the unit rule, nobody in spaces/C", b, x.Suspended["spaces/C"])
	}
	if m := members(x, "spaces/B"); strings.Contains(m, "eve") {
		t.Errorf("spaces/B wants eve, suspended: %s", m)
	}
}

// noAddresses is a Directory that lists people by ID without their
// addresses (a fault on the server's side: Google documents an email on
// every user and user member).
type noAddresses struct{ rules.Directory }

func (noAddresses) GroupMembersPage(context.Context, string, bool, string) ([]chatapi.GroupMember, string, error) {
	return []chatapi.GroupMember{{ID: "1", Type: "USER"}, {ID: "2", Email: "p2@example.com", Type: "USER"}}, "", nil
}
func (noAddresses) UsersPage(context.Context, string, string) ([]chatapi.DirectoryUser, string, error) {
	return []chatapi.DirectoryUser{{ID: "1"}, {ID: "2", PrimaryEmail: "p2@example.com"}}, "", nil
}

// A person listed by ID without an address is one the rule names: left
// out (or taken as users/, nobody's address), under sync they would be
// removed as named by no source. The rule fails instead, as for a person
// listed without an ID.
func TestPeopleListedWithoutAnAddressFailTheRule(t *testing.T) {
	for _, rule := range []string{"{group_members: g@example.com}", "{org_unit: /Sales}", "{query: \"orgDepartment='Sales'\"}"} {
		path := filepath.Join(t.TempDir(), "rules.yaml")
		os.WriteFile(path, []byte("spaces:\n  - space: spaces/A\n    members:\n      - "+rule+"\n"), 0o644)
		d, err := source.Load([]source.Spec{{Path: path}})
		if err != nil {
			t.Fatal(err)
		}
		e := &rules.Expander{Directory: noAddresses{}, Throttle: throttle.New(throttle.Limits{MaxAttempts: 2, BaseDelay: time.Millisecond}), Concurrency: 1}
		x, err := e.Expand(context.Background(), d)
		if err == nil || !strings.Contains(err.Error(), "users/1 without an address") {
			t.Errorf("%s: expanded to %q (%v), want the rule failed naming users/1", rule, members(x, "spaces/A"), err)
		}
	}
}

// A query that leaves suspended (or archived) users out names none of
// them: they are not held where they are members, and under policy sync a
// person suspended for an hour leaves the space, whatever remove_suspended
// says. The rule leaves them out of what it adds anyway: the run warns,
// naming the clause, once per rule.
func TestAQueryLeavingSuspendedPeopleOutIsWarnedOf(t *testing.T) {
	x, err, _ := expand(t, directory(), emulator.Options{}, `spaces:
  - space: spaces/A
    members:
      - {query: "orgDepartment='Engineering' isSuspended=false"}
      - {query: "orgDepartment='Sales' isArchived=False"}
  - space: spaces/B
    members:
      - {query: "orgDepartment='Engineering' isSuspended=false"}
      - {query: "orgDepartment='Engineering'"}
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Warnings) != 2 || !strings.Contains(x.Warnings[0], "rules.yaml:4: query orgDepartment='Engineering' isSuspended=false: isSuspended=false leaves") ||
		!strings.Contains(x.Warnings[1], "rules.yaml:5: query orgDepartment='Sales' isArchived=False: isArchived=False leaves") {
		t.Errorf("warnings %q, want one for each query leaving suspended or archived users out", x.Warnings)
	}
}

// The query language takes a clause's value quoted as well as bare
// (isSuspended='false', as orgDepartment='Sales' is written): such a query
// leaves suspended users out all the same, and is warned of.
func TestAQueryLeavingSuspendedPeopleOutByAQuotedValueIsWarnedOf(t *testing.T) {
	x, err, _ := expand(t, directory(), emulator.Options{}, `spaces:
  - space: spaces/A
    members:
      - {query: "orgDepartment='Engineering' isSuspended='false'"}
      - {query: "orgDepartment='Sales' isArchived=\"FALSE\""}
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Warnings) != 2 || !strings.Contains(x.Warnings[0], "isSuspended='false' leaves suspended") || !strings.Contains(x.Warnings[1], `isArchived="FALSE" leaves archived`) {
		t.Errorf("warnings %q, want one for each query leaving suspended or archived users out", x.Warnings)
	}
}

// untyped is a Directory that lists a group's members without their type
// (or of a type Google does not document), which every member carries.
type untyped struct {
	rules.Directory
	kind string
}

func (d untyped) GroupMembersPage(context.Context, string, bool, string) ([]chatapi.GroupMember, string, error) {
	return []chatapi.GroupMember{{ID: "1", Email: "p1@example.com", Type: d.kind}, {ID: "2", Email: "p2@example.com", Type: "USER"}}, "", nil
}

// A group's member listed without a type, or of one the syncer does not
// know, was left out as if a group: a person the rule names, whom policy
// sync would remove as wanted by no source. The rule fails instead, as
// for a person listed without an ID or an address.
func TestGroupMembersOfNoKnownTypeFailTheRule(t *testing.T) {
	for _, kind := range []string{"", "EXTERNAL_USER"} {
		path := filepath.Join(t.TempDir(), "rules.yaml")
		os.WriteFile(path, []byte("spaces:\n  - space: spaces/A\n    members:\n      - {group_members: g@example.com}\n"), 0o644)
		d, err := source.Load([]source.Spec{{Path: path}})
		if err != nil {
			t.Fatal(err)
		}
		e := &rules.Expander{Directory: untyped{kind: kind}, Throttle: throttle.New(throttle.Limits{MaxAttempts: 2, BaseDelay: time.Millisecond}), Concurrency: 1}
		x, err := e.Expand(context.Background(), d)
		if err == nil || !strings.Contains(err.Error(), "p1@example.com") {
			t.Errorf("type %q: expanded to %q (%v), want the rule failed naming p1@example.com", kind, members(x, "spaces/A"), err)
		}
	}
}
