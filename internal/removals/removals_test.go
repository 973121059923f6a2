package removals

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/diff"
	m "github.com/syncer-dev/syncer/internal/membership"
)

func del(space, id, email string, from m.Role) diff.Change {
	c := diff.Change{Space: space, Member: "users/" + id, Principal: m.User(id), ID: m.User(id), Membership: space + "/members/" + id,
		Action: diff.Delete, FromRole: from, Reason: diff.ReasonAbsent}
	if email != "" {
		c.Member = email
	}
	return c
}

func TestScreen(t *testing.T) {
	group := diff.Change{Space: "spaces/A", Member: "groups/eng", Principal: "groups/eng", Membership: "spaces/A/members/group-eng", Action: diff.Delete, Reason: diff.ReasonAbsent}
	tests := []struct {
		name    string
		changes []diff.Change
		in      ScreenInput
		removed []string // members still removed
	}{
		{"nothing protected: removed", []diff.Change{del("spaces/A", "2", "alice@example.com", m.RoleMember)}, ScreenInput{}, []string{"alice@example.com"}},
		{"protected by email", []diff.Change{del("spaces/A", "2", "alice@example.com", m.RoleMember), del("spaces/A", "3", "bob@example.com", m.RoleMember)},
			ScreenInput{Protect: NewProtect([]string{"Alice@Example.com"})}, []string{"bob@example.com"}},
		{"protected by domain", []diff.Change{del("spaces/A", "2", "ann@partner.com", m.RoleMember), del("spaces/A", "3", "bob@example.com", m.RoleMember)},
			ScreenInput{Protect: NewProtect([]string{"*@partner.com"})}, []string{"bob@example.com"}},
		{"protected by an alias the Directory gave", []diff.Change{del("spaces/A", "2", "", m.RoleMember)},
			ScreenInput{Protect: NewProtect([]string{"*@partner.com"}), Emails: map[m.Principal][]string{"users/2": {"ann@example.com", "ann@partner.com"}}}, nil},
		{"protected by ID and group", []diff.Change{del("spaces/A", "2", "", m.RoleMember), group, del("spaces/A", "4", "", m.RoleMember)},
			ScreenInput{Protect: NewProtect([]string{"110", "users/2", "groups/eng"})}, []string{"users/4"}},
		{"the acting user by ID", []diff.Change{del("spaces/A", "2", "", m.RoleMember), del("spaces/A", "3", "", m.RoleMember)},
			ScreenInput{Acting: Acting{Email: "admin@example.com", ID: "users/3"}}, []string{"users/2"}},
		{"the acting user by email", []diff.Change{del("spaces/A", "2", "admin@example.com", m.RoleMember)},
			ScreenInput{Acting: Acting{Email: "admin@example.com"}}, nil},
		{"no email and the acting user unresolved: kept", []diff.Change{del("spaces/A", "2", "", m.RoleMember), del("spaces/A", "3", "x@example.com", m.RoleMember)},
			ScreenInput{Acting: Acting{Email: "admin@example.com"}}, []string{"x@example.com"}},
		{"no email while protect needs one: kept", []diff.Change{del("spaces/A", "2", "", m.RoleMember)},
			ScreenInput{Protect: NewProtect([]string{"*@partner.com"})}, nil},
		{"an unresolved address: nobody absent is removed", []diff.Change{del("spaces/A", "2", "alice@example.com", m.RoleMember)},
			ScreenInput{Unresolved: map[string]string{"robert@example.com": "directory: 500"}}, nil},
		{"an unresolved address doesn't hold a suspended member", []diff.Change{func() diff.Change {
			c := del("spaces/A", "2", "alice@example.com", m.RoleMember)
			c.Reason = diff.ReasonSuspended
			return c
		}()}, ScreenInput{Unresolved: map[string]string{"robert@example.com": "directory: 500"}}, []string{"alice@example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			create := diff.Change{Space: "spaces/A", Member: "new@example.com", Action: diff.Create}
			sp := diff.SpacePlan{Changes: append([]diff.Change{create}, tt.changes...)}
			Screen(&sp, tt.in)
			var removed []string
			for _, c := range sp.Changes {
				if c.Action == diff.Delete {
					removed = append(removed, c.Member)
				}
			}
			if !reflect.DeepEqual(removed, tt.removed) || !reflect.DeepEqual(sp.Changes[0], create) || len(sp.Protected)+len(removed) != len(tt.changes) {
				t.Errorf("removed %v (want %v), protected %+v", removed, tt.removed, sp.Protected)
			}
			for _, k := range sp.Protected {
				if k.Why == "" {
					t.Errorf("kept with no reason: %+v", k)
				}
			}
		})
	}
}

// planOf builds a plan over spaces of the given sizes (space → current
// members, owners) with the given changes.
func planOf(spaces map[string][2]int, changes ...diff.Change) *diff.Plan {
	p := &diff.Plan{Changes: changes}
	for _, name := range sortedKeys(spaces) {
		p.Spaces = append(p.Spaces, diff.SpaceSummary{Name: name, Current: spaces[name][0], Owners: spaces[name][1], Listed: true})
	}
	return p
}

func deletes(n int, space string) []diff.Change {
	var out []diff.Change
	for i := 0; i < n; i++ {
		out = append(out, del(space, fmt.Sprint(100+i), fmt.Sprintf("u%d@example.com", i), m.RoleMember))
	}
	return out
}

var defaults = Settings{MaxRemovals: config.Limit{N: 10}, MaxRemovalPercent: config.Limit{N: 20}, MaxSourceShrinkPercent: config.Limit{N: 20}, Allow: -1, Sync: true}

func with(f func(*Settings)) Settings { s := defaults; f(&s); return s }

