package job_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/identity"
	"github.com/syncer-dev/syncer/internal/job"
)

// refuseSuspendedQuery refuses the users.list query for suspended users;
// every other Directory call goes through.
type refuseSuspendedQuery struct{ identity.Directory }

func (d refuseSuspendedQuery) UsersPage(ctx context.Context, query, token string) ([]chatapi.DirectoryUser, string, error) {
	if strings.Contains(query, "isSuspended") {
		return nil, "", &chatapi.Error{Message: "refused on purpose (503)"}
	}
	return d.Directory.UsersPage(ctx, query, token)
}

// remove_suspended, and the Directory's suspended users can't be listed:
// the run warns that nobody is removed for being suspended, and nobody is,
// though the pass shows some suspended (which it shows depends on timing).
// With the list, the same world removes them.
func TestSuspendedUnlistedRemovesNobodyForIt(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		seed, csv := heldWorld()
		for i := range seed.Users {
			if i%50 == 7 {
				seed.Users[i].Suspended = true
			}
		}
		f := newFixture(t, seed, emulator.Options{HideEmails: true}, csv)
		f.resolve = true
		f.syncing(t)
		f.cfg.RemoveSuspended = true
		base := f.tweak
		f.tweak = func(j *job.Job) {
			base(j)
			if refuse {
				j.Resolver.Directory = refuseSuspendedQuery{j.Resolver.Directory}
			}
		}
		res, err := f.run(t, context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		warned := slices.ContainsFunc(res.Plan.Warnings, func(w string) bool { return strings.Contains(w, "nobody is removed for being suspended") })
		removed := 0
		for _, c := range res.Plan.Changes {
			if c.Action == diff.Delete && c.Reason == diff.ReasonSuspended {
				removed++
			}
		}
		switch {
		case !refuse && (warned || removed == 0):
			t.Fatalf("with the suspended listed: warned %v, %d removed for being suspended; want no warning and some removed", warned, removed)
		case refuse && !warned:
			t.Errorf("the suspended list was refused and the plan doesn't say so: %q", res.Plan.Warnings)
		case refuse && removed > 0:
			t.Errorf("the plan says nobody is removed for being suspended, and removes %d for it", removed)
		}
	}
}

// A suspended user a source names is not added; the identity cache
// remembers who the Directory showed suspended. Under remove_suspended the
// cached mark counted for nothing from the moment the suspended query was
// asked (its pages were to settle who is): when the query was refused,
// nobody was settled, and the cached suspended user was planned as a
// create, though the run said it removes nobody for being suspended.
func TestSuspendedUnlistedStillAddsNoCachedSuspendedUser(t *testing.T) {
	seed := &emulator.Seed{Users: []emulator.SeedUser{
		{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}, {ID: "3", Email: "sam@example.com", Suspended: true},
		{ID: "4", Email: "mel@example.com", Suspended: true},
	}, Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "ann@example.com"}, {User: "mel@example.com"}}}}}
	csv := "space,member\nspaces/S,boss@example.com\nspaces/S,ann@example.com\nspaces/S,sam@example.com\nspaces/S,mel@example.com\n"
	cache := filepath.Join(t.TempDir(), "cache.json")
	for run, refuse := range []bool{false, true} {
		f := newFixture(t, seed, emulator.Options{HideEmails: true}, csv)
		f.resolve, f.cacheFile = true, cache
		f.syncing(t)
		f.cfg.RemoveSuspended = true
		base := f.tweak
		f.tweak = func(j *job.Job) {
			base(j)
			if refuse {
				j.Resolver.Directory = refuseSuspendedQuery{j.Resolver.Directory}
			}
		}
		res, err := f.run(t, context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range res.Plan.Changes {
			if c.Action == diff.Create && c.Member == "sam@example.com" {
				logPlan(t, fmt.Sprint("run ", run+1), res)
				t.Errorf("run %d (suspended query refused: %v): the suspended sam@example.com is planned as a create", run+1, refuse)
			}
			// mel, suspended and named: removed for it only when the
			// suspended users were listed.
			if c.Action == diff.Delete && refuse {
				logPlan(t, fmt.Sprint("run ", run+1), res)
				t.Errorf("run %d: the suspended query was refused, and %s is removed (%s)", run+1, c.Member, c.Reason)
			}
		}
		if !refuse && !slices.ContainsFunc(res.Plan.Changes, func(c diff.Change) bool { return c.Action == diff.Delete && c.Reason == diff.ReasonSuspended }) {
			logPlan(t, "run 1", res)
			t.Errorf("run 1: the suspended mel@example.com is not removed under remove_suspended")
		}
	}
}
