package job_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/job"
	"github.com/syncer-dev/syncer/internal/state"
)

// As TestAnAlreadyMemberAnswerDisprovesTheCachedEntry, in an upsert space
// of a config that removes elsewhere (policy sync): every write then waits
// for the whole plan, and the "already exists" answer comes after the
// plans are made. It still disproves the cached entry: the next run does
// not send the same create again, run after run until the entry expires.
func TestAnAlreadyMemberAnswerDisprovesTheCachedEntryWhenWritesWait(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "c.json")
	csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,alice@example.com,\n"
	seed1 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "100", Email: "alice@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}}}
	fillCache(t, cache, seed1, emulator.Options{HideEmails: true}, csv, nil)
	seed2 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "200", Email: "alice@example.com"}},
		Spaces: []emulator.SeedSpace{
			{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "users/200"}}},
			{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}}}
	f := newFixture(t, seed2, emulator.Options{HideEmails: true}, csv)
	dir := filepath.Dir(f.cfg.Path)
	yaml := "spaces:\n" +
		"  - space: spaces/R\n    policy: upsert\n    members:\n      - {user: boss@example.com, role: owner}\n      - {user: alice@example.com}\n" +
		"  - space: spaces/S\n    members:\n      - {user: boss@example.com, role: owner}\n"
	if err := os.WriteFile(filepath.Join(dir, "members.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(f.cfg.Path, []byte(fmt.Sprintf("sources: [{path: members.yaml}]\napi: {endpoint: %q}\npolicy: sync\n"+
		"safety: {max_removals: unlimited, max_source_shrink_percent: 100, max_removal_percent: 100}\n"+
		"state: {location: st}\nlimits: {concurrency: 8, max_attempts: 3}\n", f.url)))
	if err != nil {
		t.Fatal(err)
	}
	f.cfg = cfg
	f.resolve, f.cacheFile = true, cache
	f.tweak = func(j *job.Job) { j.State = &state.Dir{Path: filepath.Join(dir, "st")}; j.AllowRemovals = 1000 }
	for run := 2; run <= 3; run++ {
		res, err := f.run(t, context.Background(), true)
		if err != nil {
			t.Fatal(err)
		}
		logPlan(t, fmt.Sprint("run", run), res)
		if run == 2 && len(res.Plan.Changes) == 0 {
			t.Fatal("run 2 plans nothing: the test shows nothing")
		}
		for _, c := range res.Plan.Changes {
			if run == 2 && c.Status != diff.AlreadyDone {
				t.Fatalf("run 2: %s %s is %s; want already done", c.Action, c.Member, c.Status)
			}
		}
		if run == 3 && len(res.Plan.Changes) > 0 {
			t.Errorf("run 3 plans %d changes; want none: the run before was told alice@example.com is a member", len(res.Plan.Changes))
		}
	}
}
