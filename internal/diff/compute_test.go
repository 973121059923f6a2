package diff

import (
	"reflect"
	"strings"
	"testing"

	m "github.com/syncer-dev/syncer/internal/membership"
)

func desired(space string, members ...m.DesiredMember) m.Desired {
	return m.Desired{Spaces: []m.DesiredSpace{{Name: space, Members: members}}}
}

func want(p m.Principal, r m.Role) m.DesiredMember {
	return m.DesiredMember{Principal: p, Role: r, Source: m.At(m.Location{File: "s.yaml", Line: 1})}
}

func joined(id string, email string, r m.Role) m.Membership {
	return m.Membership{Name: "spaces/A/members/" + id, Principal: m.User(id), Email: email, Role: r, State: m.StateJoined}
}

func current(ms ...m.Membership) m.Current {
	return m.Current{Spaces: map[string]*m.SpaceState{"spaces/A": {Name: "spaces/A", Type: m.TypeSpace, Memberships: ms}}}
}

// line renders a change compactly for comparison.
func line(c Change) string {
	s := string(c.Action) + " " + string(c.Principal)
	if c.Action == UpdateRole {
		s += " " + c.FromRole.UIName() + "->" + c.ToRole.UIName()
		if c.Membership != "" {
			s += " @" + c.Membership
		}
	}
	return s
}

