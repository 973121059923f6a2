package removals

// What the removals state remembers from run to run, and for how long:
// the sources' totals (and the files they were counted from), the
// members away from the sources, the spaces synced and when each was
// last read.

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/syncer-dev/syncer/internal/diff"
)

// State is what removals carry from one run to the next.
type State struct {
	Version int `json:"version"`
	// Totals are the memberships each source gave in the last run that
	// completed, by the source's path.
	Totals map[string]int `json:"totals"`
	// Absent are the members no source wants, by space and membership
	// name: since when, and for how many consecutive runs.
	Absent map[string]map[string]Absence `json:"absent"`
	Saved  time.Time                     `json:"saved"`
	// Synced are the spaces with a completed sync run behind them, and
	// since when. A space under policy sync that is not here (new to the
	// sources, switched to sync, or a state saved by a syncer that did not
	// keep this) has its removals confirmed first, as on a first run.
	Synced map[string]time.Time `json:"synced"`
	// Distinct: the totals count a member a source repeats once. A state
	// without it counted rows.
	Distinct bool `json:"distinct,omitempty"`
	// Rows are the sources whose total (kept for another config sharing
	// the state) was carried over from a state that counted rows: compared
	// with that source's rows, until a run reads it again.
	Rows []string `json:"rows,omitempty"`
	// Seen is when a run last read each space Synced or Absent names. A
	// space no run has read for ForgetAfter (it left the sources) loses
	// its mark and its members' time away: back in the sources, it is new
	// to sync again, and the grace period starts over. A state without it
	// starts the clock at its Saved.
	Seen map[string]time.Time `json:"seen,omitempty"`
	// CountedFrom is the file (its absolute path) each total was counted
	// from: two configs sharing the state whose sources have one name
	// relative to their folders (eng/members.csv and sales/members.csv)
	// would each compare its source with the other's total.
	CountedFrom map[string]string `json:"counted_from,omitempty"`
	// RowTotals are the totals with the rows each source repeated
	// counted, by source (this run's Totals plus its Repeats; the last
	// state's for totals carried over). The document's "totals" holds
	// them, and "distinct_totals" the Totals: syncer v0.1.0 reads
	// "totals" as rows and compares them with its own count of rows, so
	// after a rollback a distinct total there would let an export cut
	// short past its shrink check. Nil when the document did not say.
	RowTotals map[string]int `json:"-"`
	// API is what the runs that saved the state called: APIGoogle, or
	// the endpoint of another (an emulator), whose spaces and members are
	// another world's. A state saved before it was kept says neither.
	API string `json:"api,omitempty"`
	// Refused are the removals Google refused (a member in the space
	// through a Google Group), by space and membership name: not asked
	// again for RetryRefusedAfter.
	Refused map[string]map[string]Refusal `json:"refused,omitempty"`
}

// APIGoogle is State.API for Google's own APIs.
const APIGoogle = "google"

// ForgetAfter is how long a space may go unread (out of every source that
// shares the state location) before what the state knows of it is
// forgotten: a space back in the sources after months was last confirmed
// by nobody who remembers, and a member "away" all that time was away from
// sources that did not name the space at all.
const ForgetAfter = 30 * 24 * time.Hour

// lastSeen is when a run last read the space, as this state knows it: a
// state saved before Seen was kept says its Saved (the clock starts then),
// and one with neither, now.
func (s *State) lastSeen(name string, now time.Time) time.Time {
	if t, ok := s.Seen[name]; ok {
		return t
	}
	if !s.Saved.IsZero() {
		return s.Saved
	}
	return now
}