func TestRails(t *testing.T) {
	prev := &State{Version: 1, Totals: map[string]int{"hr.csv": 100}}
	big := map[string][2]int{"spaces/A": {100, 1}, "spaces/B": {100, 1}}
	tests := []struct {
		name    string
		plan    *diff.Plan
		prev    *State
		totals  map[string]int
		st      Settings
		blocked string // "" when the plan may go ahead
	}{
		{"within every limit", planOf(big, deletes(10, "spaces/A")...), prev, map[string]int{"hr.csv": 95}, defaults, ""},
		{"over max_removals", planOf(big, append(deletes(6, "spaces/A"), deletes(5, "spaces/B")...)...), prev, map[string]int{"hr.csv": 95}, defaults, "11 removals planned; safety.max_removals is 10"},
		{"max_removals 0 means none, not no limit", planOf(big, deletes(1, "spaces/A")...), prev, map[string]int{"hr.csv": 100},
			with(func(s *Settings) { s.MaxRemovals = config.Limit{} }), "1 removals planned; safety.max_removals is 0"},
		{"unlimited is spelled out", planOf(big, deletes(50, "spaces/A")...), prev, map[string]int{"hr.csv": 100},
			with(func(s *Settings) {
				s.MaxRemovals, s.MaxRemovalPercent = config.Limit{Unlimited: true}, config.Limit{Unlimited: true}
			}), ""},
		{"over the share of a space", planOf(map[string][2]int{"spaces/A": {10, 1}}, deletes(3, "spaces/A")...), prev, map[string]int{"hr.csv": 100}, defaults,
			"spaces/A: 3 of its 10 members would be removed (30%); safety.max_removal_percent is 20%"},
		{"one person leaving a small space is not a mass removal", planOf(map[string][2]int{"spaces/A": {3, 1}}, deletes(1, "spaces/A")...), prev, map[string]int{"hr.csv": 100}, defaults, ""},
		{"a source that shrank", planOf(big), prev, map[string]int{"hr.csv": 70}, defaults, "source hr.csv shrank from 100 to 70 memberships (-30%)"},
		{"a source that shrank even with nothing to remove yet (grace)", planOf(big), prev, map[string]int{"hr.csv": 50}, defaults, "shrank"},
		{"shrinking is fine without sync", planOf(big), prev, map[string]int{"hr.csv": 50}, with(func(s *Settings) { s.Sync = false }), ""},
		// Totals count a member a source repeats once; a state saved when
		// they counted rows is compared with this run's rows.
		{"repeated rows, a state that counted rows", planOf(big), prev, map[string]int{"hr.csv": 70},
			with(func(s *Settings) { s.Repeats = map[string]int{"hr.csv": 30} }), ""},
		{"repeated rows in place of lost ones", planOf(big), &State{Version: 1, Totals: map[string]int{"hr.csv": 100}, Distinct: true}, map[string]int{"hr.csv": 70},
			with(func(s *Settings) { s.Repeats = map[string]int{"hr.csv": 30} }), "source hr.csv shrank from 100 to 70 memberships (-30%)"},
		{"a source no longer configured has no total", planOf(big), prev, map[string]int{"other.csv": 5}, defaults, ""},
		{"first run with removals", planOf(big, deletes(2, "spaces/B")...), nil, map[string]int{"hr.csv": 100}, defaults,
			"first run with policy sync for this state: 2 members would be removed (spaces/B: 2); read the plan, then rerun with --allow-removals 2"},
		{"first run with nothing to remove (adopted with export)", planOf(big), nil, map[string]int{"hr.csv": 100}, defaults, ""},
		{"--allow-removals consents to the first run", planOf(big, deletes(2, "spaces/B")...), nil, map[string]int{"hr.csv": 100}, with(func(s *Settings) { s.Allow = 2 }), ""},
		{"--allow-removals consents past the limits", planOf(big, deletes(30, "spaces/A")...), prev, map[string]int{"hr.csv": 60}, with(func(s *Settings) { s.Allow = 30 }), ""},
		{"--allow-removals too low", planOf(big, deletes(30, "spaces/A")...), prev, map[string]int{"hr.csv": 100}, with(func(s *Settings) { s.Allow = 5 }),
			"30 removals planned; --allow-removals allows 5"},
		{"--allow-removals caps removals even when no limit fires", planOf(big, deletes(4, "spaces/A")...), prev, map[string]int{"hr.csv": 100},
			with(func(s *Settings) { s.Allow, s.MaxRemovalPercent = 2, config.Limit{Unlimited: true} }), "4 removals planned; --allow-removals allows 2"},
		{"max_removal_percent 0 means none, even one", planOf(big, deletes(1, "spaces/A")...), prev, map[string]int{"hr.csv": 100},
			with(func(s *Settings) { s.MaxRemovalPercent = config.Limit{} }), "spaces/A: 1 of its 100 members would be removed (1%); safety.max_removal_percent is 0%"},
		{"a first run whose removals the grace period holds is not blocked", planOf(big, deletes(2, "spaces/B")...), nil, map[string]int{"hr.csv": 100},
			with(func(s *Settings) { s.Grace = config.Grace{Runs: 2} }), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Decide(tt.plan, tt.prev, tt.totals, tt.st, time.Unix(1e9, 0))
			got := strings.Join(tt.plan.Blocked, "\n")
			if tt.blocked == "" && got != "" || tt.blocked != "" && !strings.Contains(got, tt.blocked) {
				t.Errorf("blocked: %q\nwant %q", got, tt.blocked)
			}
		})
	}
}

