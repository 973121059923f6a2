package job_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/job"
)

// The app named in the sources (app, users/app): created where it is
// missing, once. Answers may name the app as users/app or, canonical, by
// its own numeric ID (the reference: users/app "can be used as an alias";
// answers give canonical names): both are the app.
func TestTheAppAsAMember(t *testing.T) {
	for _, appID := range []string{"", "990000000000000000001"} {
		t.Run("app ID "+appID, func(t *testing.T) {
			seed := world(1, 2)
			seed.Spaces[1].Members = append(seed.Spaces[1].Members, emulator.SeedMember{App: true})
			f := newFixture(t, seed, emulator.Options{AppID: appID}, "space,member,role\nspaces/S0,app,\nspaces/S1,users/app,\n")
			res, err := f.run(t, context.Background(), true)
			if err != nil || res.Failed() {
				t.Fatalf("%v %+v", err, res.Plan.Changes)
			}
			if len(res.Plan.Changes) != 1 || res.Plan.Changes[0].Space != "spaces/S0" || res.Plan.Changes[0].Status != diff.Applied {
				t.Errorf("changes %+v; want the app created in S0 only", res.Plan.Changes)
			}
			if st := f.em.Snapshot()["spaces/S0"]; st[len(st)-1].Member != "users/app" {
				t.Errorf("S0 holds %+v", st)
			}
			checkConverged(t, f)
			// Under sync, the app is never removed, named or not.
			f.syncing(t)
			csv := "space,member,role\nspaces/S0,boss@example.com,owner\nspaces/S1,boss@example.com,owner\nspaces/S1,users/app,\n"
			if err := os.WriteFile(filepath.Join(filepath.Dir(f.cfg.Path), "members.csv"), []byte(csv), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err = f.run(t, context.Background(), true)
			if err != nil || res.Failed() || len(res.Plan.Changes) != 0 {
				t.Errorf("under sync: %v, changes %+v", err, res.Plan.Changes)
			}
		})
	}
}

func TestAdminAccess(t *testing.T) {
	seed := identitySeed()
	seed.Spaces = append(seed.Spaces, emulator.SeedSpace{Name: "spaces/T", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}})
	csv := "space,member,role\nspaces/S,bob@example.com,manager\nspaces/T,stranger@partner.test,manager\n"
	f := newFixture(t, seed, emulator.Options{}, csv)
	f.admin, f.resolve = true, true
	res, err := f.run(t, context.Background(), true)
	if err != nil || res.Failed() {
		t.Fatalf("%v %+v", err, res.Plan.Changes)
	}
	var got []string
	for _, c := range res.Plan.Changes {
		got = append(got, c.Space+" "+string(c.Action)+" "+c.Member)
	}
	// T: the outsider is refused in the plan, with a warning.
	if strings.Join(got, "; ") != "spaces/S create bob@example.com; spaces/S update_role bob@example.com" {
		t.Errorf("changes %q", got)
	}
	w := strings.Join(res.Plan.Warnings, "\n")
	if want := "stranger@partner.test is not in the organisation's Directory"; !strings.Contains(w, want) {
		t.Errorf("warnings lack %q:\n%s", want, w)
	}
}

func TestAdminAccessRefusesTheAppBeforeAnyCall(t *testing.T) {
	// Admin access can't add apps, and Google documents that it can't even
	// read the app's membership: such a source is invalid input.
	seed := identitySeed()
	seed.Spaces[0].Members = append(seed.Spaces[0].Members, emulator.SeedMember{App: true})
	f := newFixture(t, seed, emulator.Options{}, "space,member,role\nspaces/S,bob@example.com,\nspaces/S,app,\n")
	f.admin = true
	_, err := f.run(t, context.Background(), true)
	var ie *job.InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "members.csv:3:10: app in spaces/S: admin access") {
		t.Errorf("err = %v; want an input error naming the line", err)
	}
	if n := f.em.Stats().Total(); n != 0 {
		t.Errorf("%d requests reached the API", n)
	}
}