// forgetUnseen is prev without the spaces no run has read for
// ForgetAfter: their sync marks and their members' time away. Every space
// it keeps has its Seen, none after now.
func forgetUnseen(prev *State, now time.Time) (*State, map[string]time.Time) {
	if prev == nil {
		return nil, nil
	}
	forgot := map[string]time.Time{}
	p := *prev
	p.Synced, p.Absent, p.Seen = maps.Clone(prev.Synced), maps.Clone(prev.Absent), map[string]time.Time{}
	p.Refused = maps.Clone(prev.Refused)
	for _, names := range []map[string]time.Time{prev.Synced, absentSpaces(prev)} {
		for name := range names {
			seen := prev.lastSeen(name, now)
			if seen.After(now) {
				// Read in the future (a clock ahead): the clock starts
				// now, not when this one catches up.
				seen = now
			}
			if now.Sub(seen) >= ForgetAfter {
				delete(p.Synced, name)
				delete(p.Absent, name)
				delete(p.Refused, name)
				forgot[name] = seen
				continue
			}
			p.Seen[name] = seen
		}
	}
	if prev.Synced == nil {
		p.Synced = nil // "did not record which spaces it synced" stays so
	}
	return &p, forgot
}

// sayForgotten warns of the spaces this run reads under sync that the
// state forgot: new to sync again, their grace counts starting over,
// though a run did sync them once.
func sayForgotten(plan *diff.Plan, forgot map[string]time.Time) {
	for _, s := range plan.Spaces {
		if t, ok := forgot[s.Name]; ok && s.Listed && syncs(plan, s) {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s: no saved run had read it since %s (%d days or more), so the removals state forgot it: it is new to policy sync again, and the grace period's counts of its members start over",
				s.Name, t.UTC().Format(time.RFC3339), int(ForgetAfter/(24*time.Hour))))
		}
	}
}

func absentSpaces(s *State) map[string]time.Time {
	out := make(map[string]time.Time, len(s.Absent))
	for name := range s.Absent {
		out[name] = time.Time{}
	}
	return out
}

// seen is the next state's Seen: now for the spaces this run read, as
// prev knew it for the others it still names.
func seen(plan *diff.Plan, prev, next *State, now time.Time) map[string]time.Time {
	read := map[string]bool{}
	for _, s := range plan.Spaces {
		read[s.Name] = s.Listed
	}
	out := map[string]time.Time{}
	for _, names := range []map[string]time.Time{next.Synced, absentSpaces(next)} {
		for name := range names {
			switch t, ok := prev.seenAt(name); {
			case read[name] || !ok:
				out[name] = now
			default:
				out[name] = t
			}
		}
	}
	return out
}

func (s *State) seenAt(name string) (time.Time, bool) {
	if s == nil {
		return time.Time{}, false
	}
	t, ok := s.Seen[name]
	return t, ok
}

// Absence is one member's time away from the sources.
type Absence struct {
	Member string    `json:"member"`
	Since  time.Time `json:"since"`
	Runs   int       `json:"runs"`
}

// ParseState reads a saved state; anything it can't read is an error,
// never "no previous state" (that would switch the rails off).
func ParseState(data []byte) (*State, error) {
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("not a syncer state: %w", err)
	}
	if s.Version != 1 {
		return nil, fmt.Errorf("state version %d is not one this syncer reads (1)", s.Version)
	}
	// A state without its totals would switch the shrink check off.
	if s.Totals == nil || s.Absent == nil || s.Saved.IsZero() {
		return nil, fmt.Errorf("not a complete syncer state (totals, absent and saved are required)")
	}
	var distinct struct {
		Totals map[string]int `json:"distinct_totals"`
	}
	if err := json.Unmarshal(data, &distinct); err != nil {
		return nil, fmt.Errorf("not a syncer state: %w", err)
	}
	if distinct.Totals != nil {
		if !s.Distinct {
			// Rows compared with distinct totals would hide a shrink.
			return nil, fmt.Errorf("not a complete syncer state (distinct_totals without distinct: true)")
		}
		s.RowTotals, s.Totals = s.Totals, distinct.Totals
	}
	return &s, nil
}

