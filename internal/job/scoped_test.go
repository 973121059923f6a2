package job_test

// Scenarios from the reviews of the removal checks (2026-12-06): identities out of
// date or hidden from a scoped admin role must never remove the person a source wants.

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/job"
)

// Stale cache: bob@example.org -> carl (users/99), carl still a member (no
// create). bob@ is robert's (users/2) now, robert a member. Directory
// present; users.get answers 403 (robert out of a scoped admin's reach).
func TestCacheOutOfDateOldIDStillAMemberUsersGetRefused(t *testing.T) {
	for _, hide := range []bool{false, true} {
		t.Run(fmt.Sprint("hide ", hide), func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "c.json")
			csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,bob@example.org,\n"
			seed1 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "99", Email: "carl@example.com", NonEditableAliases: []string{"bob@example.org"}}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}}}
			fillCache(t, cache, seed1, emulator.Options{HideEmails: hide}, csv, nil)
			seed2 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "99", Email: "carl@example.com"}, {ID: "2", Email: "robert@example.com", NonEditableAliases: []string{"bob@example.org"}}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "carl@example.com"}, {User: "robert@example.com"}}}}}
			f := newFixture(t, seed2, emulator.Options{HideEmails: hide}, csv)
			f.syncing(t)
			f.resolve, f.cacheFile = true, cache
			f.em.SetMisbehaviour("directory.users.get", emulator.Misbehaviour{Status: 403, Reason: "forbidden", Message: "Not Authorized to access this resource/api"})
			res, err := f.run(t, context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			logPlan(t, "run2", res)
			st := f.em.Stats()
			t.Logf("users.list=%d users.get=%d members.get=%d", st.Count("directory.users.list"), st.Count("directory.users.get"), st.Count("members.get"))
			if deletedID(res, "users/2") {
				t.Errorf("robert (users/2), bob@example.org's owner now, planned for removal; complete=%v", res.Plan.Complete())
			}
		})
	}
}

// Merged spelling with Directory present: al@ and bob@ both cached as users/99;
// bob@ now robert's; users.get refused by 403.
func TestCacheOutOfDateMergedSpellingUsersGetRefused(t *testing.T) {
	for _, hide := range []bool{false, true} {
		t.Run(fmt.Sprint("hide ", hide), func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "c.json")
			csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,al@example.com,\nspaces/R,bob@example.org,\n"
			seed1 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "99", Email: "al@example.com", NonEditableAliases: []string{"bob@example.org"}}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}}}
			fillCache(t, cache, seed1, emulator.Options{HideEmails: hide}, csv, nil)
			seed2 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "99", Email: "al@example.com"}, {ID: "2", Email: "robert@example.com", NonEditableAliases: []string{"bob@example.org"}}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com"}}}}}
			f := newFixture(t, seed2, emulator.Options{HideEmails: hide}, csv)
			f.syncing(t)
			f.resolve, f.cacheFile = true, cache
			f.em.SetMisbehaviour("directory.users.get", emulator.Misbehaviour{Status: 403, Reason: "forbidden", Message: "Not Authorized to access this resource/api"})
			res, err := f.run(t, context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			logPlan(t, "run2", res)
			if deletedID(res, "users/2") {
				t.Errorf("robert (users/2), bob@example.org's owner now, planned for removal; complete=%v", res.Plan.Complete())
			}
		})
	}
}

