package job_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/job"
)

// An identity cache entry out of date about an alias. Run 1 fills the cache (bob@ is carl's), 2 (bob@ now robert's) plans and applies, 3 converges.
func TestCacheOutOfDateConverges(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "c.json")
	csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,bob@example.org,\n"
	seed1 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "99", Email: "carl@example.com", NonEditableAliases: []string{"bob@example.org"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "carl@example.com"}}}}}
	fillCache(t, cache, seed1, emulator.Options{}, csv, nil)
	seed2 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "99", Email: "carl@example.com"}, {ID: "2", Email: "robert@example.com", NonEditableAliases: []string{"bob@example.org"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com"}, {User: "dave@example.com"}}}}}
	seed2.Users = append(seed2.Users, emulator.SeedUser{ID: "8", Email: "dave@example.com"})
	f := newFixture(t, seed2, emulator.Options{}, csv)
	f.syncing(t)
	f.resolve, f.cacheFile = true, cache
	tw := f.tweak
	for run := 2; run <= 4; run++ {
		f.tweak = func(j *job.Job) { tw(j); j.AllowRemovals = 10 }
		res, err := f.run(t, context.Background(), true)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		logPlan(t, fmt.Sprint("run", run), res)
		var changes []string
		for _, c := range res.Plan.Changes {
			changes = append(changes, string(c.Action)+" "+c.Member)
		}
		switch {
		case run == 2 && (countDeletes(res) != 1 || !slices.Contains(changes, "delete dave@example.com")):
			t.Errorf("run 2: %q; want dave removed, robert (bob@example.org now) kept", changes)
		case run > 2 && len(changes) > 0:
			t.Errorf("run %d: %q; want nothing: the run before forgot the stale entry and did the rest", run, changes)
		}
	}
}

// The stale spelling merges with another spelling of the cached ID: the create goes by the other.
func TestCacheOutOfDateMergedSpelling(t *testing.T) {
	for _, hide := range []bool{false, true} {
		t.Run(fmt.Sprint("hide ", hide), func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "c.json")
			csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,carl@example.com,\nspaces/R,bob@example.org,\n"
			seed1 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "99", Email: "carl@example.com", NonEditableAliases: []string{"bob@example.org"}}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}}}
			fillCache(t, cache, seed1, emulator.Options{HideEmails: hide}, csv, nil)
			if b, err := os.ReadFile(cache); err == nil {
				t.Logf("cache: %s", b)
			}
			seed2 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "99", Email: "carl@example.com"}, {ID: "2", Email: "robert@example.com", NonEditableAliases: []string{"bob@example.org"}}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com"}}}}}
			f := newFixture(t, seed2, emulator.Options{HideEmails: hide}, csv)
			f.syncing(t)
			f.resolve, f.cacheFile = true, cache
			res, err := f.run(t, context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			logPlan(t, "run2", res)
			if countDeletes(res) > 0 {
				t.Errorf("robert, whom bob@example.org names now, planned for removal")
			}
		})
	}
}

// The stale ID is still a member (no create), lists without emails, no Directory.
func TestCacheOutOfDateOldIDStillAMember(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "c.json")
	csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,bob@example.org,\n"
	seed1 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "99", Email: "carl@example.com", NonEditableAliases: []string{"bob@example.org"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "carl@example.com"}}}}}
	fillCache(t, cache, seed1, emulator.Options{HideEmails: true}, csv, func(j *job.Job) { j.Resolver.Directory = nil })
	seed2 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "99", Email: "carl@example.com"}, {ID: "2", Email: "robert@example.com", NonEditableAliases: []string{"bob@example.org"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "carl@example.com"}, {User: "robert@example.com"}}}}}
	f := newFixture(t, seed2, emulator.Options{HideEmails: true}, csv)
	f.syncing(t)
	f.resolve, f.cacheFile = true, cache
	tw := f.tweak
	f.tweak = func(j *job.Job) { tw(j); j.Resolver.Directory = nil }
	res, err := f.run(t, context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	logPlan(t, "run2", res)
	for _, c := range res.Plan.Changes {
		if c.Action == diff.Delete && c.ID == "users/2" {
			t.Errorf("robert (users/2), whom bob@example.org names now, planned for removal; carl (users/99) kept")
		}
	}
}

