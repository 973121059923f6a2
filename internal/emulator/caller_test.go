package emulator_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/emulator"
	m "github.com/syncer-dev/syncer/internal/membership"
)

// callerSeed: in spaces/S, o1 and o2 own it, mg1 and mg2 manage it, m1 and
// m2 are members; out is in no space; spaces/OPEN lets all members manage
// members, spaces/CLOSED only owners, spaces/APP the app created.
func callerSeed() *emulator.Seed {
	users := []emulator.SeedUser{}
	for i, e := range []string{"o1", "o2", "mg1", "mg2", "m1", "m2", "out"} {
		users = append(users, emulator.SeedUser{ID: string(rune('1' + i)), Email: e + "@example.com"})
	}
	members := []emulator.SeedMember{{User: "o1@example.com", Role: "owner"}, {User: "o2@example.com", Role: "owner"},
		{User: "mg1@example.com", Role: "manager"}, {User: "mg2@example.com", Role: "manager"},
		{User: "m1@example.com"}, {User: "m2@example.com"}}
	return &emulator.Seed{Users: users, Groups: []emulator.SeedGroup{{ID: "eng"}}, Spaces: []emulator.SeedSpace{
		{Name: "spaces/S", Members: members},
		{Name: "spaces/OPEN", Members: members, ManageMembers: "members"},
		{Name: "spaces/CLOSED", Members: members, ManageMembers: "owners"},
		{Name: "spaces/APP", Members: members, AppCreated: true},
		{Name: "spaces/G", Type: "GROUP_CHAT", Members: []emulator.SeedMember{{User: "m1@example.com"}}},
	}}
}

// Member IDs in callerSeed: o1 1, o2 2, mg1 3, mg2 4, m1 5, m2 6, out 7.
func TestCallerRoles(t *testing.T) {
	type op struct {
		name string
		do   func(ctx context.Context, c *chatapi.Client) error
	}
	create := func(space, who string) op {
		return op{"create " + who + " in " + space, func(ctx context.Context, c *chatapi.Client) error {
			_, err := c.Create(ctx, space, m.User(who))
			return err
		}}
	}
	patch := func(space, id string, role m.Role) op {
		return op{"patch " + space + "/" + id + " to " + string(role), func(ctx context.Context, c *chatapi.Client) error {
			_, err := c.PatchRole(ctx, space+"/members/"+id, role)
			return err
		}}
	}
	del := func(space, id string) op {
		return op{"delete " + space + "/" + id, func(ctx context.Context, c *chatapi.Client) error {
			return c.Delete(ctx, space+"/members/"+id)
		}}
	}
	const S = "spaces/S"
	tests := []struct {
		caller string
		admin  bool
		op     op
		allow  bool
	}{
		// An owner does everything (the last-owner rule aside).
		{"o1@example.com", false, create(S, "out@example.com"), true},
		{"o1@example.com", false, patch(S, "5", m.RoleOwner), true},
		{"o1@example.com", false, patch(S, "2", m.RoleMember), true},
		{"o1@example.com", false, del(S, "2"), true},
		{"o1@example.com", false, patch(S, "1", m.RoleManager), true}, // stepping down, another owner left
		// A manager: members and managers, never owners.
		{"mg1@example.com", false, create(S, "out@example.com"), true},
		{"mg1@example.com", false, patch(S, "5", m.RoleManager), true},
		{"mg1@example.com", false, patch(S, "4", m.RoleMember), true},
		{"mg1@example.com", false, del(S, "5"), true},
		{"mg1@example.com", false, del(S, "4"), true},
		{"mg1@example.com", false, patch(S, "5", m.RoleOwner), false},
		{"mg1@example.com", false, patch(S, "3", m.RoleOwner), false}, // not themselves either
		{"mg1@example.com", false, patch(S, "2", m.RoleMember), false},
		{"mg1@example.com", false, patch(S, "2", m.RoleManager), false},
		{"mg1@example.com", false, del(S, "2"), false},
		{"mg1@example.com", false, patch(S, "3", m.RoleMember), true}, // stepping down
		{"mg1@example.com", false, del(S, "3"), true},                 // leaving
		// A member: no role changes, no adding or removing others by default.
		{"m1@example.com", false, create(S, "out@example.com"), false},
		{"m1@example.com", false, patch(S, "6", m.RoleManager), false},
		{"m1@example.com", false, patch(S, "5", m.RoleManager), false},
		{"m1@example.com", false, del(S, "6"), false},
		{"m1@example.com", false, del(S, "5"), true}, // leaving
		// Where all members manage members: plain members, not managers.
		{"m1@example.com", false, create("spaces/OPEN", "out@example.com"), true},
		{"m1@example.com", false, del("spaces/OPEN", "6"), true},
		{"m1@example.com", false, del("spaces/OPEN", "4"), false},
		{"m1@example.com", false, del("spaces/OPEN", "2"), false},
		{"m1@example.com", false, patch("spaces/OPEN", "6", m.RoleManager), false},
		// Where only owners manage members, a manager doesn't.
		{"mg1@example.com", false, create("spaces/CLOSED", "out@example.com"), false},
		{"mg1@example.com", false, del("spaces/CLOSED", "5"), false},
		{"o1@example.com", false, create("spaces/CLOSED", "out@example.com"), true},
		// Not a member: nothing.
		{"out@example.com", false, create(S, "out@example.com"), false},
		{"out@example.com", false, del(S, "5"), false},
		// Admin access: whatever the API allows.
		{"out@example.com", true, create(S, "out@example.com"), true},
		{"m1@example.com", true, patch(S, "5", m.RoleOwner), true},
		{"mg1@example.com", true, del(S, "2"), true},
		// A group chat has no roles: its members add people.
		{"m1@example.com", false, create("spaces/G", "out@example.com"), true},
		// The app: adds and removes; roles only where it created the space.
		{"app", false, create(S, "out@example.com"), true},
		{"app", false, del(S, "5"), true},
		// Deleting a space manager's (an owner's or a manager's)
		// membership: "the Chat app must be the space creator".
		{"app", false, del(S, "2"), false},
		{"app", false, del(S, "3"), false},
		{"app", false, del("spaces/APP", "2"), true},
		{"app", false, patch(S, "5", m.RoleManager), false},
		{"app", false, patch("spaces/APP", "5", m.RoleManager), true},
		{"app", false, patch("spaces/APP", "2", m.RoleMember), true},
	}
	for _, tt := range tests {
		name := tt.caller + " " + tt.op.name
		if tt.admin {
			name += " (admin)"
		}
		t.Run(name, func(t *testing.T) {
			_, c, _ := start(t, callerSeed(), emulator.Options{Caller: tt.caller}, chatapi.Options{UseAdminAccess: tt.admin})
			err := tt.op.do(context.Background(), c)
			switch {
			case tt.allow && err != nil:
				t.Errorf("refused: %v", err)
			case !tt.allow && (!errors.Is(err, chatapi.ErrPermanent) || !strings.Contains(err.Error(), "403 PERMISSION_DENIED: The caller does not have permission")):
				t.Errorf("err = %v, want 403 PERMISSION_DENIED", err)
			}
		})
	}
}

