package job_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/budget"
	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/identity"
	"github.com/syncer-dev/syncer/internal/job"
	"github.com/syncer-dev/syncer/internal/membership"
)

// endlessList answers spaces/S0's list with full pages and a new token
// forever; other spaces as the emulator does.
type endlessList struct {
	job.Reader
	served atomic.Int64
}

func (r *endlessList) ListPage(ctx context.Context, space, token string) ([]membership.Membership, string, error) {
	if space != "spaces/S0" {
		return r.Reader.ListPage(ctx, space, token)
	}
	n := 0
	if token != "" {
		fmt.Sscanf(token, "t%d", &n)
	}
	page := make([]membership.Membership, chatapi.PageSize)
	for i := range page {
		page[i] = membership.Membership{Name: "spaces/S0/members/x", Principal: "users/x", Role: membership.RoleMember, State: membership.StateJoined}
	}
	r.served.Add(int64(len(page)))
	return page, fmt.Sprintf("t%d", n+1), nil
}

// A list that never ends fails its space once it has shown more than any
// Chat space holds (200,000, or the budget if larger), not after the page
// guard's 2,000 pages: two million memberships in memory, whatever the
// budget said. The other spaces are planned.
func TestAnEndlessListIsCutAtTheBound(t *testing.T) {
	seed, csv := heldWorld()
	f := newFixture(t, seed, emulator.Options{HideEmails: true}, csv)
	f.resolve = true
	r := &endlessList{}
	held := budget.New(1000)
	res, err := f.runAs(t, context.Background(), func(j *job.Job) {
		j.Held = held
		r.Reader = j.Reader
		j.Reader = r
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.SpaceErrors) != 1 || res.SpaceErrors[0].Space != "spaces/S0" || !strings.Contains(res.SpaceErrors[0].Error(), "listed more than 200000") {
		t.Fatalf("space errors %v; want spaces/S0's list refused past 200,000", res.SpaceErrors)
	}
	if got := r.served.Load(); got > 200_000+chatapi.PageSize {
		t.Errorf("spaces/S0's list was read to %d memberships", got)
	}
	if planned := len(res.Plan.Spaces) - 1; planned != 39 {
		t.Errorf("%d of the other 39 spaces planned", planned)
	}
}

// passHeld is a Directory front whose users.list pages wait until release
// is closed (or 20 s pass).
type passHeld struct {
	identity.Directory
	release chan struct{}
}

func (d *passHeld) UsersPage(ctx context.Context, query, token string) ([]chatapi.DirectoryUser, string, error) {
	select {
	case <-d.release:
	case <-time.After(20 * time.Second):
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
	return d.Directory.UsersPage(ctx, query, token)
}

// listCounter counts the spaces whose list has been read.
type listCounter struct {
	job.Reader
	n atomic.Int64
}

func (r *listCounter) ListPage(ctx context.Context, space, token string) ([]membership.Membership, string, error) {
	page, next, err := r.Reader.ListPage(ctx, space, token)
	if err == nil && next == "" {
		r.n.Add(1)
	}
	return page, next, err
}

// A space held costs more than its memberships (its goroutine and wait,
// about 12 KB): 3,000 spaces of one member, lists without emails, the pass
// held back, a budget of 2,000 memberships. Counted by memberships alone,
// some 2,000 spaces were read and held (24 MB, 31 times what the budget
// allows for); each now counts 32 more, so about 60 are, and the reads in
// flight when they pause.
func TestSmallSpacesHeldAreBoundedToo(t *testing.T) {
	const spaces, limit = 3000, 2000
	seed := world(spaces, spaces)
	var csv strings.Builder
	csv.WriteString("space,member,role\n")
	for i := 0; i < spaces; i++ {
		fmt.Fprintf(&csv, "spaces/S%d,u%d@example.com,\nspaces/S%d,boss@example.com,owner\n", i, i, i)
	}
	f := newFixture(t, seed, emulator.Options{HideEmails: true}, csv.String())
	f.resolve = true
	held := budget.New(limit)
	front := &passHeld{release: make(chan struct{})}
	lists := &listCounter{}
	var once sync.Once
	readAtPause := make(chan int64, 1)
	held.Paused = func(waiting bool) {
		if waiting {
			once.Do(func() {
				go func() {
					time.Sleep(300 * time.Millisecond) // the reads in flight land
					readAtPause <- lists.n.Load()
					close(front.release)
				}()
			})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := f.runAs(t, ctx, func(j *job.Job) {
		j.Held = held
		front.Directory = j.Resolver.Directory
		j.Resolver.Directory = front
		lists.Reader = j.Reader
		j.Reader = lists
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Plan.Complete() || len(res.Plan.Spaces) != spaces {
		t.Fatalf("complete %v, %d spaces planned", res.Plan.Complete(), len(res.Plan.Spaces))
	}
	select {
	case n := <-readAtPause:
		// 2,000 ÷ 33 is 60, and the reads in flight at the pause.
		if n > 300 {
			t.Errorf("%d spaces read and held while the pass was held back (budget %d memberships)", n, limit)
		}
	default:
		t.Fatal("reads never paused")
	}
}

// pagePeek records, as spaces/S0's third page is asked for, the most
// memberships the budget has held so far.
type pagePeek struct {
	job.Reader
	held  *budget.Budget
	calls atomic.Int32
	peak  atomic.Int64
}

func (r *pagePeek) ListPage(ctx context.Context, space, token string) ([]membership.Membership, string, error) {
	if space == "spaces/S0" && r.calls.Add(1) == 3 {
		peak, _ := r.held.Stats()
		r.peak.Store(int64(peak))
	}
	return r.Reader.ListPage(ctx, space, token)
}

// A space's pages count against the budget as they arrive, not once the
// space is whole: a big space (or a list that never ends) is in memory
// before it is read to the end. spaces/S0 lists 2,223 memberships in
// three pages; the other spaces hold about 500 with their own cost.
func TestPagesCountAsTheyArrive(t *testing.T) {
	seed, csv := unevenWorld(3000)
	f := newFixture(t, seed, emulator.Options{HideEmails: true}, csv)
	f.resolve = true
	held := budget.New(1_000_000)
	r := &pagePeek{held: held}
	res, err := f.runAs(t, context.Background(), func(j *job.Job) {
		j.Held = held
		r.Reader = j.Reader
		j.Reader = r
	})
	if err != nil || len(res.SpaceErrors) > 0 {
		t.Fatalf("err %v, space errors %v", err, res.SpaceErrors)
	}
	if r.calls.Load() != 3 {
		t.Fatalf("spaces/S0 read in %d pages; want 3", r.calls.Load())
	}
	if got := r.peak.Load(); got < 2*chatapi.PageSize {
		t.Errorf("before spaces/S0's third page the budget had held at most %d memberships; want its first two pages' %d", got, 2*chatapi.PageSize)
	}
}

// stopOnGet stops the run at the first members.get (a removal's
// screening asks each space whether the acting user, whom the Directory
// could not tie to an ID, is a member there).
type stopOnGet struct {
	job.Reader
	stop  func()
	once  sync.Once
	space atomic.Value
}

func (r *stopOnGet) Get(ctx context.Context, space, member string) (membership.Membership, error) {
	r.once.Do(func() {
		r.space.Store(space)
		r.stop()
	})
	return r.Reader.Get(ctx, space, member)
}

// A stop that cuts a space's removal screening short leaves that space
// unplanned: its removals were decided on less than they should have been.
func TestAStopDuringTheScreeningLeavesTheSpaceUnplanned(t *testing.T) {
	seed, csv := unevenWorld(600) // the sources leave members out: removals
	f := newFixture(t, seed, emulator.Options{}, csv)
	f.resolve = true
	f.syncing(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	r := &stopOnGet{stop: func() { cancel(errors.New("SIGTERM")) }}
	base := f.tweak
	f.tweak = func(j *job.Job) {
		base(j)
		r.Reader = j.Reader
		j.Reader = r
		j.Acting = "ghost@elsewhere.test" // the Directory doesn't know them
	}
	res, err := f.run(t, ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	space, _ := r.space.Load().(string)
	if space == "" {
		t.Fatal("no members.get: the screening asked nothing, the test shows nothing")
	}
	if !slices.ContainsFunc(res.SpaceErrors, func(e *job.SpaceError) bool { return e.Space == space && e.Stopped }) {
		t.Errorf("%s, whose screening the stop cut short, was planned (space errors %v)", space, res.SpaceErrors)
	}
}