func TestGrace(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)
	space := map[string][2]int{"spaces/A": {50, 1}, "spaces/B": {50, 1}}
	run := func(prev *State, st Settings, at time.Time, changes ...diff.Change) (*diff.Plan, *State) {
		p := planOf(space, changes...)
		return p, Decide(p, prev, map[string]int{"s": 1}, st, at)
	}
	alice := del("spaces/A", "2", "alice@example.com", m.RoleMember)
	bob := del("spaces/A", "3", "bob@example.com", m.RoleMember)
	three := with(func(s *Settings) { s.Grace = config.Grace{Runs: 3} })

	prev := &State{Version: 1, Totals: map[string]int{"s": 1}}
	p, next := run(prev, three, t0, alice, bob)
	if len(p.Changes) != 0 || len(p.Pending) != 2 || p.Pending[0].Why != "removal pending (1 of 3 runs)" {
		t.Fatalf("run 1: changes %v, pending %+v", p.Changes, p.Pending)
	}
	p, next = run(next, three, t0.Add(time.Hour), alice) // bob is back in a source
	if len(p.Pending) != 1 || p.Pending[0].Why != "removal pending (2 of 3 runs)" || len(next.Absent["spaces/A"]) != 1 {
		t.Fatalf("run 2: pending %+v, absent %+v", p.Pending, next.Absent)
	}
	p, next = run(next, three, t0.Add(2*time.Hour), alice, bob)
	if len(p.Changes) != 1 || p.Changes[0].Member != "alice@example.com" || p.Pending[0].Why != "removal pending (1 of 3 runs)" {
		t.Fatalf("run 3: alice is due, bob starts again: changes %v, pending %+v", p.Changes, p.Pending)
	}
	// A space not read keeps its counters.
	p = planOf(map[string][2]int{"spaces/A": {50, 1}})
	p.Spaces[0].Listed = false
	after := Decide(p, next, map[string]int{"s": 1}, three, t0.Add(3*time.Hour))
	if after.Absent["spaces/A"]["spaces/A/members/3"].Runs != 1 {
		t.Errorf("an unread space's counters were lost: %+v", after.Absent)
	}

	day := with(func(s *Settings) { s.Grace = config.Grace{Duration: 24 * time.Hour} })
	p, next = run(prev, day, t0, alice)
	if len(p.Pending) != 1 || p.Pending[0].Due != "2026-11-02T06:00:00Z" {
		t.Fatalf("duration: pending %+v", p.Pending)
	}
	if p, _ = run(next, day, t0.Add(23*time.Hour), alice); len(p.Pending) != 1 {
		t.Errorf("removed before the day was over")
	}
	if p, _ = run(next, day, t0.Add(25*time.Hour), alice); len(p.Changes) != 1 {
		t.Errorf("not removed once the day was over: %+v", p.Pending)
	}
	if p, _ = run(prev, defaults, t0, alice); len(p.Changes) != 1 || len(p.Pending) != 0 {
		t.Errorf("no grace: removed at once: %+v", p)
	}
}

func TestLastOwner(t *testing.T) {
	owner := del("spaces/A", "1", "owner@example.com", m.RoleOwner)
	second := del("spaces/A", "5", "second@example.com", m.RoleOwner)
	demote := diff.Change{Space: "spaces/A", Member: "owner@example.com", Principal: "users/1", Membership: "spaces/A/members/1",
		Action: diff.UpdateRole, FromRole: m.RoleOwner, ToRole: m.RoleMember}
	promote := diff.Change{Space: "spaces/A", Member: "bob@example.com", Principal: "users/3", Membership: "spaces/A/members/3",
		Action: diff.UpdateRole, FromRole: m.RoleMember, ToRole: m.RoleOwner}
	tests := []struct {
		name    string
		owners  int
		changes []diff.Change
		kept    int
	}{
		{"removing the only owner", 1, []diff.Change{owner}, 1},
		{"demoting the only owner", 1, []diff.Change{demote}, 1},
		{"an owner swap", 1, []diff.Change{promote, demote}, 0},
		{"removing both owners keeps one", 2, []diff.Change{owner, second}, 1},
		{"removing one of two owners", 2, []diff.Change{owner}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := diff.SpacePlan{Summary: diff.SpaceSummary{Name: "spaces/A", Current: 10, Owners: tt.owners, Listed: true}, Changes: slices.Clone(tt.changes)}
			GuardLastOwners(&sp)
			if len(sp.Protected) != tt.kept || len(sp.Changes) != len(tt.changes)-tt.kept {
				t.Errorf("protected %+v, changes %+v", sp.Protected, sp.Changes)
			}
			for _, k := range sp.Protected {
				if !strings.Contains(k.Why, "last owner") {
					t.Errorf("why %q", k.Why)
				}
			}
		})
	}
}

func TestStateParse(t *testing.T) {
	s := &State{Version: 1, Totals: map[string]int{"a": 1}, Absent: map[string]map[string]Absence{"spaces/A": {"spaces/A/members/2": {Member: "x", Runs: 2}}}, Saved: time.Unix(1e9, 0)}
	data, _ := s.Encode()
	back, err := ParseState(data)
	if err != nil || back.Absent["spaces/A"]["spaces/A/members/2"].Runs != 2 {
		t.Errorf("%v %+v", err, back)
	}
	// {"version":1} alone would read as "no totals": the shrink check off.
	for _, bad := range []string{"", "{", `{"version":2}`, "null", `{"version":1}`, `{"version":1,"totals":{},"absent":{}}`} {
		if _, err := ParseState([]byte(bad)); err == nil {
			t.Errorf("%q read as a state", bad)
		}
	}
}

