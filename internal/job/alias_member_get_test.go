package job_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/job"
)

// Without the Directory, a space answers who an address is (a membership
// read); where its answer shows the member under another address, the
// one asked is an alias, and the cache keeps it as one: a list showing
// the member by the primary address does not contradict it, and later
// runs read nothing (a read per alias-spelled address, every run, before).
func TestAnAliasTheSpaceNamedIsTakenFromTheCache(t *testing.T) {
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"},
		{ID: "2", Email: "robert@example.com", NonEditableAliases: []string{"bob@example.org"}}}}
	seed.Spaces = []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{
		{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com"}}}}
	csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,bob@example.org,\n"
	cache := filepath.Join(t.TempDir(), "identity-cache.json")
	for run := 1; run <= 3; run++ {
		f := newFixture(t, seed, emulator.Options{}, csv)
		f.syncing(t)
		f.resolve, f.cacheFile = true, cache
		tw := f.tweak
		f.tweak = func(j *job.Job) { tw(j); j.Resolver.Directory = nil }
		res, err := f.run(t, context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Plan.Empty() || !res.Plan.Complete() {
			logPlan(t, fmt.Sprint("run ", run), res)
			t.Fatalf("run %d: %d changes on a converged space, incomplete %q", run, len(res.Plan.Changes), res.Plan.Incomplete)
		}
		if n := f.em.Stats().Count("members.get"); run > 1 && n != 0 {
			t.Errorf("run %d: %d members.get; want none: the cache knows bob@ is robert's alias", run, n)
		}
	}
}
