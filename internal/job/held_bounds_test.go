package job_test

import (
	"context"
	"fmt"
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
