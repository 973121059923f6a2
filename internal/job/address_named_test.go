package job_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
	"github.com/syncer-dev/syncer/internal/job"
	"github.com/syncer-dev/syncer/internal/membership"

	"github.com/syncer-dev/syncer/internal/emulator"
)

// A list that names a member users/{email} rather than users/{id} (the
// reference promises IDs in answers; a server, or Google one day, may not
// keep to it), in another case than the source's and without
// member.email: the address is that person's all the same (addresses are
// not case-sensitive), and policy sync must not remove the member the
// source names by it.
func TestAMemberListedByAddressInAnotherCaseIsTheSourcesMember(t *testing.T) {
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}, {ID: "3", Email: "bob@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
			{User: "boss@example.com", Role: "owner"}, {User: "ann@example.com"}, {User: "bob@example.com"}}}},
	}
	f := newFixture(t, seed, emulator.Options{HideEmails: true}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,bob@example.com,\n")
	f.syncing(t)
	f.resolve = true
	f.em.SetMisbehaviour("members.list", emulator.Misbehaviour{Body: `{"memberships":[` +
		`{"name":"spaces/S/members/1","state":"JOINED","role":"ROLE_MANAGER","member":{"name":"users/1","type":"HUMAN"}},` +
		`{"name":"spaces/S/members/2","state":"JOINED","role":"ROLE_MEMBER","member":{"name":"users/2","type":"HUMAN"}},` +
		`{"name":"spaces/S/members/3","state":"JOINED","role":"ROLE_MEMBER","member":{"name":"users/Bob@Example.com","type":"HUMAN"}}]}`})
	res, err := f.run(t, context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	logPlan(t, "plan", res)
	for _, c := range res.Plan.Changes {
		if c.Member != "ann@example.com" {
			t.Errorf("%s %s is planned, though the source names bob@example.com and the list shows them by that address: %+v", c.Action, c.Member, c)
		}
	}
	if countDeletes(res) != 1 {
		t.Errorf("%d removals planned, want ann's alone", countDeletes(res))
	}
}

// A list that names members by address (users/bob@example.com) while the
// source names one by ID (users/3): nothing in the list ties the two, and
// the person the source wants was planned both a create (answered
// "already exists") and a removal, which took them out of the space. The
// Directory ties them (the address's ID); without it, a member listed by
// address is not removed while the sources name someone by an ID the list
// does not show: it may be them (here anyone may).
func TestAMemberListedByAddressIsKeptWhileTheSourcesNameAnIDTheListLacks(t *testing.T) {
	for _, directory := range []bool{true, false} {
		t.Run(fmt.Sprintf("directory=%t", directory), func(t *testing.T) {
			seed := &emulator.Seed{
				Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}, {ID: "3", Email: "bob@example.com"}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
					{User: "boss@example.com", Role: "owner"}, {User: "ann@example.com"}, {User: "bob@example.com"}}}},
			}
			f := newFixture(t, seed, emulator.Options{HideEmails: true, NameMembersByAddress: true}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,users/3,\n")
			f.syncing(t)
			f.resolve = directory
			res, err := f.run(t, context.Background(), true)
			if err != nil {
				t.Fatal(err)
			}
			logPlan(t, "plan", res)
			if _, err := emulatortest.Client(t, f.url).Get(context.Background(), "spaces/S", "3"); err != nil {
				t.Errorf("bob, whom the source names as users/3, is no longer in the space: %v", err)
			}
			deletes, creates := f.em.Stats().Count("members.delete"), f.em.Stats().Count("members.create")
			switch {
			case directory && (deletes != 1 || creates != 0):
				t.Errorf("%d removals and %d creates sent; want ann removed alone (the Directory names bob@ users/3)", deletes, creates)
			case !directory && deletes != 0:
				t.Errorf("%d removals sent, want none: every member is listed by address, and any may be users/3", deletes)
			case !directory && !slices.ContainsFunc(res.Plan.Protected, func(k diff.Kept) bool { return k.Member == "bob@example.com" && strings.Contains(k.Why, "users/3") }):
				t.Errorf("the report does not say bob@example.com was kept for users/3: %+v", res.Plan.Protected)
			}
		})
	}
}

