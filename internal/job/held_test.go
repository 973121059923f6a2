package job_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
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

// heldWorld: 40 spaces of 20 people, lists without emails, a Directory
// big enough that one pass is chosen; each space's people are spread
// over the whole Directory (person i is in space i mod 40), so a space
// waits for most of the pass. The sources add people, change roles and
// leave some out, so the plan is not empty.
func heldWorld() (*emulator.Seed, string) {
	const spaces, per = 40, 20
	seed := world(spaces*per+200, spaces)
	var csv strings.Builder
	csv.WriteString("space,member,role\n")
	for i := 0; i < spaces*per; i++ {
		space, email := fmt.Sprintf("spaces/S%d", i%spaces), fmt.Sprintf("u%d@example.com", i)
		if i%9 != 0 { // every 9th is not a member yet: a create
			seed.Spaces[i%spaces].Members = append(seed.Spaces[i%spaces].Members, emulator.SeedMember{User: email})
		}
		role := ""
		if i%13 == 0 {
			role = "manager" // a role change
		}
		fmt.Fprintf(&csv, "%s,%s,%s\n", space, email, role)
	}
	for s := 0; s < spaces; s++ {
		fmt.Fprintf(&csv, "spaces/S%d,boss@example.com,owner\n", s)
	}
	return seed, csv.String()
}

func TestHeldBudgetPausesReadsAndPlansTheSame(t *testing.T) {
	seed, csv := heldWorld()
	plan := func(held *budget.Budget) job.Result {
		// Latency makes the pass take a while, so spaces read meanwhile wait.
		f := newFixture(t, seed, emulator.Options{HideEmails: true, LatencyMin: 2 * time.Millisecond, LatencyMax: 4 * time.Millisecond, Seed: 1}, csv)
		f.resolve = true
		res, err := f.runAs(t, context.Background(), func(j *job.Job) { j.Held = held })
		if err != nil {
			t.Fatal(err)
		}
		if len(res.SpaceErrors) > 0 || !res.Plan.Complete() || len(res.Plan.Spaces) != 40 {
			t.Fatalf("errors %v, incomplete %v, %d spaces", res.SpaceErrors, res.Plan.Incomplete, len(res.Plan.Spaces))
		}
		return res
	}
	unbounded := plan(nil)
	held := budget.New(25) // about one space
	var mu sync.Mutex
	pauses := 0
	held.Paused = func(waiting bool) {
		mu.Lock()
		defer mu.Unlock()
		if waiting {
			pauses++
		}
	}
	bounded := plan(held)

	// Each run has its own folder: sources are compared by file name.
	encode := func(r job.Result) []string {
		var out []string
		for _, c := range r.Plan.Changes {
			c.Source = filepath.Base(c.Source)
			b, _ := json.Marshal(c)
			out = append(out, string(b))
		}
		for _, sp := range r.Plan.Spaces {
			b, _ := json.Marshal(sp)
			out = append(out, string(b))
		}
		return out
	}
	if len(unbounded.Plan.Changes) == 0 {
		t.Fatal("the world plans no change: the comparison would prove little")
	}
	if got, want := encode(bounded), encode(unbounded); !slices.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Errorf("the plan under a budget of 25 memberships differs from the unbounded one (%d and %d lines), first at line %d:\n%v\n%v",
			len(got), len(want), i, got[min(i, len(got)-1)], want[min(i, len(want)-1)])
	}
	mu.Lock()
	defer mu.Unlock()
	if pauses == 0 {
		t.Error("reads never paused under a budget of 25 memberships")
	}
	// Reads in flight each passed the budget before the others' memberships
	// were counted: at most one space each past the limit (8 in flight), a
	// space its 21 memberships and 32 for itself (spaceCost).
	if peak, _ := held.Stats(); peak > 25+8*(21+32) {
		t.Errorf("%d memberships held at once", peak)
	}
}

// inFlight is a Directory front that counts users.get calls in flight: the
// first one waits (up to a few seconds) for a second to start beside it.
type inFlight struct {
	identity.Directory
	mu       sync.Mutex
	now, top int
	second   chan struct{}
	once     sync.Once
}

