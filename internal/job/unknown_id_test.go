package job_test

import (
	"context"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
)

// A Directory ID the sources name that no user has (a typo of bob's 3 as
// 30) may mean any member: as with an address no user has, nobody in that
// space is removed, and the plan says why.
func TestUnknownWantedIDHoldsRemovals(t *testing.T) {
	seed := identitySeed()
	seed.Spaces[0].Members = append(seed.Spaces[0].Members, emulator.SeedMember{User: "bob@example.com"}) // meant by 30
	f := newFixture(t, seed, emulator.Options{HideEmails: true},
		"space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,alice@example.com,\nspaces/S,ext@partner.test,\nspaces/S,carol@example.com,\nspaces/S,30,\n")
	f.resolve = true
	f.syncing(t)
	res, err := f.run(t, context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	logPlan(t, "plan", res)
	if n := countDeletes(res); n != 0 {
		t.Fatalf("%d removals planned; want none while users/30 is no one the Directory knows", n)
	}
	if len(res.Plan.Incomplete) == 0 {
		t.Errorf("plan complete; want it to say users/30 is unknown")
	}
}