// A list that shows the calling app as users/app without member.type (an
// optional field): the app all the same, which the syncer never removes
// (it would lose the space). It was read as a person no source names, and
// policy sync removed it.
func TestTheAppListedWithoutATypeIsNotRemoved(t *testing.T) {
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
			{User: "boss@example.com", Role: "owner"}, {User: "ann@example.com"}, {App: true}}}},
	}
	f := newFixture(t, seed, emulator.Options{}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,ann@example.com,\n")
	f.syncing(t)
	f.em.SetMisbehaviour("members.list", emulator.Misbehaviour{Body: `{"memberships":[` +
		`{"name":"spaces/S/members/1","state":"JOINED","role":"ROLE_MANAGER","member":{"name":"users/1","email":"boss@example.com","type":"HUMAN"}},` +
		`{"name":"spaces/S/members/2","state":"JOINED","role":"ROLE_MEMBER","member":{"name":"users/2","email":"ann@example.com","type":"HUMAN"}},` +
		`{"name":"spaces/S/members/app","state":"JOINED","role":"ROLE_MEMBER","member":{"name":"users/app"}}]}`})
	res, err := f.run(t, context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	logPlan(t, "plan", res)
	if n := f.em.Stats().Count("members.delete"); n != 0 || countDeletes(res) != 0 {
		t.Errorf("%d removals planned, %d sent; want none (the app is never removed)", countDeletes(res), n)
	}
}

// A list that names members by their primary address while the source
// names one by an alias (robert@ for bob@): the Directory ties the two
// through the ID. Without it, policy sync created robert@ (answered
// "already exists") and removed bob@, the same person, run after run (the
// next run added them back).
func TestAMemberListedByAddressIsTheSourcesAliasOfThem(t *testing.T) {
	for _, hide := range []bool{false, true} {
		seed := &emulator.Seed{
			Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}, {ID: "3", Email: "bob@example.com", Aliases: []string{"robert@example.com"}}},
			Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
				{User: "boss@example.com", Role: "owner"}, {User: "ann@example.com"}, {User: "bob@example.com"}}}},
		}
		f := newFixture(t, seed, emulator.Options{HideEmails: hide, NameMembersByAddress: true}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,robert@example.com,manager\nspaces/S,users/2,\n")
		f.syncing(t)
		f.resolve = true
		for run := 1; run <= 2; run++ {
			res, err := f.run(t, context.Background(), true)
			if err != nil {
				t.Fatal(err)
			}
			logPlan(t, fmt.Sprintf("hide=%t run %d", hide, run), res)
			for _, c := range res.Plan.Changes {
				if c.Action != diff.UpdateRole || run > 1 {
					t.Errorf("hide=%t run %d: %s %s planned; want only robert@ (bob@) made manager, once", hide, run, c.Action, c.Member)
				}
			}
		}
		if n := f.em.Stats().Count("members.delete") + f.em.Stats().Count("members.create"); n != 0 {
			t.Errorf("hide=%t: %d creates and removals sent; want none", hide, n)
		}
	}
}

// A list that shows memberships naming no member (a display name only, a
// group without its name): who they are is unknown, so nothing is done to
// them, and the report says the plan could not see them, rather than
// nothing at all.
func TestMembershipsNamingNoMemberMakeThePlanIncomplete(t *testing.T) {
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
			{User: "boss@example.com", Role: "owner"}, {User: "ann@example.com"}}}},
	}
	f := newFixture(t, seed, emulator.Options{}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,ann@example.com,\n")
	f.syncing(t)
	f.em.SetMisbehaviour("members.list", emulator.Misbehaviour{Body: `{"memberships":[` +
		`{"name":"spaces/S/members/1","state":"JOINED","role":"ROLE_MANAGER","member":{"name":"users/1","email":"boss@example.com","type":"HUMAN"}},` +
		`{"name":"spaces/S/members/2","state":"JOINED","role":"ROLE_MEMBER","member":{"name":"users/2","email":"ann@example.com","type":"HUMAN"}},` +
		`{"name":"spaces/S/members/7","state":"JOINED","role":"ROLE_MEMBER","member":{"displayName":"Somebody","type":"HUMAN"}},` +
		`{"name":"spaces/S/members/8","state":"JOINED","role":"MEMBERSHIP_ROLE_UNSPECIFIED","groupMember":{}}]}`})
	res, err := f.run(t, context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	logPlan(t, "plan", res)
	if len(res.Plan.Changes) != 0 || f.em.Stats().Writes != 0 {
		t.Errorf("%d changes planned, %d writes; want none", len(res.Plan.Changes), f.em.Stats().Writes)
	}
	if !slices.ContainsFunc(res.Plan.Incomplete, func(s string) bool { return strings.Contains(s, "spaces/S") && strings.Contains(s, "2 memberships") }) {
		t.Errorf("the plan's incomplete lines %q do not say spaces/S listed 2 memberships naming no member", res.Plan.Incomplete)
	}
}

// A list that names members by address: the rails know the people they
// spare by ID (protect's IDs, the acting user's, resolved from an alias
// too), and a removal named only the address. Protect by ID or by an
// alias, and the acting user by an alias, kept nobody, and policy sync
// removed them.
func TestTheRailsSpareMembersListedByAddress(t *testing.T) {
	for name, tweak := range map[string]func(j *job.Job){
		"protect by ID":      func(j *job.Job) { j.Config.Protect = []string{"users/2"} },
		"protect by alias":   func(j *job.Job) { j.Config.Protect = []string{"annie@example.com"} },
		"acting as an alias": func(j *job.Job) { j.Acting = "annie@example.com" },
	} {
		t.Run(name, func(t *testing.T) {
			seed := &emulator.Seed{
				Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com", Aliases: []string{"annie@example.com"}}, {ID: "3", Email: "bob@example.com"}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
					{User: "boss@example.com", Role: "owner"}, {User: "ann@example.com"}, {User: "bob@example.com"}}}},
			}
			f := newFixture(t, seed, emulator.Options{HideEmails: true, NameMembersByAddress: true}, "space,member,role\nspaces/S,boss@example.com,owner\n")
			f.syncing(t)
			f.resolve = true
			sync := f.tweak
			f.tweak = func(j *job.Job) { sync(j); tweak(j) }
			res, err := f.run(t, context.Background(), true)
			if err != nil {
				t.Fatal(err)
			}
			logPlan(t, "plan", res)
			if _, err := emulatortest.Client(t, f.url).Get(context.Background(), "spaces/S", "2"); err != nil {
				t.Errorf("ann, whom the rails spare, is no longer in the space: %v", err)
			}
			if n := f.em.Stats().Count("members.delete"); n != 1 {
				t.Errorf("%d removals sent; want bob's alone", n)
			}
		})
	}
}