func TestCacheOutOfDateMergedSpellingNoDirectory(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "c.json")
	csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,al@example.com,\nspaces/R,bob@example.org,\n"
	seed1 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "99", Email: "al@example.com", NonEditableAliases: []string{"bob@example.org"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}}}
	fillCache(t, cache, seed1, emulator.Options{HideEmails: true}, csv, nil)
	b, _ := os.ReadFile(cache)
	t.Logf("cache: %s", b)
	seed2 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "99", Email: "al@example.com"}, {ID: "2", Email: "robert@example.com", NonEditableAliases: []string{"bob@example.org"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com"}}}}}
	f := newFixture(t, seed2, emulator.Options{HideEmails: true}, csv)
	f.syncing(t)
	f.resolve, f.cacheFile = true, cache
	tw := f.tweak
	f.tweak = func(j *job.Job) { tw(j); j.Resolver.Directory = nil }
	res, err := f.run(t, context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	logPlan(t, "run2", res)
	t.Logf("members.get=%d", f.em.Stats().Count("members.get"))
	if countDeletes(res) > 0 {
		t.Errorf("robert, whom bob@example.org names now, planned for removal")
	}
}

// Warm cache, lists without emails: no lookup, no page; the only Directory call is the outsider's by-ID get, answered 403.
func TestRefusedLookupWithAWarmCache(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "c.json")
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "500", Email: "ext@gmail.com", External: true}}}
	sp := emulator.SeedSpace{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "ext@gmail.com"}}}
	var csv strings.Builder
	csv.WriteString("space,member,role\nspaces/S,boss@example.com,owner\n")
	for i := range 20 {
		seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(1000 + i), Email: fmt.Sprintf("u%d@example.com", i)})
		sp.Members = append(sp.Members, emulator.SeedMember{User: fmt.Sprintf("u%d@example.com", i)})
		fmt.Fprintf(&csv, "spaces/S,u%d@example.com,\n", i)
	}
	seed.Spaces = []emulator.SeedSpace{sp}
	fillCache(t, cache, seed, emulator.Options{HideEmails: true}, csv.String(), nil)
	f := newFixture(t, seed, emulator.Options{HideEmails: true}, csv.String())
	f.syncing(t)
	f.resolve, f.cacheFile = true, cache
	f.em.SetMisbehaviour("directory.users.get", emulator.Misbehaviour{Status: 403, Reason: "forbidden", Message: "Not Authorized to access this resource/api"})
	res, err := f.run(t, context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	st := f.em.Stats()
	t.Logf("users.list=%d users.get=%d", st.Count("directory.users.list"), st.Count("directory.users.get"))
	logPlan(t, "run2", res)
	if !res.Plan.Complete() {
		t.Errorf("plan incomplete: %q", res.Plan.Incomplete)
	}
}

// bob@example.org was carl's when the cache learnt it, and is robert's
// now; robert is a member of 44 sync spaces that want bob@. A Directory
// pass's pages record only addresses nothing named yet, so the page showing
// bob@ as robert's went by while the cache named it. A space finds the
// entry out of date and forgets it; later spaces look bob@ up again, and
// the pass must not answer "surely absent" (robert was removed in 25-35
// of 44 spaces, the plan complete). Lists with and without emails; a
// Directory of one page and of three.
func TestForgottenAddressIsLookedUpNotTakenAsAbsent(t *testing.T) {
	for _, w := range []struct {
		name          string
		hide          bool
		users, wanted int // the Directory's others; wanted of them in each of 4 spaces
	}{
		{"one page, lists with emails", false, 40, 10},
		{"three pages, lists without emails", true, 1300, 150},
	} {
		t.Run(w.name, func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "c.json")
			seed1 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "99", Email: "carl@example.com", NonEditableAliases: []string{"bob@example.org"}}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/X", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}}}
			fillCache(t, cache, seed1, emulator.Options{HideEmails: w.hide}, "space,member,role\nspaces/X,boss@example.com,owner\nspaces/X,bob@example.org,\n", nil)
			seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "99", Email: "carl@example.com"}, {ID: "2", Email: "zz-robert@example.com", NonEditableAliases: []string{"bob@example.org"}}}}
			for i := range w.users {
				seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(1000 + i), Email: fmt.Sprintf("u%d@example.com", i)})
			}
			var csv strings.Builder
			csv.WriteString("space,member,role\n")
			for s := range 44 {
				name := fmt.Sprintf("spaces/S%02d", s)
				seed.Spaces = append(seed.Spaces, emulator.SeedSpace{Name: name, Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "zz-robert@example.com"}}})
				fmt.Fprintf(&csv, "%s,boss@example.com,owner\n%s,bob@example.org,\n", name, name)
				for i := range w.wanted * min(1, max(0, 4-s)) { // the first 4 spaces want others too
					fmt.Fprintf(&csv, "%s,u%d@example.com,\n", name, s*w.wanted+i)
				}
			}
			f := newFixture(t, seed, emulator.Options{LatencyMin: 2 * time.Millisecond, LatencyMax: 5 * time.Millisecond}, csv.String())
			f.syncing(t)
			f.resolve, f.cacheFile = true, cache
			res, err := f.run(t, context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			if n := countDeletes(res); n > 0 {
				logPlan(t, "run2", res)
				t.Errorf("robert (bob@example.org now) planned for removal in %d spaces", n)
			}
		})
	}
}