// The last owner stays FAILED_PRECONDITION for an owner, and a refusal for
// anyone who may not change owners at all; without a caller nothing is
// judged, as before.
func TestCallerLastOwnerAndNoCaller(t *testing.T) {
	ctx := context.Background()
	s := callerSeed()
	s.Spaces[0].Members[1].Role = "member" // o1 is the last owner of S
	_, c, _ := start(t, s, emulator.Options{Caller: "o1@example.com"}, chatapi.Options{})
	if _, err := c.PatchRole(ctx, "spaces/S/members/1", m.RoleMember); err == nil || !strings.Contains(err.Error(), "FAILED_PRECONDITION") {
		t.Errorf("the last owner stepping down: %v", err)
	}
	_, c, _ = start(t, s, emulator.Options{Caller: "mg1@example.com"}, chatapi.Options{})
	if err := c.Delete(ctx, "spaces/S/members/1"); err == nil || !strings.Contains(err.Error(), "PERMISSION_DENIED") {
		t.Errorf("a manager removing the last owner: %v", err)
	}
	_, c, _ = start(t, s, emulator.Options{}, chatapi.Options{})
	if _, err := c.PatchRole(ctx, "spaces/S/members/5", m.RoleOwner); err != nil {
		t.Errorf("no caller: %v", err)
	}
	if _, err := emulator.New(s, emulator.Options{Caller: "nobody@example.com"}); err == nil {
		t.Error("an unknown caller was taken")
	}
	s.Spaces[0].ManageMembers = "everyone"
	if _, err := emulator.New(s, emulator.Options{}); err == nil {
		t.Error("manage_members everyone was taken")
	}
}

