package job_test

import (
	"context"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
)

// A source that names a direct message (an ID copied from the wrong
// conversation) under sync: the list shows two people, neither an owner,
// so only spaces.get tells; nothing is planned there, and the other
// person is not removed.
func TestADirectMessageUnderSyncIsRefused(t *testing.T) {
	seed := world(2, 1)
	seed.Spaces = append(seed.Spaces, emulator.SeedSpace{Name: "spaces/DM", Type: "DIRECT_MESSAGE",
		Members: []emulator.SeedMember{{User: "boss@example.com"}, {User: "u1@example.com"}}})
	f := newFixture(t, seed, emulator.Options{}, "space,member,role\nspaces/S0,u0@example.com,\nspaces/DM,boss@example.com,\n")
	f.syncing(t)
	res, err := f.run(t, context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	logPlan(t, "run", res)
	if n := countDeletes(res); n != 0 {
		t.Errorf("%d removals planned; a direct message's people are not the sources' to change", n)
	}
	if got := f.em.Snapshot()["spaces/DM"]; len(got) != 2 {
		t.Errorf("the direct message now holds %+v", got)
	}
	var why string
	for _, e := range res.SpaceErrors {
		if e.Space == "spaces/DM" {
			why = e.Err.Error()
		}
	}
	if !strings.Contains(why, "direct message") {
		t.Errorf("the space's error is %q; want it to say it is a direct message (errors %v)", why, res.SpaceErrors)
	}
	if !res.Failed() {
		t.Error("a source naming a direct message must fail the run")
	}
	if s := f.em.Snapshot()["spaces/S0"]; len(s) != 2 || s[1].Email != "u0@example.com" {
		t.Errorf("the named space, planned as usual, holds %+v", s)
	}
}