// No Directory, lists without emails, warm cache. Every space holds a member
// protect keeps (not in the sources): a Delete candidate each run, so every
// space asks the space about every cache-matched address, every run.
func TestKeptMembersCostNoCacheChecks(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "c.json")
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "77", Email: "admin@example.com"}}}
	var csv strings.Builder
	csv.WriteString("space,member,role\n")
	for i := range 100 {
		seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(1000 + i), Email: fmt.Sprintf("u%d@example.com", i)})
	}
	for s := range 10 {
		name := fmt.Sprintf("spaces/S%02d", s)
		sp := emulator.SeedSpace{Name: name, Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "admin@example.com"}}}
		fmt.Fprintf(&csv, "%s,boss@example.com,owner\n", name)
		for i := range 100 {
			sp.Members = append(sp.Members, emulator.SeedMember{User: fmt.Sprintf("u%d@example.com", i)})
			fmt.Fprintf(&csv, "%s,u%d@example.com,\n", name, i)
		}
		seed.Spaces = append(seed.Spaces, sp)
	}
	for run := 1; run <= 3; run++ {
		f := newFixture(t, seed, emulator.Options{HideEmails: true}, csv.String())
		f.syncing(t)
		f.resolve, f.cacheFile = true, cache
		tw := f.tweak
		f.tweak = func(j *job.Job) {
			tw(j)
			j.Resolver.Directory = nil
			j.Config.Protect = []string{"users/77"}
		}
		res, err := f.run(t, context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		gets := f.em.Stats().Count("members.get")
		t.Logf("run %d: members.get=%d deletes=%d kept=%d incomplete=%q", run, gets, countDeletes(res), len(res.Plan.Protected), res.Plan.Incomplete)
		if run > 1 && gets != 0 {
			t.Errorf("run %d, every identity from the cache and nobody to remove but the protected: %d members.get, want 0", run, gets)
		}
	}
}

// Stale cache (bob@ -> carl's old ID), robert (bob@ now) a member listed with
// his email; the Directory lists users but answers 403 to users.get (e.g. an
// admin role scoped to OUs robert is not in).
func TestCacheOutOfDateAndUsersGetRefused(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "c.json")
	csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,bob@example.org,\n"
	seed1 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "99", Email: "carl@example.com", NonEditableAliases: []string{"bob@example.org"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}}}
	fillCache(t, cache, seed1, emulator.Options{}, csv, nil)
	seed2 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "99", Email: "carl@example.com"}, {ID: "2", Email: "robert@example.com", NonEditableAliases: []string{"bob@example.org"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com"}}}}}
	f := newFixture(t, seed2, emulator.Options{}, csv)
	f.syncing(t)
	f.resolve, f.cacheFile = true, cache
	f.em.SetMisbehaviour("directory.users.get", emulator.Misbehaviour{Status: 403, Reason: "forbidden", Message: "Not Authorized to access this resource/api"})
	res, err := f.run(t, context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	st := f.em.Stats()
	t.Logf("users.list=%d users.get=%d members.get=%d", st.Count("directory.users.list"), st.Count("directory.users.get"), st.Count("members.get"))
	logPlan(t, "run2", res)
	if countDeletes(res) > 0 {
		t.Errorf("robert (bob@example.org now) planned for removal")
	}
}