func TestNewToSync(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	sync := func(spaces map[string][2]int, changes ...diff.Change) *diff.Plan {
		p := planOf(spaces, changes...)
		p.Policy = diff.Sync
		return p
	}
	big := map[string][2]int{"spaces/A": {100, 1}, "spaces/B": {100, 1}}
	synced := &State{Version: 1, Totals: map[string]int{"hr.csv": 100}, Synced: map[string]time.Time{"spaces/A": t0}}
	tests := []struct {
		name    string
		plan    *diff.Plan
		prev    *State
		st      Settings
		blocked string
		fresh   []string
	}{
		{"a synced space's removals go ahead", sync(big, deletes(2, "spaces/A")...), synced, defaults, "", []string{"spaces/B"}},
		{"a space added since stops, with its count", sync(big, deletes(2, "spaces/B")...), synced, defaults,
			"spaces new to policy sync (no completed sync run behind them): 2 members would be removed there (spaces/B: 2); read the plan, then rerun with --allow-removals 2",
			[]string{"spaces/B"}},
		{"the consent names every removal of the run", sync(big, append(deletes(1, "spaces/A"), deletes(2, "spaces/B")...)...), synced, defaults,
			"rerun with --allow-removals 3", []string{"spaces/B"}},
		{"--allow-removals consents", sync(big, deletes(2, "spaces/B")...), synced, with(func(s *Settings) { s.Allow = 2 }), "", []string{"spaces/B"}},
		{"a space switched to sync is new", func() *diff.Plan {
			p := planOf(big, deletes(1, "spaces/B")...)
			p.Policy, p.Spaces[1].Policy = diff.Upsert, diff.Sync
			return p
		}(), synced, defaults, "spaces/B: 1", []string{"spaces/B"}},
		{"a state from before spaces were recorded: each space confirmed once", sync(big, deletes(1, "spaces/A")...),
			&State{Version: 1, Totals: map[string]int{"hr.csv": 100}}, defaults, "did not record which spaces it synced", []string{"spaces/A", "spaces/B"}},
		{"a new space whose removals wait for grace is not blocked", sync(big, deletes(2, "spaces/B")...), synced,
			with(func(s *Settings) { s.Grace = config.Grace{Runs: 2} }), "", []string{"spaces/B"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Decide(tt.plan, tt.prev, map[string]int{"hr.csv": 100}, tt.st, t0.Add(time.Hour))
			got := strings.Join(tt.plan.Blocked, "\n")
			if tt.blocked == "" && got != "" || tt.blocked != "" && !strings.Contains(got, tt.blocked) {
				t.Errorf("blocked: %q\nwant %q", got, tt.blocked)
			}
			var fresh []string
			for _, s := range tt.plan.Spaces {
				if s.NewToSync {
					fresh = append(fresh, s.Name)
				}
			}
			if !reflect.DeepEqual(fresh, tt.fresh) {
				t.Errorf("new to sync: %v, want %v", fresh, tt.fresh)
			}
		})
	}
}

func TestSyncedCarriesOn(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	prev := &State{Version: 1, Totals: map[string]int{}, Synced: map[string]time.Time{"spaces/A": t0, "spaces/B": t0, "spaces/Other": t0, "spaces/Unread": t0}}
	p := planOf(map[string][2]int{"spaces/A": {10, 1}, "spaces/B": {10, 1}, "spaces/C": {10, 1}, "spaces/Unread": {10, 1}})
	p.Policy = diff.Sync
	p.Spaces[1].Policy = diff.Upsert // B switched away from sync
	p.Spaces[3].Listed = false
	later := t0.Add(time.Hour)
	next := Decide(p, prev, map[string]int{}, defaults, later)
	// Other is not this run's: another config may share the state location.
	want := map[string]time.Time{"spaces/A": t0, "spaces/C": later, "spaces/Other": t0, "spaces/Unread": t0}
	if !reflect.DeepEqual(next.Synced, want) {
		t.Errorf("synced %v\nwant   %v", next.Synced, want)
	}
	data, _ := next.Encode()
	back, err := ParseState(append([]byte(nil), data...))
	if err != nil || !reflect.DeepEqual(back.Synced, want) {
		t.Errorf("round trip: %v %v", err, back)
	}
}

// A space new to sync whose only removal the grace period holds has not
// been through the stop: it stays new, so the removal stops the run when it
// falls due, unless --allow-removals consented to the plan that showed it.
func TestSyncedWaitsForRemovalsTheGraceHolds(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	grace := with(func(s *Settings) { s.Grace = config.Grace{Runs: 2} })
	prev := &State{Version: 1, Totals: map[string]int{}, Absent: map[string]map[string]Absence{}, Saved: t0,
		Synced: map[string]time.Time{"spaces/Old": t0}}
	plan := func() *diff.Plan {
		p := planOf(map[string][2]int{"spaces/Old": {10, 1}, "spaces/New": {10, 1}}, del("spaces/New", "7", "e@example.com", m.RoleMember))
		p.Policy = diff.Sync
		return p
	}
	p := plan()
	next := Decide(p, prev, map[string]int{}, grace, t0.Add(time.Hour))
	if len(p.Blocked) != 0 || len(p.Pending) != 1 {
		t.Fatalf("run 1: blocked %v, pending %v", p.Blocked, p.Pending)
	}
	if _, ok := next.Synced["spaces/New"]; ok {
		t.Errorf("run 1 marked spaces/New synced with its removal still held: %v", next.Synced)
	}
	p = plan()
	Decide(p, next, map[string]int{}, grace, t0.Add(2*time.Hour))
	if got := strings.Join(p.Blocked, "; "); !strings.Contains(got, "spaces new to policy sync") || !strings.Contains(got, "spaces/New: 1") {
		t.Errorf("run 2, the removal due: blocked %q", got)
	}
	// --allow-removals on the run that holds it consents only if it covers
	// the held removal too.
	for allow, marked := range map[int]bool{0: false, 1: true} {
		p = plan()
		consent := grace
		consent.Allow = allow
		if next := Decide(p, prev, map[string]int{}, consent, t0.Add(time.Hour)); next.Synced["spaces/New"].IsZero() == marked {
			t.Errorf("--allow-removals %d: spaces/New marked synced %t, want %t", allow, !marked, marked)
		}
	}
	// Every sync space new with its removals held: the saved state says it
	// keeps per-space marks (none yet), so the stop that comes is not put
	// down to an older syncer.
	only := func() *diff.Plan {
		p := planOf(map[string][2]int{"spaces/New": {10, 1}}, del("spaces/New", "7", "e@example.com", m.RoleMember))
		p.Policy = diff.Sync
		return p
	}
	next = Decide(only(), nil, map[string]int{}, grace, t0)
	data, _ := next.Encode()
	back, _ := ParseState(data)
	p = only()
	Decide(p, back, map[string]int{}, grace, t0.Add(time.Hour))
	if got := strings.Join(p.Blocked, "; "); !strings.Contains(got, "spaces/New: 1") || strings.Contains(got, "did not record") {
		t.Errorf("the removal due after a first run that held it: %q", got)
	}
}

