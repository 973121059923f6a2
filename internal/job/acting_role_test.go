package job_test

import (
	"context"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/job"
)

// The acting user is a manager of spaces/M and a member of spaces/P; the
// emulator judges every write by their role there (Options.Caller), as
// Google does. The plan says, before any call, which changes their role
// can't make, and Google's refusals then fail exactly those.
func TestPlanWarnsOfChangesBeyondTheActingRole(t *testing.T) {
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "me@example.com"}, {ID: "2", Email: "old@example.com"},
		{ID: "3", Email: "succ@example.com"}, {ID: "4", Email: "ann@example.com"}, {ID: "5", Email: "own@example.com"}},
		Spaces: []emulator.SeedSpace{
			{Name: "spaces/M", Members: []emulator.SeedMember{{User: "old@example.com", Role: "owner"}, {User: "own@example.com", Role: "owner"},
				{User: "me@example.com", Role: "manager"}, {User: "succ@example.com"}, {User: "ann@example.com"}}},
			{Name: "spaces/P", Members: []emulator.SeedMember{{User: "old@example.com", Role: "owner"}, {User: "me@example.com"}, {User: "ann@example.com"}}},
			{Name: "spaces/O", Members: []emulator.SeedMember{{User: "me@example.com", Role: "owner"}, {User: "old@example.com", Role: "owner"}, {User: "ann@example.com"}}},
		}}
	csv := "space,member,role\n" +
		"spaces/M,old@example.com,member\nspaces/M,own@example.com,owner\nspaces/M,me@example.com,manager\nspaces/M,succ@example.com,owner\nspaces/M,ann@example.com,manager\n" +
		"spaces/P,old@example.com,owner\nspaces/P,me@example.com,\nspaces/P,ann@example.com,manager\n" +
		"spaces/O,me@example.com,owner\nspaces/O,old@example.com,member\nspaces/O,ann@example.com,manager\n"
	for _, hide := range []bool{false, true} {
		for _, sync := range []bool{false, true} {
			t.Run(map[bool]string{false: "emails", true: "no emails"}[hide]+map[bool]string{false: " upsert", true: " sync"}[sync], func(t *testing.T) {
				f := newFixture(t, seed, emulator.Options{Caller: "me@example.com", HideEmails: hide}, csv)
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
				}
				res, err := f.run(t, context.Background(), true)
				if err != nil {
					t.Fatal(err)
				}
				w := strings.Join(res.Plan.Warnings, "\n")
				for _, want := range []string{
					"spaces/M: the acting user me@example.com is a manager (ROLE_ASSISTANT_MANAGER) there, and only an owner makes owners or changes or removes an owner: Google will refuse 2 of its changes (old@example.com: owner → member, succ@example.com: member → owner)",
					"spaces/P: the acting user me@example.com is a member (ROLE_MEMBER) there, and a member changes no one's role: Google will refuse 1 of its changes (ann@example.com: member → manager)",
				} {
					if !strings.Contains(w, want) {
						t.Errorf("warnings lack %q:\n%s", want, w)
					}
				}
				if strings.Contains(w, "spaces/O: the acting user") {
					t.Errorf("an owner is warned:\n%s", w)
				}
				for _, c := range res.Plan.Changes {
					refused := strings.Contains(c.Error, "PERMISSION_DENIED")
					warned := c.Space == "spaces/P" && c.Member == "ann@example.com" ||
						c.Space == "spaces/M" && (c.Member == "old@example.com" || c.Member == "succ@example.com") && c.Action == diff.UpdateRole
					if refused && !warned {
						t.Errorf("refused without a warning: %+v", c)
					}
				}
			})
		}
	}
}