func TestAdminAccessWhenTheDirectoryRefuses(t *testing.T) {
	// The Directory never answered, so nobody is known to be an outsider:
	// colleagues are added, and the API has the last word on outsiders.
	f := newFixture(t, identitySeed(), emulator.Options{RefuseDirectory: true}, "space,member,role\nspaces/S,bob@example.com,\n")
	f.admin, f.resolve = true, true
	res, err := f.run(t, context.Background(), true)
	if err != nil || res.Failed() {
		t.Fatalf("%v %+v", err, res.Plan.Changes)
	}
	if len(res.Plan.Changes) != 1 || res.Plan.Changes[0].Status != diff.Applied {
		t.Errorf("changes %+v, warnings %q; want bob added", res.Plan.Changes, res.Plan.Warnings)
	}
	if n := f.em.Stats().Requests["directory.users.get 403"]; n != 1 {
		t.Errorf("%d refused Directory lookups, want 1 (lookups stop at the first refusal)", n)
	}
}

// The app listed by its own ID and asked for as app is one membership:
// counted once in the space's size, which max_removal_percent measures
// removals against.
func TestTheAppListedByItsIDIsCountedOnce(t *testing.T) {
	for _, appID := range []string{"", "990000000000000000001"} {
		t.Run("app ID "+appID, func(t *testing.T) {
			seed := world(3, 1)
			for i := 0; i < 3; i++ {
				seed.Spaces[0].Members = append(seed.Spaces[0].Members, emulator.SeedMember{User: fmt.Sprintf("u%d@example.com", i)})
			}
			seed.Spaces[0].Members = append(seed.Spaces[0].Members, emulator.SeedMember{App: true})
			f := newFixture(t, seed, emulator.Options{AppID: appID}, "space,member,role\nspaces/S0,app,\nspaces/S0,boss@example.com,owner\nspaces/S0,u0@example.com,\nspaces/S0,u1@example.com,\nspaces/S0,u2@example.com,\n")
			res, err := f.run(t, context.Background(), false)
			if err != nil || res.Failed() {
				t.Fatalf("%v %+v", err, res.Plan)
			}
			if len(res.Plan.Spaces) != 1 || res.Plan.Spaces[0].Current != 5 || len(res.Plan.Changes) != 0 {
				t.Errorf("spaces %+v, changes %+v; want S0 at its 5 members (boss, u0-u2, the app), nothing to do", res.Plan.Spaces, res.Plan.Changes)
			}
		})
	}
}

// The same when the get of members/app answers under the alias's name
// (spaces/S0/members/app) while the list names the app by its ID: the
// user the get names is the listed one. (The get's answer is canned.)
func TestTheAppGotUnderItsAliasIsCountedOnce(t *testing.T) {
	seed := world(1, 1)
	seed.Spaces[0].Members = append(seed.Spaces[0].Members, emulator.SeedMember{User: "u0@example.com"}, emulator.SeedMember{App: true})
	f := newFixture(t, seed, emulator.Options{AppID: "990001"}, "space,member,role\nspaces/S0,app,\nspaces/S0,boss@example.com,owner\nspaces/S0,u0@example.com,\n")
	f.em.SetMisbehaviour("members.get", emulator.Misbehaviour{
		Body: `{"name":"spaces/S0/members/app","state":"JOINED","role":"ROLE_MEMBER","member":{"name":"users/990001","type":"BOT"}}`})
	res, err := f.run(t, context.Background(), false)
	if err != nil || res.Failed() {
		t.Fatalf("%v %+v", err, res.Plan)
	}
	if len(res.Plan.Spaces) != 1 || res.Plan.Spaces[0].Current != 3 || len(res.Plan.Changes) != 0 {
		t.Errorf("spaces %+v, changes %+v; want S0 at its 3 members (boss, u0, the app), nothing to do", res.Plan.Spaces, res.Plan.Changes)
	}
}
