package job_test

import (
	"context"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/apply"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/job"
)

// The syncer acts as me@example.com (the subject), an owner of spaces/A;
// the source names them by their alias boss@example.com, as a member, and
// demotes three other owners. Their own demotion must still go last: sent
// beside the others, it lands first as often as not, and Google (the
// emulator judging by the caller's role) refuses the rest to a member, in
// this run and every later one.
func TestTheActingUsersDemotionGoesLastWhenASourceNamesThemByAlias(t *testing.T) {
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "me@example.com", Aliases: []string{"boss@example.com"}}, {ID: "2", Email: "o2@example.com"},
		{ID: "3", Email: "o3@example.com"}, {ID: "4", Email: "o4@example.com"}, {ID: "5", Email: "o5@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/A", Members: []emulator.SeedMember{{User: "me@example.com", Role: "owner"}, {User: "o2@example.com", Role: "owner"},
			{User: "o3@example.com", Role: "owner"}, {User: "o4@example.com", Role: "owner"}, {User: "o5@example.com", Role: "owner"}}}}}
	csv := "space,member,role\nspaces/A,boss@example.com,member\nspaces/A,o2@example.com,member\nspaces/A,o3@example.com,member\nspaces/A,o4@example.com,member\nspaces/A,o5@example.com,owner\n"
	for _, hide := range []bool{false, true} {
		for _, sync := range []bool{false, true} {
			if hide && !sync {
				// Unknown there: lists without emails name nobody by
				// address, and a run that needs no Directory does not ask
				// it who the acting user is (README, known gaps).
				continue
			}
			for run := 0; run < 3; run++ {
				f := newFixture(t, seed, emulator.Options{Caller: "me@example.com", HideEmails: hide, Seed: uint64(run + 1),
					LatencyMin: time.Millisecond, LatencyMax: 15 * time.Millisecond}, csv)
				if sync {
					f.syncing(t)
				}
				f.resolve = true
				tw := f.tweak
				f.tweak = func(j *job.Job) {
					if tw != nil {
						tw(j)
					}
					j.Acting = "me@example.com"
					j.Engine = &apply.Engine{API: j.Engine.API, Throttle: j.Engine.Throttle, Concurrency: 8, Logger: j.Logger, Acting: j.Acting}
				}
				res, err := f.run(t, context.Background(), true)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range res.Plan.Changes {
					if c.Status != diff.Applied {
						t.Errorf("hide emails %v, sync %v, run %d: %s %s: %s %s", hide, sync, run, c.Action, c.Member, c.Status, c.Error)
					}
				}
			}
		}
	}
}