// A space new to sync whose last owner the guard keeps until a successor
// joins has a removal still to come: it stays new, so that removal stops
// the run when the successor has joined.
func TestSyncedWaitsForALastOwnerKept(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	prev := &State{Version: 1, Totals: map[string]int{}, Absent: map[string]map[string]Absence{}, Saved: t0, Synced: map[string]time.Time{}}
	sp := diff.SpacePlan{Summary: diff.SpaceSummary{Name: "spaces/N", Current: 3, Owners: 1, Listed: true},
		Changes: []diff.Change{del("spaces/N", "1", "old@example.com", m.RoleOwner),
			{Space: "spaces/N", Member: "inv@example.com", Principal: "users/3", Membership: "spaces/N/members/3", Action: diff.UpdateRole,
				FromRole: m.RoleMember, ToRole: m.RoleOwner, Invited: true}}}
	GuardLastOwners(&sp)
	if len(sp.Protected) != 1 || !sp.Protected[0].Deferred {
		t.Fatalf("protected %+v", sp.Protected)
	}
	p := &diff.Plan{Policy: diff.Sync, Spaces: []diff.SpaceSummary{sp.Summary}, Changes: sp.Changes, Protected: sp.Protected}
	if next := Decide(p, prev, map[string]int{}, defaults, t0.Add(time.Hour)); !next.Synced["spaces/N"].IsZero() {
		t.Errorf("spaces/N marked synced with its last owner's removal still to come: %v", next.Synced)
	}
}

func TestHandover(t *testing.T) {
	old := del("spaces/A", "1", "old@example.com", m.RoleOwner)
	create := diff.Change{Space: "spaces/A", Member: "new@example.com", Principal: "users/new@example.com", ID: "users/9", Action: diff.Create}
	promoteNew := diff.Change{Space: "spaces/A", Member: "new@example.com", Principal: "users/new@example.com", ID: "users/9",
		Action: diff.UpdateRole, FromRole: m.RoleMember, ToRole: m.RoleOwner}
	invited := promoteNew
	invited.Invited, invited.Principal, invited.Membership = true, "users/9", "spaces/A/members/9"
	tests := []struct {
		name      string
		invited   int // owners invited, not joined
		changes   []diff.Change
		successor m.Principal // on the old owner's removal; "" when it is kept
		why       string
	}{
		{"a successor created and promoted in the same run", 0, []diff.Change{create, promoteNew, old}, "users/new@example.com", ""},
		{"a successor still invited", 0, []diff.Change{invited, old}, "", "successor new@example.com is invited, not joined"},
		{"an invited owner can't stand in", 1, []diff.Change{old}, "", "the other owners have not accepted their invitations yet"},
		{"no successor", 0, []diff.Change{old}, "", "make someone else owner first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &diff.SpacePlan{Summary: diff.SpaceSummary{Name: "spaces/A", Current: 10, Owners: 1, InvitedOwners: tt.invited, Listed: true},
				Changes: slices.Clone(tt.changes)}
			GuardLastOwners(p)
			var removal *diff.Change
			for i, c := range p.Changes {
				if c.Action == diff.Delete {
					removal = &p.Changes[i]
				}
			}
			switch {
			case tt.successor != "" && (removal == nil || removal.Successor != tt.successor):
				t.Errorf("removal %+v, want it after %s", removal, tt.successor)
			case tt.successor == "" && (removal != nil || len(p.Protected) != 1 || !strings.Contains(p.Protected[0].Why, tt.why)):
				t.Errorf("removal %+v, protected %+v; want kept because %q", removal, p.Protected, tt.why)
			}
		})
	}
}

// The grace period counts a last owner's runs away while the guard keeps
// them: once the successor has joined, the removal is due at once.
func TestGraceCountsALastOwnerKept(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	grace := with(func(s *Settings) { s.Grace = config.Grace{Runs: 2} })
	prev := &State{Version: 1, Totals: map[string]int{}, Absent: map[string]map[string]Absence{}, Saved: t0, Synced: map[string]time.Time{"spaces/N": t0}}
	kept := diff.Kept{Space: "spaces/N", Member: "old@example.com", Membership: "spaces/N/members/1", Deferred: true}
	for run := 1; run <= 2; run++ {
		p := &diff.Plan{Policy: diff.Sync, Spaces: []diff.SpaceSummary{{Name: "spaces/N", Current: 3, Owners: 1, Listed: true}}, Protected: []diff.Kept{kept}}
		prev = Decide(p, prev, map[string]int{}, grace, t0.Add(time.Duration(run)*time.Hour))
	}
	p := planOf(map[string][2]int{"spaces/N": {3, 2}}, del("spaces/N", "1", "old@example.com", m.RoleOwner))
	p.Policy = diff.Sync
	Decide(p, prev, map[string]int{}, grace, t0.Add(3*time.Hour))
	if len(p.Changes) != 1 || len(p.Pending) != 0 {
		t.Errorf("after two runs kept, the removal: changes %v, pending %v", p.Changes, p.Pending)
	}
}

// A state saved now says its totals count members, not rows, and reads
// back so.
func TestASavedStateSaysItsTotalsAreDistinct(t *testing.T) {
	next := Decide(planOf(map[string][2]int{"spaces/A": {10, 1}}), nil, map[string]int{"hr.csv": 10}, defaults, time.Unix(1e9, 0))
	data, err := next.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if back, err := ParseState(data); err != nil || !back.Distinct {
		t.Errorf("read back %+v (%v), want distinct totals", back, err)
	}
}

