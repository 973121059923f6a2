package job_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
)

// Sources often spell people by an alias, or in an alias domain
// (bob@example.org for robert@example.com), while a space's list shows
// them by their primary address. The Directory named bob@ as robert's
// alias once; later runs take that from the identity cache rather than
// ask the Directory again every run, whether or not lists carry emails,
// under upsert and sync. (A list showing robert@ used to count as the
// cache's entry being contradicted: every run asked again, a Directory
// call per alias-spelled address.)
func TestAliasSpelledSourcesAreTakenFromTheCache(t *testing.T) {
	for _, sync := range []bool{false, true} {
		for _, hide := range []bool{false, true} {
			t.Run(fmt.Sprintf("sync %v, lists without emails %v", sync, hide), func(t *testing.T) {
				seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"},
					{ID: "2", Email: "robert@example.com", NonEditableAliases: []string{"bob@example.org"}},
					{ID: "3", Email: "carol@example.com", Aliases: []string{"cj@example.com"}},
					{ID: "4", Email: "dave@example.com"}}}
				seed.Spaces = []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{
					{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com"}, {User: "carol@example.com"}}}}
				csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,bob@example.org,\nspaces/R,cj@example.com,\n"
				cache := filepath.Join(t.TempDir(), "identity-cache.json")
				for run := 1; run <= 3; run++ {
					f := newFixture(t, seed, emulator.Options{HideEmails: hide}, csv)
					if sync {
						f.syncing(t)
					}
					f.resolve, f.cacheFile = true, cache
					res, err := f.run(t, context.Background(), false)
					if err != nil {
						t.Fatal(err)
					}
					if !res.Plan.Empty() || !res.Plan.Complete() {
						logPlan(t, fmt.Sprint("run ", run), res)
						t.Fatalf("run %d: %d changes on a converged space, incomplete %q", run, len(res.Plan.Changes), res.Plan.Incomplete)
					}
					st := f.em.Stats()
					calls := st.Count("directory.users.get") + st.Count("directory.users.list") + st.Count("members.get")
					// The first run reads the Directory (an early pass's page
					// shows bob@ and cj@, though the lists need no pass): the
					// next runs ask nothing.
					if run > 1 && calls != 0 {
						t.Errorf("run %d: %d users.get, %d users.list, %d members.get; want none: the cache knows bob@ and cj@", run,
							st.Count("directory.users.get"), st.Count("directory.users.list"), st.Count("members.get"))
					}
				}
			})
		}
	}
}

// The other side of trusting an alias's entry while a list shows its user
// by the primary address: bob@example.org, robert's alias when the cache
// learnt it, is bobby's now, and both are members of a sync space that
// wants bob@. The cache still names robert; bobby, whom no source seems to
// want, must not be removed for it (his lookup by ID shows bob@ among his
// addresses). Robert may stay until the entry expires: the cache's
// staleness, bounded by its TTL, never a removal.
func TestAliasMovedWhileItsOldOwnerIsListed(t *testing.T) {
	for _, hide := range []bool{false, true} {
		t.Run(fmt.Sprint("lists without emails ", hide), func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "c.json")
			csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,bob@example.org,\n"
			seed1 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "robert@example.com", NonEditableAliases: []string{"bob@example.org"}}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com"}}}}}
			fillCache(t, cache, seed1, emulator.Options{HideEmails: hide}, csv, nil)
			seed2 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "robert@example.com"},
				{ID: "9", Email: "bobby@example.com", NonEditableAliases: []string{"bob@example.org"}}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com"}, {User: "bobby@example.com"}}}}}
			f := newFixture(t, seed2, emulator.Options{HideEmails: hide}, csv)
			f.syncing(t)
			f.resolve, f.cacheFile = true, cache
			res, err := f.run(t, context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			logPlan(t, "run 3", res)
			if deletedID(res, "9") {
				t.Error("bobby, whose alias bob@example.org the source wants, planned for removal")
			}
		})
	}
}