func TestCompute(t *testing.T) {
	alice, bob := m.User("alice@example.com"), m.User("bob@example.com")
	tests := []struct {
		name       string
		desired    m.Desired
		current    m.Current
		policy     Policy
		want       []string
		unchanged  int
		invited    int
		warning    string
		incomplete string
		memberIs   string
	}{
		{
			name:    "missing member is created",
			desired: desired("spaces/A", want(alice, "")),
			current: current(),
			want:    []string{"create users/alice@example.com"},
		},
		{
			name:    "new manager is created then patched, owner too",
			desired: desired("spaces/A", want(alice, m.RoleManager), want(bob, m.RoleOwner)),
			current: current(),
			want: []string{"create users/alice@example.com", "create users/bob@example.com",
				"update_role users/alice@example.com member->manager", "update_role users/bob@example.com member->owner"},
		},
		{
			name:      "member matched by list email, role differs",
			desired:   desired("spaces/A", want(alice, m.RoleManager)),
			current:   current(joined("111", "alice@example.com", m.RoleMember)),
			want:      []string{"update_role users/111 member->manager @spaces/A/members/111"},
			unchanged: 0,
		},
		{
			name:      "unmanaged role leaves an existing owner alone",
			desired:   desired("spaces/A", want(alice, "")),
			current:   current(joined("111", "alice@example.com", m.RoleOwner)),
			unchanged: 1,
		},
		{
			name:      "explicit member role demotes a manager",
			desired:   desired("spaces/A", want(m.User("111"), m.RoleMember)),
			current:   current(joined("111", "", m.RoleManager)),
			want:      []string{"update_role users/111 manager->member @spaces/A/members/111"},
			unchanged: 0,
		},
		{
			name:      "matched by Directory ID",
			desired:   desired("spaces/A", want(m.User("111"), m.RoleOwner)),
			current:   current(joined("111", "", m.RoleOwner)),
			unchanged: 1,
		},
		{
			name:    "matched through aliases when the list carries no email",
			desired: desired("spaces/A", want(alice, m.RoleManager)),
			current: func() m.Current {
				c := current(joined("111", "", m.RoleMember))
				c.Aliases = map[string]m.Principal{"alice@example.com": "users/111"}
				return c
			}(),
			want: []string{"update_role users/111 member->manager @spaces/A/members/111"},
		},
		{
			name:    "alias known but not a member: created by the address given, matched by ID",
			desired: desired("spaces/A", want(alice, "")),
			current: func() m.Current {
				c := current()
				c.Aliases = map[string]m.Principal{"alice@example.com": "users/111"}
				return c
			}(),
			want: []string{"create users/alice@example.com"},
		},
		{
			name:    "invited member is present: counted, not re-created, role still set",
			desired: desired("spaces/A", want(alice, m.RoleManager), want(bob, "")),
			current: func() m.Current {
				a := joined("111", "alice@example.com", m.RoleMember)
				a.State = m.StateInvited
				b := joined("222", "bob@example.com", m.RoleMember)
				b.State = m.StateInvited
				return current(a, b)
			}(),
			want:    []string{"update_role users/111 member->manager @spaces/A/members/111"},
			invited: 2,
		},
		{
			name:     "an ID in the source shows as the listed email",
			desired:  desired("spaces/A", want(m.User("111"), m.RoleOwner)),
			current:  current(joined("111", "dan@example.com", m.RoleMember)),
			want:     []string{"update_role users/111 member->owner @spaces/A/members/111"},
			memberIs: "dan@example.com",
		},
		{
			name:      "groups compare by ID and are never patched",
			desired:   desired("spaces/A", want(m.Group("g1"), ""), want(m.Group("g2"), "")),
			current:   current(m.Membership{Name: "spaces/A/members/g1", Principal: m.Group("g1"), Role: m.RoleUnspecified, State: m.StateJoined}),
			want:      []string{"create groups/g2"},
			unchanged: 1,
		},
		{
			name:    "bots are never matched or touched",
			desired: desired("spaces/A", want(alice, "")),
			current: current(m.Membership{Name: "spaces/A/members/app", Principal: "users/app", Email: "alice@example.com", Bot: true, State: m.StateJoined}),
			want:    []string{"create users/alice@example.com"},
		},
		{
			name:    "the app itself: present when listed as users/app, created when not",
			desired: m.Desired{Spaces: []m.DesiredSpace{{Name: "spaces/A", Members: []m.DesiredMember{want(m.App, "")}}, {Name: "spaces/B", Members: []m.DesiredMember{want(m.App, "")}}}},
			current: m.Current{Spaces: map[string]*m.SpaceState{
				"spaces/A": {Name: "spaces/A", Memberships: []m.Membership{{Name: "spaces/A/members/app", Principal: m.App, Bot: true, State: m.StateJoined}}},
				"spaces/B": {Name: "spaces/B", Memberships: []m.Membership{{Name: "spaces/B/members/x", Principal: "users/x", Bot: true, State: m.StateJoined}}},
			}},
			want:      []string{"create users/app"},
			unchanged: 1,
		},
		{
			name:      "create-only drops role changes, including after create",
			desired:   desired("spaces/A", want(alice, m.RoleManager), want(bob, m.RoleOwner)),
			current:   current(joined("111", "alice@example.com", m.RoleMember)),
			policy:    CreateOnly,
			want:      []string{"create users/bob@example.com"},
			unchanged: 1,
		},
		{
			name:       "two spellings of one member with different roles: no role change, the plan is incomplete",
			desired:    desired("spaces/A", want(m.User("111"), m.RoleOwner), want(alice, m.RoleManager)),
			current:    current(joined("111", "alice@example.com", m.RoleMember)),
			unchanged:  1,
			incomplete: "are the same member of spaces/A with different roles; the role is left as it is",
		},
		{
			// A role Google adds (or a proxy's word): what it can do is
			// unknown, so a change from it may take powers away.
			name:       "a member in a role the syncer does not know keeps it, and the plan says so",
			desired:    desired("spaces/A", want(alice, m.RoleMember)),
			current:    current(joined("111", "alice@example.com", "ROLE_SPACE_ADMIN")),
			unchanged:  1,
			incomplete: "alice@example.com holds a role the syncer does not know (ROLE_SPACE_ADMIN)",
		},
		{
			name:    "an alias without a role takes the other spelling's role",
			desired: desired("spaces/A", want(alice, m.RoleManager), want(m.User("ali@example.com"), "")),
			current: func() m.Current {
				c := current(joined("111", "alice@example.com", m.RoleMember))
				c.Aliases = map[string]m.Principal{"ali@example.com": "users/111"}
				return c
			}(),
			want: []string{"update_role users/111 member->manager @spaces/A/members/111"},
		},
		{
			name:    "a new member named twice is created once, by address, with the role",
			desired: desired("spaces/A", want(m.User("222"), ""), want(bob, m.RoleManager)),
			current: func() m.Current {
				c := current()
				c.Aliases = map[string]m.Principal{"bob@example.com": "users/222"}
				return c
			}(),
			want: []string{"create users/bob@example.com", "update_role users/bob@example.com member->manager"},
		},
		{
			name:    "suspended users are not added",
			desired: desired("spaces/A", want(alice, ""), want(m.User("222"), "")),
			current: func() m.Current {
				c := current()
				c.Aliases = map[string]m.Principal{"alice@example.com": "users/111"}
				c.Suspended = map[m.Principal]bool{"users/111": true, "users/222": true}
				return c
			}(),
			warning: "alice@example.com is suspended in the Directory; not added",
		},
		{
			name:    "a space not read gets no plan",
			desired: desired("spaces/B", want(alice, "")),
			current: current(),
		},
		{
			name:    "owner in a group chat is planned with a warning",
			desired: desired("spaces/A", want(alice, m.RoleOwner)),
			current: m.Current{Spaces: map[string]*m.SpaceState{"spaces/A": {Name: "spaces/A", Type: m.TypeGroupChat}}},
			want:    []string{"create users/alice@example.com", "update_role users/alice@example.com member->owner"},
			warning: "is a GROUP_CHAT",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			policy := tt.policy
			if policy == "" {
				policy = Upsert
			}
			plan := Compute(tt.desired, tt.current, policy)
			var got []string
			for _, c := range plan.Changes {
				got = append(got, line(c))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("changes\n got %q\nwant %q", got, tt.want)
			}
			if plan.Summary.Unchanged != tt.unchanged || plan.Summary.InvitedPending != tt.invited {
				t.Errorf("unchanged, invited = %d, %d; want %d, %d", plan.Summary.Unchanged, plan.Summary.InvitedPending, tt.unchanged, tt.invited)
			}
			if got := strings.Join(plan.Incomplete, "\n"); (tt.incomplete == "") != (got == "") || !strings.Contains(got, tt.incomplete) {
				t.Errorf("incomplete %q, want %q", plan.Incomplete, tt.incomplete)
			}
			joinedWarnings := strings.Join(plan.Warnings, "\n")
			if (tt.warning == "") != (joinedWarnings == "") || !strings.Contains(joinedWarnings, tt.warning) {
				t.Errorf("warnings %q, want one containing %q", plan.Warnings, tt.warning)
			}
			for _, sp := range plan.Spaces {
				if sp.Listed != (tt.current.Spaces[sp.Name] != nil) {
					t.Errorf("space %s: Listed = %v", sp.Name, sp.Listed)
				}
			}
			if tt.memberIs != "" && (len(plan.Changes) == 0 || plan.Changes[0].Member != tt.memberIs) {
				t.Errorf("changes %+v: want member shown as %q", plan.Changes, tt.memberIs)
			}
			for _, c := range plan.Changes {
				if c.Action == Delete {
					t.Errorf("policy %s produced a delete: %+v", policy, c)
				}
			}
		})
	}
}