// Encode writes a state: "totals" in rows, as syncer v0.1.0 reads them,
// and the distinct totals beside them (RowTotals).
func (s *State) Encode() ([]byte, error) {
	type plain State // without this method
	doc := struct {
		plain
		Totals         map[string]int `json:"totals"`
		DistinctTotals map[string]int `json:"distinct_totals,omitempty"`
	}{plain: plain(*s), Totals: s.Totals}
	if s.Distinct {
		doc.Totals, doc.DistinctTotals = s.rowTotals(), s.Totals
	}
	return json.MarshalIndent(doc, "", " ")
}

// rowTotals are Totals with each source's repeated rows counted, where
// the state knows them.
func (s *State) rowTotals() map[string]int {
	out := make(map[string]int, len(s.Totals))
	for path, n := range s.Totals {
		if r, ok := s.RowTotals[path]; ok {
			n = r
		}
		out[path] = n
	}
	return out
}

// rowTotals are the next state's RowTotals: this run's totals with its
// repeats, the last state's rows for the totals carried over.
func rowTotals(prev *State, kept, mine, repeats map[string]int) map[string]int {
	out := make(map[string]int, len(kept))
	for path, n := range kept {
		if _, ok := mine[path]; ok {
			n += repeats[path]
		} else if r, ok := prev.rowTotalOf(path); ok {
			n = r
		}
		out[path] = n
	}
	return out
}

func (s *State) rowTotalOf(path string) (int, bool) {
	if s == nil {
		return 0, false
	}
	n, ok := s.RowTotals[path]
	return n, ok
}

// countedFrom is the next state's CountedFrom: this run's files for its
// totals, the last state's word for those carried over.
func countedFrom(prev *State, kept, mine map[string]int, files map[string]string) map[string]string {
	out := map[string]string{}
	for path := range kept {
		switch _, ok := mine[path]; {
		case ok && files[path] != "":
			out[path] = files[path]
		case !ok && prev != nil && prev.CountedFrom[path] != "":
			out[path] = prev.CountedFrom[path]
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// keptTotals are this run's source totals, and those of the sources it
// did not read that the last state counted: another config may keep its
// state in the same location, and its shrink check needs them (as its
// spaces keep their marks). It also returns which of those count rows (a
// state saved when totals counted rows): they are compared with rows.
func keptTotals(prev *State, totals map[string]int) (map[string]int, []string) {
	if prev == nil {
		return totals, nil
	}
	out := maps.Clone(totals)
	if out == nil {
		out = map[string]int{}
	}
	rows := prev.rowCounted()
	var kept []string
	for path, n := range prev.Totals {
		if _, ok := out[path]; !ok {
			out[path] = n
			if rows[path] {
				kept = append(kept, path)
			}
		}
	}
	sort.Strings(kept)
	return out, kept
}

// RenameSources gives the state's other records of a source (which totals
// count rows, the file each was counted from) the names its totals were
// given (old to new; prevKeys in package job): a source whose total was
// renamed but not its row mark would be compared, distinct, with rows.
func (s *State) RenameSources(renamed map[string]string) {
	if s == nil || len(renamed) == 0 {
		return
	}
	for i, path := range s.Rows {
		if to, ok := renamed[path]; ok {
			s.Rows[i] = to
		}
	}
	for from, to := range renamed {
		if n, ok := s.RowTotals[from]; ok {
			delete(s.RowTotals, from)
			if _, taken := s.RowTotals[to]; !taken {
				s.RowTotals[to] = n
			}
		}
		if f, ok := s.CountedFrom[from]; ok {
			delete(s.CountedFrom, from)
			if _, taken := s.CountedFrom[to]; !taken {
				s.CountedFrom[to] = f
			}
		}
	}
}

// rowCounted are the sources whose total counts rows, not distinct
// memberships: all of a state saved before totals were distinct.
func (s *State) rowCounted() map[string]bool {
	out := map[string]bool{}
	for path := range s.Totals {
		if !s.Distinct || slices.Contains(s.Rows, path) {
			out[path] = true
		}
	}
	return out
}

func (s *State) synced() map[string]time.Time {
	if s == nil {
		return nil
	}
	return s.Synced
}