// A role change on the cache's word alone: bob@example.org was robert's
// alias when the cache learnt it and is bobby's now; robert is still a
// member, and the source makes bob@ a manager. Robert must not be made
// manager for it (under upsert nothing would ever take it back): the space
// is asked who bob@ is, the entry is forgotten, and the space planned
// again, so bobby is promoted (or added) instead. Lists with and without
// emails, bobby a member or not, upsert and sync.
func TestCachedRoleChangeIsConfirmedFirst(t *testing.T) {
	for _, hide := range []bool{false, true} {
		for _, listed := range []bool{true, false} {
			for _, sync := range []bool{false, true} {
				t.Run(fmt.Sprintf("lists without emails %v, bobby a member %v, sync %v", hide, listed, sync), func(t *testing.T) {
					cache := filepath.Join(t.TempDir(), "c.json")
					csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,bob@example.org,manager\n"
					seed1 := aliasSeed("2", robertManages, "spaces/R")
					fillCache(t, cache, seed1, emulator.Options{HideEmails: hide}, csv, nil)
					members := []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com"}}
					if listed {
						members = append(members, emulator.SeedMember{User: "bobby@example.com"})
					}
					seed2 := aliasSeed("9", members, "spaces/R")
					f := newFixture(t, seed2, emulator.Options{HideEmails: hide}, csv)
					if sync {
						f.syncing(t)
					}
					f.resolve, f.cacheFile = true, cache
					res, err := f.run(t, context.Background(), false)
					if err != nil {
						t.Fatal(err)
					}
					promoted := false
					for _, c := range res.Plan.Changes {
						if c.Action == diff.UpdateRole && c.ID == "users/2" {
							t.Errorf("robert, whom no source wants, given a role for bob@example.org: %+v", c)
						}
						promoted = promoted || c.Member == "bob@example.org" && (c.Action == diff.UpdateRole && c.ID == "users/9" || c.Action == diff.Create)
					}
					if !promoted || !res.Plan.Complete() {
						logPlan(t, "run 3", res)
						t.Errorf("bobby (bob@example.org now) not made manager, or not added, this run; incomplete %q", res.Plan.Incomplete)
					}
				})
			}
		}
	}
}

// The same, when the space can't be asked (members.get answers 503 after
// every retry): the role change waits, and the plan says so.
func TestCachedRoleChangeHeldWhenItCantBeConfirmed(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "c.json")
	csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,bob@example.org,manager\n"
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "robert@example.com", NonEditableAliases: []string{"bob@example.org"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com", Role: "manager"}}}}}
	fillCache(t, cache, seed, emulator.Options{}, csv, nil)
	seed.Spaces[0].Members[1].Role = "" // robert (bob@) is a plain member now: the source makes him manager again
	f := newFixture(t, seed, emulator.Options{}, csv)
	f.resolve, f.cacheFile = true, cache
	f.em.SetMisbehaviour("members.get", emulator.Misbehaviour{Status: 503, Message: "backend error"})
	res, err := f.run(t, context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Plan.Changes {
		if c.Action == diff.UpdateRole {
			t.Errorf("a role change the space could not confirm was planned: %+v", c)
		}
	}
	if len(res.Plan.Incomplete) != 1 || !strings.Contains(res.Plan.Incomplete[0], "a role change is held (bob@example.org to manager)") {
		t.Errorf("incomplete %q; want it to say bob@'s role change is held", res.Plan.Incomplete)
	}
	f.em.SetMisbehaviour("members.get", emulator.Misbehaviour{})
	res, err = f.run(t, context.Background(), false)
	if err != nil || len(res.Plan.Changes) != 1 || res.Plan.Changes[0].Action != diff.UpdateRole || res.Plan.Changes[0].ID != "users/2" {
		logPlan(t, "confirmed", res)
		t.Errorf("once the space answers, robert (bob@ still) is made manager: %v", err)
	}
}

// The world where an alias moves: boss (users/1), robert (users/2) and
// bobby (users/9); holder's user has bob@example.org as an alias (robert's
// before, bobby's after). Each space holds members.
func aliasSeed(holder string, members []emulator.SeedMember, spaces ...string) *emulator.Seed {
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "robert@example.com"}, {ID: "9", Email: "bobby@example.com"}}}
	for i := range seed.Users {
		if seed.Users[i].ID == holder {
			seed.Users[i].NonEditableAliases = []string{"bob@example.org"}
		}
	}
	for _, name := range spaces {
		seed.Spaces = append(seed.Spaces, emulator.SeedSpace{Name: name, Members: slices.Clone(members)})
	}
	return seed
}

// robertManages: boss owns the space, robert manages it.
var robertManages = []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com", Role: "manager"}}