// Configs may share a state location (README: they run one at a time).
// Each run's state must keep the other config's source totals, as it keeps
// the other's spaces: otherwise every run of one drops the other's totals
// and the shrink check never fires for either of them.
func TestTotalsOfAnotherConfigsSourcesAreKept(t *testing.T) {
	big := map[string][2]int{"spaces/A": {100, 1}, "spaces/B": {100, 1}}
	t0 := time.Unix(1e9, 0)
	// Config B's last run: b.csv gave 100 memberships.
	prev := &State{Version: 1, Totals: map[string]int{"b.csv": 100}, Absent: map[string]map[string]Absence{}, Saved: t0, Distinct: true}
	// Config A runs: its own source only.
	afterA := Decide(planOf(big), prev, map[string]int{"a.csv": 10}, defaults, t0.Add(time.Hour))
	if afterA.Totals["b.csv"] != 100 || afterA.Totals["a.csv"] != 10 {
		t.Fatalf("after config A's run the totals are %v, want b.csv's 100 kept beside a.csv's 10", afterA.Totals)
	}
	// Config B runs with b.csv cut to a tenth (a truncated export).
	plan := planOf(big)
	Decide(plan, afterA, map[string]int{"b.csv": 10}, defaults, t0.Add(2*time.Hour))
	if got := strings.Join(plan.Blocked, "\n"); !strings.Contains(got, "source b.csv shrank from 100 to 10") {
		t.Errorf("config B's truncated source: blocked %q, want the shrink check", got)
	}
}

// A space that left the sources is remembered (another config sharing the
// state may still read it), but not for ever: back after more than
// ForgetAfter, it is new to sync again and its members' time away starts
// over, rather than a member held on its first day being removed at once
// with no grace and no stop. Back sooner, it carries on.
func TestASpaceBackAfterLongIsNewAgain(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)
	day := with(func(s *Settings) { s.Grace = config.Grace{Duration: 72 * time.Hour} })
	alice := del("spaces/A", "2", "alice@example.com", m.RoleMember)
	syncPlan := func(spaces map[string][2]int, changes ...diff.Change) *diff.Plan {
		p := planOf(spaces, changes...)
		p.Policy = diff.Sync
		return p
	}
	// Day 0: A synced; alice held by the grace period.
	prev := &State{Version: 1, Totals: map[string]int{"s": 1}, Absent: map[string]map[string]Absence{}, Saved: t0.Add(-time.Hour),
		Synced: map[string]time.Time{"spaces/A": t0.Add(-time.Hour)}}
	p := syncPlan(map[string][2]int{"spaces/A": {50, 1}}, alice)
	next := Decide(p, prev, map[string]int{"s": 1}, day, t0)
	if len(p.Pending) != 1 {
		t.Fatalf("day 0: pending %+v", p.Pending)
	}
	// A leaves the sources; the runs go on with B alone.
	for d := 1; d <= 150; d += 7 {
		next = Decide(syncPlan(map[string][2]int{"spaces/B": {50, 1}}), next, map[string]int{"s": 1}, day, t0.Add(time.Duration(d)*24*time.Hour))
	}
	for _, tt := range []struct {
		name  string
		state *State
		at    time.Time
		fresh bool
	}{
		{"back after 150 days", next, t0.Add(151 * 24 * time.Hour), true},
		{"back after 10 days", func() *State {
			s := Decide(syncPlan(map[string][2]int{"spaces/B": {50, 1}}), prev, map[string]int{"s": 1}, day, t0)
			s.Absent["spaces/A"] = map[string]Absence{"spaces/A/members/2": {Member: "alice@example.com", Since: t0, Runs: 1}}
			s.Seen["spaces/A"] = t0
			return s
		}(), t0.Add(10 * 24 * time.Hour), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := syncPlan(map[string][2]int{"spaces/A": {50, 1}}, alice)
			Decide(p, tt.state, map[string]int{"s": 1}, day, tt.at)
			if tt.fresh {
				if !p.Spaces[0].NewToSync || len(p.Changes) != 0 || len(p.Pending) != 1 || p.Pending[0].Runs != 1 {
					t.Errorf("changes %v, pending %+v, new to sync %v; want alice held again from now, the space new", p.Changes, p.Pending, p.Spaces[0].NewToSync)
				}
				return
			}
			if p.Spaces[0].NewToSync || len(p.Changes) != 1 {
				t.Errorf("changes %v, pending %+v, new to sync %v; want alice removed, her grace over", p.Changes, p.Pending, p.Spaces[0].NewToSync)
			}
		})
	}
}

// A state saved before Seen was kept starts the clock at its Saved: its
// spaces are neither forgotten at once nor kept for ever.
func TestAStateWithoutSeenStartsTheClock(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)
	old := &State{Version: 1, Totals: map[string]int{"s": 1}, Absent: map[string]map[string]Absence{}, Saved: t0,
		Synced: map[string]time.Time{"spaces/Gone": t0.Add(-400 * 24 * time.Hour)}}
	plan := func() *diff.Plan { p := planOf(map[string][2]int{"spaces/B": {50, 1}}); p.Policy = diff.Sync; return p }
	next := Decide(plan(), old, map[string]int{"s": 1}, defaults, t0.Add(time.Hour))
	if _, ok := next.Synced["spaces/Gone"]; !ok || !next.Seen["spaces/Gone"].Equal(t0) {
		t.Fatalf("synced %v, seen %v; want spaces/Gone kept, seen at the old state's Saved", next.Synced, next.Seen)
	}
	next = Decide(plan(), next, map[string]int{"s": 1}, defaults, t0.Add(ForgetAfter+time.Hour))
	if _, ok := next.Synced["spaces/Gone"]; ok {
		t.Errorf("spaces/Gone still synced after %v unread: %v", ForgetAfter, next.Synced)
	}
}