// Under app authentication (Caller "app") the emulator answers as the
// reference pages say. spaces.members.list: "Listing memberships with app
// authentication ... excludes Chat app memberships, including its own."
// spaces.members.create: "App authentication is not supported for ...
// Inviting users external to the Workspace organization that owns the
// space. Adding a Google Group to a space. Adding a Chat app to a space."
// spaces.members.delete: "App authentication is not supported for ...
// Removing a Google Group from a space. Removing a Chat app from a space."
func TestCallerAppAsTheReferenceSays(t *testing.T) {
	ctx := context.Background()
	s := callerSeed()
	s.Users = append(s.Users, emulator.SeedUser{ID: "90", Email: "guest@gmail.com", External: true})
	s.Spaces[0].Members = append(s.Spaces[0].Members, emulator.SeedMember{App: true}, emulator.SeedMember{Group: "groups/eng"})
	s.Groups = append(s.Groups, emulator.SeedGroup{ID: "ops"})
	_, c, _ := start(t, s, emulator.Options{Caller: "app"}, chatapi.Options{ShowGroups: true})
	for _, mm := range listAll(t, c, "spaces/S") {
		if mm.Bot {
			t.Errorf("app authentication listed an app membership: %+v", mm)
		}
	}
	for _, p := range []m.Principal{"users/guest@gmail.com", "groups/ops", m.App} {
		if _, err := c.Create(ctx, "spaces/S", p); !errors.Is(err, chatapi.ErrPermanent) {
			t.Errorf("app authentication creating %s: %v, want a refusal", p, err)
		}
	}
	for _, name := range []string{"spaces/S/members/group-eng", "spaces/S/members/app"} {
		if err := c.Delete(ctx, name); !errors.Is(err, chatapi.ErrPermanent) {
			t.Errorf("app authentication deleting %s: %v, want a refusal", name, err)
		}
	}
	// showInvited "Currently requires user authentication": the app sees
	// no invitation.
	s.Spaces[0].Members = append(s.Spaces[0].Members, emulator.SeedMember{User: "out@example.com", State: "INVITED"})
	_, withInvited, _ := start(t, s, emulator.Options{Caller: "app"}, chatapi.Options{ShowInvited: true})
	for _, mm := range listAll(t, withInvited, "spaces/S") {
		if mm.State == m.StateInvited {
			t.Errorf("app authentication listed an invitation: %+v", mm)
		}
	}
	// A person of the organisation is still added and removed.
	if _, err := c.Create(ctx, "spaces/S", "users/out@example.com"); err != nil {
		t.Errorf("app authentication adding a person: %v", err)
	}
}

// spaces.members.list: "Listing memberships with User authentication lists
// memberships in spaces that the authenticated user has access to": a user
// not in a space reads nothing there (404, as for a space that isn't),
// unless with admin access; the app reads where it is.
func TestCallerReadsOnlyItsSpaces(t *testing.T) {
	ctx := context.Background()
	s := callerSeed()
	s.Spaces = append(s.Spaces, emulator.SeedSpace{Name: "spaces/AWAY", Members: []emulator.SeedMember{{User: "o2@example.com", Role: "owner"}, {User: "m2@example.com"}}})
	_, c, _ := start(t, s, emulator.Options{Caller: "m1@example.com"}, chatapi.Options{})
	if _, _, err := c.ListPage(ctx, "spaces/S", ""); err != nil {
		t.Errorf("listing a space of the caller's: %v", err)
	}
	if _, _, err := c.ListPage(ctx, "spaces/AWAY", ""); !errors.Is(err, chatapi.ErrNotFound) {
		t.Errorf("listing a space the caller is not in: %v, want 404", err)
	}
	if _, err := c.Get(ctx, "spaces/AWAY", "m2@example.com"); !errors.Is(err, chatapi.ErrNotFound) {
		t.Errorf("getting a membership of a space the caller is not in: %v, want 404", err)
	}
	if _, err := c.Space(ctx, "spaces/AWAY"); !errors.Is(err, chatapi.ErrNotFound) {
		t.Errorf("getting a space the caller is not in: %v, want 404", err)
	}
	_, c, _ = start(t, s, emulator.Options{Caller: "m1@example.com"}, chatapi.Options{UseAdminAccess: true})
	if _, _, err := c.ListPage(ctx, "spaces/AWAY", ""); err != nil {
		t.Errorf("admin access listing any space: %v", err)
	}
}
