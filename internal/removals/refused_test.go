package removals

import (
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/diff"
	m "github.com/syncer-dev/syncer/internal/membership"
)

// A removal Google refused is held (not asked, not counted) for a week,
// then asked again without being counted; one Google then makes is
// forgotten, and so is one in a space the state forgets.
func TestRefusedRemovals(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	sync := &State{Version: 1, Totals: map[string]int{"hr.csv": 100}, Absent: map[string]map[string]Absence{},
		Saved: t0, Synced: map[string]time.Time{"spaces/A": t0, "spaces/B": t0}}
	spaces := map[string][2]int{"spaces/A": {100, 1}, "spaces/B": {100, 1}}
	noRemovals := with(func(s *Settings) { s.MaxRemovals.N = 0 })

	// The first run: three removals made, Google keeps two.
	plan := planOf(spaces, deletes(3, "spaces/A")...)
	next := Decide(plan, sync, map[string]int{"hr.csv": 100}, defaults, t0)
	if len(plan.Blocked) != 0 || len(plan.Changes) != 3 {
		t.Fatalf("first run: %v, %d changes", plan.Blocked, len(plan.Changes))
	}
	for i := range plan.Changes[:2] {
		plan.Changes[i].Status, plan.Changes[i].GoogleKept, plan.Changes[i].Error = diff.Skipped, true, "Google kept this member (through groups/eng)"
	}
	plan.Changes[2].Status = diff.Applied
	next.NoteRefusals(plan.Changes, t0)
	data, err := next.Encode()
	if err != nil {
		t.Fatal(err)
	}
	prev, err := ParseState(data)
	if err != nil || len(prev.Refused["spaces/A"]) != 2 {
		t.Fatalf("the state keeps %v (%v)", prev.Refused, err)
	}

	// A day later: the two are not planned, nor counted (max_removals 0
	// would block them), and the report says why.
	t1 := t0.Add(24 * time.Hour)
	plan = planOf(spaces, deletes(2, "spaces/A")...)
	next = Decide(plan, prev, map[string]int{"hr.csv": 100}, noRemovals, t1)
	if len(plan.Blocked) != 0 || len(plan.Changes) != 0 || len(plan.Protected) != 2 || !strings.Contains(plan.Protected[0].Why, "Google refused this removal on 2001-09-09T01:46:40Z (Google kept this member (through groups/eng)); not asked again before 2001-09-16T01:46:40Z") {
		t.Fatalf("a day later: blocked %v, changes %v, protected %+v", plan.Blocked, plan.Changes, plan.Protected)
	}
	if len(next.Refused["spaces/A"]) != 2 {
		t.Fatalf("a day later, the state keeps %v", next.Refused)
	}
	// Another removal in the same space is counted as ever.
	plan = planOf(spaces, append(deletes(2, "spaces/A"), del("spaces/A", "7", "new@example.com", m.RoleMember))...)
	Decide(plan, prev, map[string]int{"hr.csv": 100}, noRemovals, t1)
	if got := strings.Join(plan.Blocked, ";"); !strings.Contains(got, "1 removals planned; safety.max_removals is 0") {
		t.Errorf("a new removal beside them: blocked %q", got)
	}

	// A week later: asked again, still not counted.
	t7 := t0.Add(RetryRefusedAfter)
	plan = planOf(spaces, deletes(2, "spaces/A")...)
	next = Decide(plan, prev, map[string]int{"hr.csv": 100}, noRemovals, t7)
	if len(plan.Blocked) != 0 || len(plan.Changes) != 2 || len(plan.Protected) != 0 {
		t.Fatalf("a week later: blocked %v, changes %v, protected %+v", plan.Blocked, plan.Changes, plan.Protected)
	}
	// The plan says which removals the rails leave uncounted, and why.
	if got := strings.Join(plan.Warnings, "\n"); !strings.Contains(got, "spaces/A: 2 removals Google refused a week or more ago (a member in the space through a Google Group) are asked again, not counted by the rails (counted when first made): u0@example.com, u1@example.com") {
		t.Errorf("a week later, the warnings: %q", got)
	}
	plan.Changes[0].Status = diff.AlreadyDone                                                               // gone with the group
	plan.Changes[1].Status, plan.Changes[1].GoogleKept, plan.Changes[1].Error = diff.Skipped, true, "again" // kept again
	next.NoteRefusals(plan.Changes, t7)
	r, ok := next.Refused["spaces/A"][plan.Changes[1].Membership]
	if len(next.Refused["spaces/A"]) != 1 || !ok || !r.Since.Equal(t0) || !r.Last.Equal(t7) || r.Why != "again" {
		t.Errorf("a week later, the state keeps %+v", next.Refused)
	}

	// A space this run did not read keeps its refusals; one the state
	// forgets (unread for ForgetAfter) loses them.
	plan = planOf(map[string][2]int{"spaces/B": {100, 1}})
	next = Decide(plan, prev, map[string]int{"hr.csv": 100}, defaults, t1)
	if len(next.Refused["spaces/A"]) != 2 {
		t.Errorf("a space not read: %v", next.Refused)
	}
	plan = planOf(map[string][2]int{"spaces/B": {100, 1}})
	next = Decide(plan, prev, map[string]int{"hr.csv": 100}, defaults, t0.Add(ForgetAfter))
	if len(next.Refused) != 0 {
		t.Errorf("a space forgotten: %v", next.Refused)
	}
}