// A state saved when totals counted rows, shared by two configs: the first
// run of one config after the upgrade must not drop the other's total (its
// next run would have no shrink check at all); that total, still in rows,
// is compared with that config's rows, repeats included.
func TestRowTotalsOfAnotherConfigAreKeptAsRows(t *testing.T) {
	big := map[string][2]int{"spaces/A": {100, 1}, "spaces/B": {100, 1}}
	t0 := time.Unix(1e9, 0)
	old := &State{Version: 1, Totals: map[string]int{"a.csv": 100, "b.csv": 100}, Absent: map[string]map[string]Absence{}, Saved: t0}
	afterA := Decide(planOf(big), old, map[string]int{"a.csv": 100}, defaults, t0.Add(time.Hour))
	if afterA.Totals["b.csv"] != 100 {
		t.Fatalf("after config A's run the totals are %v, want b.csv's 100 kept", afterA.Totals)
	}
	data, _ := afterA.Encode()
	afterA, err := ParseState(data)
	if err != nil {
		t.Fatal(err)
	}
	// Config B's export cut in half: blocked.
	plan := planOf(big)
	Decide(plan, afterA, map[string]int{"b.csv": 50}, defaults, t0.Add(2*time.Hour))
	if got := strings.Join(plan.Blocked, "\n"); !strings.Contains(got, "source b.csv shrank from 100 to 50") {
		t.Errorf("config B's truncated source: blocked %q, want the shrink check", got)
	}
	// Config B's export whole, 30 of its 100 rows repeats: rows against
	// rows, no shrink; and from then on b.csv's total is distinct.
	plan = planOf(big)
	next := Decide(plan, afterA, map[string]int{"b.csv": 70}, with(func(s *Settings) { s.Repeats = map[string]int{"b.csv": 30} }), t0.Add(2*time.Hour))
	if len(plan.Blocked) != 0 {
		t.Errorf("config B's whole source with repeats: blocked %q", plan.Blocked)
	}
	plan = planOf(big)
	Decide(plan, next, map[string]int{"b.csv": 70}, with(func(s *Settings) { s.Repeats = map[string]int{"b.csv": 30} }), t0.Add(3*time.Hour))
	if len(plan.Blocked) != 0 || next.Totals["b.csv"] != 70 {
		t.Errorf("config B's next run: totals %v, blocked %q", next.Totals, plan.Blocked)
	}
}

// A state whose totals are renamed (package job's prevKeys: a state saved
// when keys were absolute paths) renames its row marks and the files the
// totals were counted from with them: a renamed total of rows compared as
// distinct would block a whole source with repeats as a shrink.
func TestRenamedTotalsKeepTheirRowMarks(t *testing.T) {
	big := map[string][2]int{"spaces/A": {100, 1}, "spaces/B": {100, 1}}
	t0 := time.Unix(1e9, 0)
	prev := &State{Version: 1, Distinct: true, Absent: map[string]map[string]Absence{}, Saved: t0,
		Totals:      map[string]int{"a.csv": 100, "b.csv": 100},
		Rows:        []string{"/srv/sync/b.csv"},
		CountedFrom: map[string]string{"/srv/sync/b.csv": "/srv/sync/b.csv", "a.csv": "/srv/sync/a.csv"}}
	prev.RenameSources(map[string]string{"/srv/sync/b.csv": "b.csv"})
	if !slices.Equal(prev.Rows, []string{"b.csv"}) || prev.CountedFrom["b.csv"] != "/srv/sync/b.csv" || len(prev.CountedFrom) != 2 {
		t.Fatalf("after the rename rows %v, counted from %v; want b.csv in both", prev.Rows, prev.CountedFrom)
	}
	// b.csv whole, 30 of its 100 rows repeats: rows against rows, no shrink.
	plan := planOf(big)
	Decide(plan, prev, map[string]int{"b.csv": 70}, with(func(s *Settings) { s.Repeats = map[string]int{"b.csv": 30} }), t0.Add(time.Hour))
	if len(plan.Blocked) != 0 {
		t.Errorf("a whole source with repeats against its renamed row total: blocked %q", plan.Blocked)
	}
}

// A space's last read in the future (a run on a machine whose clock ran a
// year ahead) starts the clock at the first run that sees it so: not kept
// until the clock catches up, which would bring back what forgetting
// fixes (a member held on day 0 removed at once, months later, with no
// grace and no stop).
func TestASeenInTheFutureStartsTheClockNow(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)
	day := with(func(s *Settings) { s.Grace = config.Grace{Duration: 72 * time.Hour} })
	syncPlan := func(spaces map[string][2]int, changes ...diff.Change) *diff.Plan {
		p := planOf(spaces, changes...)
		p.Policy = diff.Sync
		return p
	}
	ahead := t0.Add(365 * 24 * time.Hour)
	next := &State{Version: 1, Totals: map[string]int{"s": 1}, Saved: ahead, Distinct: true,
		Synced: map[string]time.Time{"spaces/A": ahead},
		Absent: map[string]map[string]Absence{"spaces/A": {"spaces/A/members/2": {Member: "alice@example.com", Since: t0, Runs: 1}}},
		Seen:   map[string]time.Time{"spaces/A": ahead}}
	for d := 1; d <= 150; d += 7 {
		next = Decide(syncPlan(map[string][2]int{"spaces/B": {50, 1}}), next, map[string]int{"s": 1}, day, t0.Add(time.Duration(d)*24*time.Hour))
	}
	p := syncPlan(map[string][2]int{"spaces/A": {50, 1}}, del("spaces/A", "2", "alice@example.com", m.RoleMember))
	Decide(p, next, map[string]int{"s": 1}, day, t0.Add(151*24*time.Hour))
	if !p.Spaces[0].NewToSync || len(p.Changes) != 0 || len(p.Pending) != 1 {
		t.Errorf("changes %v, pending %+v, new to sync %v; want alice held again from now, the space new", p.Changes, p.Pending, p.Spaces[0].NewToSync)
	}
}