// Steady state, lists with emails, Directory present, warm cache. Each of 5
// sync spaces wants boss and bob@example.org (robert's alias-domain address:
// not listed, so it comes from the cache) and holds 30 partner people protect
// keeps ("*@partner.com"), and wants sus@, suspended (not added, from the
// cache on warm runs): nothing changes, run after run.
func TestSteadyStateKeptMembersCostNoLookups(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "c.json")
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "robert@example.com", NonEditableAliases: []string{"bob@example.org"}}, {ID: "3", Email: "sus@example.com", Suspended: true}}}
	var csv strings.Builder
	csv.WriteString("space,member,role\n")
	for i := range 30 {
		seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(3000 + i), Email: fmt.Sprintf("p%d@partner.com", i)})
	}
	for s := range 5 {
		name := fmt.Sprintf("spaces/S%d", s)
		sp := emulator.SeedSpace{Name: name, Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com"}}}
		for i := range 30 {
			sp.Members = append(sp.Members, emulator.SeedMember{User: fmt.Sprintf("p%d@partner.com", i)})
		}
		seed.Spaces = append(seed.Spaces, sp)
		fmt.Fprintf(&csv, "%s,boss@example.com,owner\n%s,bob@example.org,\n%s,sus@example.com,\n", name, name, name)
	}
	for run := 1; run <= 5; run++ {
		f := newFixture(t, seed, emulator.Options{}, csv.String())
		f.syncing(t)
		f.resolve, f.cacheFile = true, cache
		tw := f.tweak
		f.tweak = func(j *job.Job) { tw(j); j.Config.Protect = []string{"*@partner.com"} }
		f.logs = &strings.Builder{}
		res, err := f.run(t, context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		st := f.em.Stats()
		t.Logf("run %d: changes=%d kept=%d users.get=%d users.list=%d members.get=%d", run, len(res.Plan.Changes), len(res.Plan.Protected), st.Count("directory.users.get"), st.Count("directory.users.list"), st.Count("members.get"))
		for _, l := range strings.Split(f.logs.String(), "\n") {
			if strings.Contains(l, "identities resolved") {
				t.Log(l)
			}
		}
		if run >= 3 && st.Count("directory.users.get")+st.Count("members.get") > 1 { // 1: bob@, whose cache entry the list contradicts (before these commits too)
			t.Errorf("run %d, nothing to change: %d users.get, %d members.get", run, st.Count("directory.users.get"), st.Count("members.get"))
		}
	}
}

// Cold cache, lists with emails. The sources want bob@example.org (robert's
// alias-domain address) and a newcomer; robert is a member, outside the
// admin role's scope.
func TestScopedAdminAliasOfAMemberNotRemoved(t *testing.T) {
	for _, c := range []struct {
		hide   bool
		others int
	}{{false, 0}, {true, 0}, {false, 5000}} {
		hide := c.hide
		t.Run(fmt.Sprint("hide ", hide, " others ", c.others), func(t *testing.T) {
			seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "robert@example.com", NonEditableAliases: []string{"bob@example.org"}}, {ID: "3", Email: "newbie@example.com"}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com"}}}}}
			for i := range c.others {
				seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(10000 + i), Email: fmt.Sprintf("x%d@example.com", i)})
			}
			csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,bob@example.org,\nspaces/R,newbie@example.com,\n"
			f := newFixture(t, seed, emulator.Options{HideEmails: hide}, csv)
			f.syncing(t)
			f.resolve = true
			tw := f.tweak
			f.tweak = func(j *job.Job) {
				tw(j)
				j.Resolver.Directory = scoped{Directory: j.Resolver.Directory, hidden: []string{"2", "robert@example.com", "bob@example.org"}}
			}
			res, err := f.run(t, context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			logPlan(t, "run", res)
			st := f.em.Stats()
			t.Logf("users.get=%d users.list=%d members.get=%d", st.Count("directory.users.get"), st.Count("directory.users.list"), st.Count("members.get"))
			if deletedID(res, "users/2") {
				t.Errorf("robert (users/2), whom bob@example.org names, planned for removal; complete=%v", res.Plan.Complete())
			}
		})
	}
}

// remove_suspended, lists without emails. Run 1 (plan only) caches carol as
// suspended; by run 2 her account is active again (she is still a member,
// and the sources still want her): the live suspended listing says so.
func TestCachedSuspendedFlagOutOfDate(t *testing.T) {
	for _, hide := range []bool{true, false} {
		t.Run(fmt.Sprint("hide ", hide), func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "c.json")
			csv := "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,carol@example.com,\n"
			mk := func(susp bool) *emulator.Seed {
				return &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "7", Email: "carol@example.com", Suspended: susp}},
					Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "carol@example.com"}}}}}
			}
			fillCache(t, cache, mk(true), emulator.Options{HideEmails: hide}, csv, nil)
			f := newFixture(t, mk(false), emulator.Options{HideEmails: hide}, csv)
			f.syncing(t)
			f.resolve, f.cacheFile = true, cache
			tw := f.tweak
			f.tweak = func(j *job.Job) { tw(j); j.Config.RemoveSuspended = true }
			res, err := f.run(t, context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			logPlan(t, "run2", res)
			if deletedID(res, "users/7") {
				t.Errorf("carol (users/7), wanted and active again, planned for removal as suspended; complete=%v", res.Plan.Complete())
			}
		})
	}
}

// A new member the admin role's scope leaves out (users.get answers 403
// while others are answered), in the organisation's domain, under sync
// with a leaver: nobody is removed (they may be a member under another
// address), and the plan says the Directory refused, not that nobody has
// the address.
func TestScopedAdminNewMemberOutsideTheScope(t *testing.T) {
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "leaver@example.com"},
		{ID: "3", Email: "near@example.com"}, {ID: "4", Email: "far@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "leaver@example.com"}}}}}
	csv := "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,near@example.com,\nspaces/S,far@example.com,\n"
	f := newFixture(t, seed, emulator.Options{}, csv)
	f.syncing(t)
	f.resolve = true
	tw := f.tweak
	f.tweak = func(j *job.Job) {
		tw(j)
		j.Resolver.Directory = scoped{Directory: j.Resolver.Directory, hidden: []string{"4", "far@example.com"}}
	}
	res, err := f.run(t, context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	incomplete := strings.Join(res.Plan.Incomplete, "\n")
	if deletedID(res, "users/2") || !strings.Contains(incomplete, "far@example.com") || !strings.Contains(incomplete, "refused (403)") ||
		strings.Contains(incomplete, "no user of the organisation's Directory has this address") {
		logPlan(t, "run", res)
		t.Errorf("the leaver removed (%v), or the plan does not say the Directory refused far@:\n%s", deletedID(res, "users/2"), incomplete)
	}
}
