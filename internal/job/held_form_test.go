package job

import (
	"reflect"
	"testing"

	"github.com/syncer-dev/syncer/internal/membership"
)

// A space held in its compact form comes back exactly as read.
func TestHeldSpaceComesBackAsRead(t *testing.T) {
	st := &membership.SpaceState{Name: "spaces/S", Type: membership.TypeSpace, DisplayName: "Team", Memberships: []membership.Membership{
		{Name: "spaces/S/members/1", Principal: "users/1", Role: membership.RoleOwner, State: membership.StateJoined},
		{Name: "spaces/S/members/2", Principal: "users/2", Role: membership.RoleMember, State: membership.StateInvited},
		{Name: "spaces/S/members/3", Principal: "users/3", Email: "c@example.com", Role: membership.RoleManager, State: membership.StateJoined},
		{Name: "spaces/S/members/g1", Principal: "groups/g1", Role: "MEMBERSHIP_ROLE_UNSPECIFIED", State: membership.StateJoined},
		{Name: "spaces/S/members/app", Principal: membership.App, Role: membership.RoleMember, State: membership.StateJoined, Bot: true},
		{Name: "spaces/S/members/other-name", Principal: "users/4", Role: membership.RoleMember, State: membership.StateJoined},
		{Name: "spaces/S/members/5", Principal: "users/5", Role: membership.RoleMember, State: "NOT_A_MEMBER"},
	}}
	h := hold(st)
	if got := h.state(); !reflect.DeepEqual(got, st) {
		t.Errorf("back\n%+v\nwant\n%+v", got, st)
	}
	if !h.missingEmails {
		t.Error("people listed without an email, and the held form does not say so")
	}
	if len(h.extra) != 3 { // the group's role, the unusual name, the unknown state
		t.Errorf("%d memberships kept whole, want 3: %v", len(h.extra), h.extra)
	}
}

// A space whose list shows every email is planned at once: kept as read.
func TestHeldSpaceWithEveryEmailIsKeptAsRead(t *testing.T) {
	st := &membership.SpaceState{Name: "spaces/S", Memberships: []membership.Membership{
		{Name: "spaces/S/members/1", Principal: "users/1", Email: "a@example.com", Role: membership.RoleOwner, State: membership.StateJoined}}}
	if h := hold(st); h.state() != st || h.missingEmails || h.count != 1 {
		t.Errorf("held %+v", h)
	}
}