// A plan file's state notes refusals as a run's does, as of when the plan
// was made, and is left as it is, byte for byte, when there are none.
func TestNoteRefusalsIn(t *testing.T) {
	s := &State{Version: 1, Totals: map[string]int{"hr.csv": 3}, Absent: map[string]map[string]Absence{}, Saved: time.Unix(1e9, 0), Distinct: true}
	data, _ := s.Encode()
	changes := deletes(1, "spaces/A")
	if out, err := NoteRefusalsIn(data, changes); err != nil || string(out) != string(data) {
		t.Errorf("nothing refused: %v\n%s", err, out)
	}
	changes[0].Status, changes[0].GoogleKept = diff.Skipped, true
	out, err := NoteRefusalsIn(data, changes)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseState(out)
	if r := got.Refused["spaces/A"][changes[0].Membership]; err != nil || len(got.Refused["spaces/A"]) != 1 || !r.Last.Equal(s.Saved) || got.Totals["hr.csv"] != 3 {
		t.Errorf("refused: %+v %v", got, err)
	}
}

// A refusal noted under a clock that was ahead (a year) is asked again a
// week after the first run whose clock is right, as its report says: the
// wait starts then, not again at every run until the clock reaches the
// noted date.
func TestRefusedRemovalNotedUnderAClockAhead(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	ahead := t0.Add(365 * 24 * time.Hour)
	prev := &State{Version: 1, Totals: map[string]int{"hr.csv": 100}, Absent: map[string]map[string]Absence{},
		Saved: t0, Synced: map[string]time.Time{"spaces/A": t0}}
	spaces := map[string][2]int{"spaces/A": {100, 1}}
	plan := planOf(spaces, deletes(1, "spaces/A")...)
	plan.Changes[0].Status, plan.Changes[0].GoogleKept, plan.Changes[0].Error = diff.Skipped, true, "kept"
	prev.NoteRefusals(plan.Changes, ahead)

	plan = planOf(spaces, deletes(1, "spaces/A")...)
	next := Decide(plan, prev, map[string]int{"hr.csv": 100}, defaults, t0)
	if len(plan.Changes) != 0 || len(plan.Protected) != 1 {
		t.Fatalf("the clock right again: changes %v, protected %+v", plan.Changes, plan.Protected)
	}
	due := t0.Add(RetryRefusedAfter).UTC().Format(time.RFC3339)
	if !strings.Contains(plan.Protected[0].Why, "not asked again before "+due) {
		t.Errorf("the report says %q, want not asked again before %s", plan.Protected[0].Why, due)
	}
	data, err := next.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if prev, err = ParseState(data); err != nil {
		t.Fatal(err)
	}
	plan = planOf(spaces, deletes(1, "spaces/A")...)
	Decide(plan, prev, map[string]int{"hr.csv": 100}, defaults, t0.Add(RetryRefusedAfter))
	if len(plan.Changes) != 1 || len(plan.Protected) != 0 {
		t.Errorf("a week after the clock was right (the date the report gave): changes %v, protected %+v", plan.Changes, plan.Protected)
	}
}