// The hold for members listed by address while the sources name an ID
// the list lacks is for those the Directory can't tie to an ID: one it
// names someone else is no candidate for that ID, and goes as any other
// member no source wants.
func TestAMemberListedByAddressTheDirectoryNamesIsNoCandidateForAnotherID(t *testing.T) {
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}, {ID: "4", Email: "carol@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
			{User: "boss@example.com", Role: "owner"}, {User: "ann@example.com"}}}},
	}
	f := newFixture(t, seed, emulator.Options{HideEmails: true, NameMembersByAddress: true}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,users/4,\n")
	f.syncing(t)
	f.resolve = true
	res, err := f.run(t, context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	logPlan(t, "plan", res)
	if !deletedMember(res, "ann@example.com") || len(res.Plan.Protected) != 0 {
		t.Errorf("ann (users/2, the Directory says) is not removed, or someone is kept: %+v, kept %+v", res.Plan.Changes, res.Plan.Protected)
	}
}

func deletedMember(res job.Result, member string) bool {
	return slices.ContainsFunc(res.Plan.Changes, func(c diff.Change) bool { return c.Action == diff.Delete && c.Member == member })
}

// A role change the identity cache matched is confirmed by a membership
// read; one answered by address (users/ann@example.com) is named by the
// ID the Directory gives it. Taken as it came, the cache learned an
// address for an ID; refused, the change was held run after run, and
// every run was incomplete.
func TestACachedRoleChangeConfirmedByAddressIsMade(t *testing.T) {
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com", Aliases: []string{"annie@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
			{User: "boss@example.com", Role: "owner"}, {User: "ann@example.com"}}}},
	}
	em, url := emulatortest.Start(t, seed, emulator.Options{HideEmails: true, NameMembersByAddress: true})
	cache := filepath.Join(t.TempDir(), "identity-cache.json")
	for run := 1; run <= 3; run++ {
		f := newFixture(t, seed, emulator.Options{}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,annie@example.com,manager\n")
		f.em, f.url = em, url
		f.cfg.API.Endpoint = url
		f.resolve, f.cacheFile = true, cache
		res, err := f.run(t, context.Background(), run > 1)
		if err != nil {
			t.Fatal(err)
		}
		logPlan(t, fmt.Sprint("run ", run), res)
		if !res.Plan.Complete() {
			t.Errorf("run %d: incomplete %q", run, res.Plan.Incomplete)
		}
		if run == 3 && !res.Plan.Empty() {
			t.Errorf("run 3: %d changes; want annie@ (ann) made manager by run 2", len(res.Plan.Changes))
		}
	}
	if got, err := emulatortest.Client(t, url).Get(context.Background(), "spaces/S", "2"); err != nil || got.Role != membership.RoleManager {
		t.Errorf("ann is %+v %v; want a manager", got, err)
	}
}
