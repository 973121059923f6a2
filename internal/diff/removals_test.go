package diff

import (
	"reflect"
	"testing"

	m "github.com/syncer-dev/syncer/internal/membership"
)

func TestComputeRemovals(t *testing.T) {
	alice, bob := m.User("alice@example.com"), m.User("bob@example.com")
	space := func(ms ...m.Membership) map[string]*m.SpaceState {
		return map[string]*m.SpaceState{"spaces/A": {Name: "spaces/A", Type: m.TypeSpace, Memberships: ms}}
	}
	owner := joined("1", "owner@example.com", m.RoleOwner)
	invited := joined("3", "carol@example.com", m.RoleMember)
	invited.State = m.StateInvited
	group := m.Membership{Name: "spaces/A/members/group-eng", Principal: m.Group("eng"), Role: m.RoleUnspecified, State: m.StateJoined}
	app := m.Membership{Name: "spaces/A/members/app", Principal: m.App, Bot: true, Role: m.RoleMember, State: m.StateJoined}
	otherBot := m.Membership{Name: "spaces/A/members/9", Principal: "users/9", Bot: true, Role: m.RoleMember, State: m.StateJoined}
	tests := []struct {
		name      string
		policy    Policy
		override  string
		desired   []m.DesiredMember
		current   map[string]*m.SpaceState
		suspended map[m.Principal]bool
		removeSus bool
		want      []string
	}{
		{"upsert never removes", Upsert, "", []m.DesiredMember{want(alice, "")},
			space(owner, joined("2", "alice@example.com", m.RoleMember), invited, group), nil, false, nil},
		{"sync removes the joined, the invited and groups no source wants, never apps", Sync, "", []m.DesiredMember{want(m.User("owner@example.com"), "")},
			space(owner, joined("2", "alice@example.com", m.RoleMember), invited, group, app, otherBot), nil, false,
			[]string{"delete users/2 not in any source", "delete users/3 not in any source", "delete groups/eng not in any source"}},
		{"a space's own policy overrides the config's", Upsert, "sync", []m.DesiredMember{want(m.User("owner@example.com"), "")},
			space(owner, joined("2", "alice@example.com", m.RoleMember)), nil, false, []string{"delete users/2 not in any source"}},
		{"and the other way round", Sync, "create-only", []m.DesiredMember{want(bob, "")},
			space(owner), nil, false, []string{"create users/bob@example.com"}},
		{"matched by ID through an alias is kept", Sync, "", []m.DesiredMember{want(m.User("ali@example.com"), ""), want(m.User("owner@example.com"), "")},
			space(owner, joined("2", "", m.RoleMember)), nil, false, nil},
		{"a listed but suspended member leaves with remove_suspended", Sync, "", []m.DesiredMember{want(alice, m.RoleManager), want(m.User("owner@example.com"), "")},
			space(owner, joined("2", "alice@example.com", m.RoleMember)), map[m.Principal]bool{"users/2": true}, true, []string{"delete users/2 suspended in the Directory"}},
		{"without remove_suspended they stay", Sync, "", []m.DesiredMember{want(alice, ""), want(m.User("owner@example.com"), "")},
			space(owner, joined("2", "alice@example.com", m.RoleMember)), map[m.Principal]bool{"users/2": true}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := desired("spaces/A", tt.desired...)
			d.Spaces[0].Policy = tt.override
			p := NewPlanner(tt.policy)
			p.RemoveSuspended = tt.removeSus
			ids := Identities{Aliases: map[string]m.Principal{"ali@example.com": "users/2"}, Suspended: tt.suspended}
			sp := p.Space(d.Spaces[0], tt.current["spaces/A"], ids)
			var got []string
			for _, c := range sp.Changes {
				s := line(c)
				if c.Action == Delete {
					s += " " + c.Reason
				}
				got = append(got, s)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
			if sp.Summary.Owners != 1 {
				t.Errorf("owners %d", sp.Summary.Owners)
			}
		})
	}
}
