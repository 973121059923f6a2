package main

import (
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
)

// The user a run acts as reads only the spaces they are in (Google:
// "Listing memberships with User authentication lists memberships in
// spaces that the authenticated user has access to"). A source naming a
// space they are not in fails that space, with the reason, and nothing
// there is written; the other spaces converge.
func TestASpaceTheActingUserIsNotIn(t *testing.T) {
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "me@example.com"}, {ID: "2", Email: "o2@example.com"}, {ID: "3", Email: "m2@example.com"}, {ID: "4", Email: "new@example.com"}},
		Spaces: []emulator.SeedSpace{
			{Name: "spaces/S", Members: []emulator.SeedMember{{User: "me@example.com", Role: "owner"}}},
			{Name: "spaces/AWAY", Members: []emulator.SeedMember{{User: "o2@example.com", Role: "owner"}, {User: "m2@example.com"}}},
		},
	}
	em, cfg := syncWorld(t, seed, emulator.Options{Caller: "me@example.com"},
		"space,member,role\nspaces/S,me@example.com,owner\nspaces/S,new@example.com,\nspaces/AWAY,o2@example.com,owner\nspaces/AWAY,new@example.com,\n",
		"auth: {mode: none, subject: me@example.com}\n")
	code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "5")
	st := em.Stats()
	if st.Creates["spaces/S users/4"] != 1 {
		t.Errorf("spaces/S did not converge: creates %v\n%s", st.Creates, logText(errOut))
	}
	if st.Creates["spaces/AWAY users/4"] != 0 || st.Count("members.delete") != 0 || st.Count("members.patch") != 0 {
		t.Errorf("writes in the space the caller is not in: %v", st.Requests)
	}
	if code == exitOK || !strings.Contains(errOut, "spaces/AWAY") {
		t.Errorf("exit %d %v; the unread space is not reported\n%s", code, r.Summary, logText(errOut))
	}
}