func TestComputeIsDeterministic(t *testing.T) {
	var members []m.DesiredMember
	for _, e := range []string{"z@example.com", "a@example.com", "m@example.com"} {
		members = append(members, want(m.User(e), m.RoleOwner))
	}
	d := m.Desired{Spaces: []m.DesiredSpace{{Name: "spaces/A", Members: members}, {Name: "spaces/B", Members: members}}}
	c := m.Current{Spaces: map[string]*m.SpaceState{"spaces/A": {Name: "spaces/A"}, "spaces/B": {Name: "spaces/B"}}}
	first := Compute(d, c, Upsert)
	for i := 0; i < 20; i++ {
		if again := Compute(d, c, Upsert); !reflect.DeepEqual(first, again) {
			t.Fatal("two computations of the same inputs differ")
		}
	}
	var order []string
	for _, ch := range first.Changes {
		order = append(order, ch.Space+" "+string(ch.Action)+" "+ch.Member)
	}
	wantOrder := []string{
		"spaces/A create a@example.com", "spaces/A create m@example.com", "spaces/A create z@example.com",
		"spaces/A update_role a@example.com", "spaces/A update_role m@example.com", "spaces/A update_role z@example.com",
		"spaces/B create a@example.com", "spaces/B create m@example.com", "spaces/B create z@example.com",
		"spaces/B update_role a@example.com", "spaces/B update_role m@example.com", "spaces/B update_role z@example.com",
	}
	if !reflect.DeepEqual(order, wantOrder) {
		t.Errorf("order\n got %q\nwant %q", order, wantOrder)
	}
	if first.Summary.Create != 6 || first.Summary.UpdateRole != 6 {
		t.Errorf("summary %+v", first.Summary)
	}
}
