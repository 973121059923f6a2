package job_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/identity"
	"github.com/syncer-dev/syncer/internal/job"
	"github.com/syncer-dev/syncer/internal/throttle"
)

// A Directory whose users.list refuses everything (403) while users.get
// answers: a partner's domain can't be told from the organisation's, so a
// sync space adding the partner removes nobody, and says why.
func TestADomainQuestionOfACallerWhoMayNotListHoldsRemovals(t *testing.T) {
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "leaver@example.com"}, {ID: "3", Email: "pat@partner.test", External: true}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "leaver@example.com"}}}}}
	f := newFixture(t, seed, emulator.Options{ForeignDomainNoSuchUser: true}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,pat@partner.test,\n")
	f.syncing(t)
	f.resolve = true
	f.em.SetMisbehaviour("directory.users.list", emulator.Misbehaviour{Status: 403, Reason: "forbidden", Message: "Not Authorized to access this resource/api"})
	res, err := f.run(t, context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if incomplete := strings.Join(res.Plan.Incomplete, "\n"); deletedID(res, "users/2") || !strings.Contains(incomplete, "may not list users") {
		t.Errorf("the leaver removed (%v), or the plan does not say why not:\n%s", deletedID(res, "users/2"), incomplete)
	}
}

// concurrentDomains counts the domain questions in flight at once.
type concurrentDomains struct {
	identity.Directory
	now, most atomic.Int32
	asked     sync.Map // domain → *atomic.Int32
}

func (d *concurrentDomains) OwnsDomain(ctx context.Context, domain string) (bool, error) {
	c, _ := d.asked.LoadOrStore(domain, &atomic.Int32{})
	c.(*atomic.Int32).Add(1)
	n := d.now.Add(1)
	defer d.now.Add(-1)
	for m := d.most.Load(); n > m && !d.most.CompareAndSwap(m, n); m = d.most.Load() {
	}
	time.Sleep(20 * time.Millisecond)
	return d.Directory.OwnsDomain(ctx, domain)
}

// A sync space adding partners from 30 domains asks about the domains
// side by side, not one after another; each once.
func TestDomainQuestionsAreAskedSideBySide(t *testing.T) {
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "leaver@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "leaver@example.com"}}}}}
	var csv strings.Builder
	csv.WriteString("space,member,role\nspaces/S,boss@example.com,owner\n")
	for i := range 30 {
		seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(100 + i), Email: fmt.Sprintf("p%d@partner%d.test", i, i), External: true})
		fmt.Fprintf(&csv, "spaces/S,p%d@partner%d.test,\n", i, i)
	}
	f := newFixture(t, seed, emulator.Options{ForeignDomainNoSuchUser: true}, csv.String())
	f.syncing(t)
	f.resolve = true
	dir := &concurrentDomains{}
	tw := f.tweak
	f.tweak = func(j *job.Job) {
		tw(j)
		dir.Directory = j.Resolver.Directory
		j.Resolver.Directory = dir
	}
	res, err := f.run(t, context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	domains, twice := 0, 0
	dir.asked.Range(func(_, c any) bool {
		if domains++; c.(*atomic.Int32).Load() > 1 {
			twice++
		}
		return true
	})
	if most := dir.most.Load(); most < 4 || domains != 30 || twice > 0 || !deletedID(res, "users/2") {
		t.Errorf("%d domain questions at once at most, %d domains asked (%d more than once), leaver removed %v", most, domains, twice, deletedID(res, "users/2"))
	}
}

// stoppingDomains stops the run while a domain question is in flight.
type stoppingDomains struct {
	identity.Directory
	stop func(error)
}

func (d *stoppingDomains) OwnsDomain(ctx context.Context, domain string) (bool, error) {
	d.stop(errors.New("interrupted by SIGTERM"))
	<-ctx.Done()
	return false, ctx.Err()
}

// A run stopped while it asks whether a domain is the organisation's
// holds that space's removals (the answer never came), and says the stop
// cut the question short, not that the Directory failed with "context
// canceled".
func TestAStopDuringADomainQuestionSaysSo(t *testing.T) {
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "leaver@example.com"}, {ID: "3", Email: "pat@partner.test", External: true}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "leaver@example.com"}}}}}
	f := newFixture(t, seed, emulator.Options{ForeignDomainNoSuchUser: true}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,pat@partner.test,\n")
	f.syncing(t)
	f.resolve = true
	ctx, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	tw := f.tweak
	f.tweak = func(j *job.Job) {
		tw(j)
		j.Resolver.Directory = &stoppingDomains{Directory: j.Resolver.Directory, stop: stop}
	}
	// A call in flight at a stop has a grace to finish: a short one here.
	res, err := f.runWith(t, ctx, false, throttle.New(throttle.Limits{ProjectWritesPerMinute: 1e6, ProjectReadsPerMinute: 1e6, SpaceReadsPerSecond: 1e4,
		MaxAttempts: f.cfg.Limits.MaxAttempts, BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond, Grace: 10 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	incomplete := strings.Join(res.Plan.Incomplete, "\n")
	if deletedID(res, "users/2") || strings.Contains(incomplete, "context canceled") || !strings.Contains(incomplete, "pat@partner.test (interrupted: interrupted by SIGTERM)") {
		t.Errorf("the leaver removed (%v), or the plan blames the Directory for the stop:\n%s", deletedID(res, "users/2"), incomplete)
	}
}