func (d *inFlight) User(ctx context.Context, key string) (chatapi.DirectoryUser, error) {
	d.mu.Lock()
	d.now++
	d.top = max(d.top, d.now)
	if d.now == 2 {
		d.once.Do(func() { close(d.second) })
	}
	first := d.top == 1
	d.mu.Unlock()
	if first {
		select {
		case <-d.second:
		case <-time.After(5 * time.Second): // never reached when gets go side by side
		}
	}
	defer func() { d.mu.Lock(); d.now--; d.mu.Unlock() }()
	return d.Directory.User(ctx, key)
}

func TestRefusedPassFallsBackSideBySide(t *testing.T) {
	// users.list refused (403, a caller without the right to list users)
	// while users.get answers: the pass fails at its first page, and the
	// addresses it did not show are looked up side by side.
	seed, csv := world(300, 10), &strings.Builder{}
	csv.WriteString("space,member,role\n")
	for i := 0; i < 300; i++ {
		seed.Spaces[i%10].Members = append(seed.Spaces[i%10].Members, emulator.SeedMember{User: fmt.Sprintf("u%d@example.com", i)})
		fmt.Fprintf(csv, "spaces/S%d,u%d@example.com,\n", i%10, i)
	}
	f := newFixture(t, seed, emulator.Options{HideEmails: true}, csv.String())
	f.em.SetMisbehaviour("directory.users.list", emulator.Misbehaviour{Status: 403, Reason: "forbidden", Message: "Not Authorized to access this resource/api"})
	f.resolve = true
	front := &inFlight{second: make(chan struct{})}
	res, err := f.runAs(t, context.Background(), func(j *job.Job) {
		front.Directory = j.Resolver.Directory
		j.Resolver.Directory = front
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Plan.Empty() || !res.Plan.Complete() {
		t.Errorf("planned %d changes on a converged state, incomplete %v", len(res.Plan.Changes), res.Plan.Incomplete)
	}
	st := f.em.Stats()
	if st.Count("directory.users.list") != 1 || st.Count("directory.users.get") < 300 {
		t.Errorf("requests %v: want the one refused page, then a users.get per address", st.Requests)
	}
	if front.top < 2 {
		t.Errorf("users.get calls in flight at most %d: the lookups after a refused pass went one after another", front.top)
	}
	if w := strings.Join(res.Plan.Warnings, "\n"); !strings.Contains(w, "directory listing stopped") {
		t.Errorf("warnings %q", res.Plan.Warnings)
	}
}

// TestReadAheadWaitsForPlanningNotForThePass: with room for one space read
// ahead of planning, reads go on while spaces wait for the Directory pass
// (lists without emails): a space that waits gives its place back, so the
// pass and the reads still overlap. Plans equal the unbounded ones.
func TestReadAheadWaitsForPlanningNotForThePass(t *testing.T) {
	seed, csv := heldWorld()
	plan := func(t *testing.T, hideEmails bool, readAhead int, front *heldPass) job.Result {
		f := newFixture(t, seed, emulator.Options{HideEmails: hideEmails, LatencyMin: 2 * time.Millisecond, LatencyMax: 4 * time.Millisecond, Seed: 1}, csv)
		f.resolve = true
		res, err := f.runAs(t, readAheadDeadline(t), func(j *job.Job) {
			j.Held, j.ReadAhead = budget.New(1<<20), readAhead
			if front != nil {
				front.Directory, front.em = j.Resolver.Directory, f.em
				j.Resolver.Directory = front
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.SpaceErrors) > 0 || !res.Plan.Complete() || len(res.Plan.Spaces) != 40 {
			t.Fatalf("errors %v, incomplete %v, %d spaces", res.SpaceErrors, res.Plan.Incomplete, len(res.Plan.Spaces))
		}
		return res
	}
	same := func(t *testing.T, one, unbounded job.Result) {
		if len(unbounded.Plan.Changes) == 0 || len(one.Plan.Changes) != len(unbounded.Plan.Changes) {
			t.Fatalf("%d changes with room for one space, %d without a bound", len(one.Plan.Changes), len(unbounded.Plan.Changes))
		}
		for i := range one.Plan.Changes {
			a, b := one.Plan.Changes[i], unbounded.Plan.Changes[i]
			if a.Space != b.Space || a.Member != b.Member || a.ID != b.ID || a.Action != b.Action || a.ToRole != b.ToRole || a.ResolvedBy != b.ResolvedBy {
				t.Fatalf("change %d: %+v with room for one space, %+v without a bound", i, a, b)
			}
		}
	}
	// That a space waiting only for a processor keeps its place is not
	// seen here: planning in this world is instant, and reads never get
	// ahead of it but by waiting for the API (which gives the place back).
	// The 1M bench's warm row shows it. With room for one space and lists
	// with emails (people new to a space looked up by users.get), the plan
	// is the same and no place is lost (the run's deadline).
	t.Run("lists with emails: the same plan with room for one space", func(t *testing.T) {
		unbounded := plan(t, false, 1000, nil)
		one := plan(t, false, 1, nil)
		same(t, one, unbounded)
	})
	t.Run("lists without emails: reads go on while spaces wait for the pass", func(t *testing.T) {
		unbounded := plan(t, true, 1000, nil)
		front := &heldPass{spaces: 10}
		one := plan(t, true, 1, front)
		same(t, one, unbounded)
		if front.gaveUp.Load() {
			t.Error("the pass's pages waited for 10 spaces to be read, and they never were: spaces waiting for the pass kept their place")
		}
	})
}

// heldPass is a Directory front whose users.list pages wait (up to a few
// seconds) until the emulator has answered spaces list calls: the pass can
// end only once that many spaces were read while it ran.
type heldPass struct {
	identity.Directory
	em     *emulator.Server
	spaces int
	gaveUp atomic.Bool
}

func (d *heldPass) UsersPage(ctx context.Context, query, pageToken string) ([]chatapi.DirectoryUser, string, error) {
	for start := time.Now(); d.em.Stats().Count("members.list") < d.spaces; time.Sleep(time.Millisecond) {
		if time.Since(start) > 3*time.Second {
			d.gaveUp.Store(true)
			break
		}
	}
	return d.Directory.UsersPage(ctx, query, pageToken)
}

// readAheadDeadline bounds a run with little room read ahead: a place
// never given back stops every later read, and the run would otherwise
// wait for the test binary's timeout.
func readAheadDeadline(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestReadAheadPlacesOutliveFailedReadsAndMemberGets: with room for one
// space, a space whose list is refused gives its place back (else no other
// space is read), and so does one that asks the space for a member by
// address (members.get, for people outside the organisation the
// Directory can't name): a members.get here waits for another space to be
// read, which happens only if its space gave its place back.
func TestReadAheadPlacesOutliveFailedReadsAndMemberGets(t *testing.T) {
	seed, csv := heldWorld()
	for s := 0; s < 40; s++ {
		csv += fmt.Sprintf("spaces/S%d,guest%d@partner.test,\n", s, s)
	}
	f := newFixture(t, seed, emulator.Options{HideEmails: true, LatencyMin: 2 * time.Millisecond, LatencyMax: 4 * time.Millisecond, Seed: 1}, csv)
	f.em.SetMisbehaviour("members.list", emulator.Misbehaviour{Status: 403, Reason: "forbidden", Message: "The caller does not have permission", AtCall: 3})
	f.resolve = true
	var front *heldGets
	res, err := f.runAs(t, readAheadDeadline(t), func(j *job.Job) {
		j.Held, j.ReadAhead = budget.New(1<<20), 1
		front = &heldGets{MemberGetter: j.Resolver.Members, em: f.em, spaces: 40}
		j.Resolver.Members = front
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.SpaceErrors) != 1 || len(res.Plan.Spaces) != 40 {
		t.Fatalf("%d spaces, errors %v: want the one refused list and every other space planned", len(res.Plan.Spaces), res.SpaceErrors)
	}
	if front.gets.Load() == 0 {
		t.Fatal("no members.get was asked: the test proves nothing")
	}
	if n := front.gaveUp.Load(); n > 0 {
		t.Errorf("%d of %d members.get calls waited for another space to be read, and none was: the space kept its place", n, front.gets.Load())
	}
}

// heldGets is a members.get front that waits (up to 300 ms) until the
// emulator has answered one more members.list call, or every space's.
type heldGets struct {
	identity.MemberGetter
	em     *emulator.Server
	spaces int
	gets   atomic.Int32
	gaveUp atomic.Int32
}

func (g *heldGets) Get(ctx context.Context, space, member string) (membership.Membership, error) {
	g.gets.Add(1)
	want := min(g.em.Stats().Count("members.list")+1, g.spaces)
	for start := time.Now(); g.em.Stats().Count("members.list") < want; time.Sleep(time.Millisecond) {
		if time.Since(start) > 300*time.Millisecond {
			g.gaveUp.Add(1)
			break
		}
	}
	return g.MemberGetter.Get(ctx, space, member)
}