// A space this run reads that the state forgot (no saved run read it for
// ForgetAfter: a monthly schedule, a month of blocked runs) is new to sync
// again, and its grace counts start over; the report says why, rather
// than only "no completed sync run", which is not so.
func TestAForgottenSpaceIsNamedWithWhy(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)
	prev := &State{Version: 1, Totals: map[string]int{"s": 1}, Absent: map[string]map[string]Absence{}, Saved: t0, Distinct: true,
		Synced: map[string]time.Time{"spaces/A": t0, "spaces/Gone": t0}, Seen: map[string]time.Time{"spaces/A": t0, "spaces/Gone": t0}}
	p := planOf(map[string][2]int{"spaces/A": {50, 1}}, del("spaces/A", "2", "alice@example.com", m.RoleMember))
	p.Policy = diff.Sync
	Decide(p, prev, map[string]int{"s": 1}, defaults, t0.Add(31*24*time.Hour))
	if !p.Spaces[0].NewToSync {
		t.Fatalf("spaces/A not new to sync after 31 days unread")
	}
	got := strings.Join(p.Warnings, "\n")
	if !strings.Contains(got, "spaces/A") || !strings.Contains(got, "2026-06-01") || strings.Contains(got, "spaces/Gone") {
		t.Errorf("warnings %q; want spaces/A named as forgotten, last read 2026-06-01 (and not spaces/Gone, not in this plan)", got)
	}
}

// A run whose clock is behind the last run's starts a member's time away
// no earlier than that run: five days slow, it would otherwise have dated
// the absence five days back, and the next run, its clock right and one
// day later, removed the member under a 72h grace period.
func TestASlowClockDoesNotShortenTheGrace(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)
	grace := with(func(s *Settings) { s.Grace = config.Grace{Duration: 72 * time.Hour} })
	alice := del("spaces/A", "2", "alice@example.com", m.RoleMember)
	prev := &State{Version: 1, Totals: map[string]int{"s": 1}, Absent: map[string]map[string]Absence{}, Saved: t0,
		Synced: map[string]time.Time{"spaces/A": t0}, Seen: map[string]time.Time{"spaces/A": t0}}
	plan := func() *diff.Plan {
		p := planOf(map[string][2]int{"spaces/A": {50, 1}}, alice)
		p.Policy = diff.Sync
		return p
	}
	p := plan()
	next := Decide(p, prev, map[string]int{"s": 1}, grace, t0.Add(-5*24*time.Hour)) // the slow clock
	if len(p.Pending) != 1 {
		t.Fatalf("slow run: pending %+v", p.Pending)
	}
	p = plan()
	Decide(p, next, map[string]int{"s": 1}, grace, t0.Add(24*time.Hour))
	if len(p.Changes) != 0 || len(p.Pending) != 1 {
		t.Errorf("a day later: changes %v, pending %+v; want alice still held", p.Changes, p.Pending)
	}
}

// v0.1.0 (the first release) reads "totals" as rows, repeats included,
// and compares them with its own count of rows; it knows nothing of
// "distinct". A state this syncer saved, read by v0.1.0 after a rollback,
// must not hand it distinct totals: an export of 21 rows (11 people, each
// twice) cut to 15 rows passed v0.1.0's shrink check against 11, and
// removed 3 people it would have stopped for against its own 21. So
// "totals" stays rows, and the distinct totals go beside them.
func TestAStateRolledBackToV010KeepsRowTotals(t *testing.T) {
	type v010State struct { // internal/removals.State at 249af1f
		Version int                           `json:"version"`
		Totals  map[string]int                `json:"totals"`
		Absent  map[string]map[string]Absence `json:"absent"`
		Saved   time.Time                     `json:"saved"`
	}
	big := map[string][2]int{"spaces/A": {100, 1}, "spaces/B": {100, 1}}
	t0 := time.Unix(1e9, 0)
	repeats := with(func(s *Settings) { s.Repeats = map[string]int{"team.csv": 10} })
	// Another config's totals: old.csv from a state that counted rows.
	prev := &State{Version: 1, Totals: map[string]int{"old.csv": 40}, Absent: map[string]map[string]Absence{}, Saved: t0}
	next := Decide(planOf(big), prev, map[string]int{"team.csv": 11}, repeats, t0.Add(time.Hour))
	data, err := next.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var old v010State
	if err := json.Unmarshal(data, &old); err != nil || old.Version != 1 {
		t.Fatalf("v0.1.0 reads %+v (%v)", old, err)
	}
	if old.Totals["team.csv"] != 21 || old.Totals["old.csv"] != 40 {
		t.Errorf("v0.1.0 reads totals %v, want the rows: team.csv 21, old.csv 40", old.Totals)
	}
	// This syncer reads its distinct totals back, and its row marks.
	back, err := ParseState(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.Totals["team.csv"] != 11 || back.Totals["old.csv"] != 40 || !back.Distinct || !slices.Equal(back.Rows, []string{"old.csv"}) {
		t.Fatalf("read back totals %v, rows %v, distinct %v; want team.csv 11 distinct, old.csv 40 in rows", back.Totals, back.Rows, back.Distinct)
	}
	// A run of another config (team.csv not read) keeps team.csv's rows
	// for v0.1.0 too.
	other := Decide(planOf(big), back, map[string]int{"old.csv": 40}, defaults, t0.Add(2*time.Hour))
	data, _ = other.Encode()
	old = v010State{}
	if err := json.Unmarshal(data, &old); err != nil || old.Totals["team.csv"] != 21 {
		t.Errorf("after another config's run v0.1.0 reads totals %v (%v), want team.csv 21", old.Totals, err)
	}
	if back, err := ParseState(data); err != nil || back.Totals["team.csv"] != 11 {
		t.Errorf("after another config's run this syncer reads %+v (%v), want team.csv 11", back, err)
	}
	// The same export cut to 15 rows (8 people): stopped, as v0.1.0 would.
	plan := planOf(big)
	Decide(plan, back, map[string]int{"team.csv": 8}, with(func(s *Settings) { s.Repeats = map[string]int{"team.csv": 7} }), t0.Add(3*time.Hour))
	if got := strings.Join(plan.Blocked, "\n"); !strings.Contains(got, "source team.csv shrank from 11 to 8") {
		t.Errorf("blocked %q, want the shrink check", got)
	}
}
