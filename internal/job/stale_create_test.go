package job_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
)

// An address given to someone new (its old account deleted) while the
// identity cache still names the old ID: with lists that carry no
// emails and no removals to check, the run creates by the address, and
// the space answers "already exists" (the new owner is a member). That
// answer disproves the entry: the next run looks the address up rather
// than create it again, run after run until the entry expires.
func TestAnAlreadyMemberAnswerDisprovesTheCachedEntry(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "c.json")
	csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,alice@example.com,\n"
	seed1 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "100", Email: "alice@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}}}
	fillCache(t, cache, seed1, emulator.Options{HideEmails: true}, csv, nil)
	seed2 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "200", Email: "alice@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "users/200"}}}}}
	f := newFixture(t, seed2, emulator.Options{HideEmails: true}, csv)
	f.resolve, f.cacheFile = true, cache
	for run := 2; run <= 3; run++ {
		res, err := f.run(t, context.Background(), true)
		if err != nil {
			t.Fatal(err)
		}
		logPlan(t, fmt.Sprint("run", run), res)
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
