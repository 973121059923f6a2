package job_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

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
					// The first run reads the Directory; the second may still
					// ask for what the first run's early pass showed but did
					// not keep (it was not needed); the third asks nothing.
					if run == 3 && calls != 0 {
						t.Errorf("run 3: %d users.get, %d users.list, %d members.get; want none: the cache knows bob@ and cj@",
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
			for run := 1; run <= 2; run++ { // two runs: the second keeps what the first's early pass showed
				fillCache(t, cache, seed1, emulator.Options{HideEmails: hide}, csv, nil)
			}
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
