package removals

// Removals Google refused: a member in a space through a Google Group
// can't be removed directly (FAILED_PRECONDITION), and where the syncer
// can't see the group (app authentication lists no groups and has no
// Directory) it would plan them again every run, each counted against
// max_removals and max_removal_percent: past them, every run blocks. The
// state remembers each refusal; later runs list the member under "Not
// removed" and don't ask again until RetryRefusedAfter.

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/syncer-dev/syncer/internal/diff"
)

// Refusal is one removal Google refused.
type Refusal struct {
	Member string `json:"member"`
	// Since is when Google first refused it, Last when it was last asked.
	Since time.Time `json:"since"`
	Last  time.Time `json:"last"`
	// Why is what the run reported: Google's words among them.
	Why string `json:"why"`
}

// RetryRefusedAfter is how long a refused removal waits before Google is
// asked again: the member may have left the group and stayed in the space
// some other way. A retry is not counted by the rails (the removal was
// counted, and passed them, when it was first made).
const RetryRefusedAfter = 7 * 24 * time.Hour

// holdRefused moves the due removals Google refused within
// RetryRefusedAfter from plan.Changes to plan.Protected, and carries
// what prev knew of them (and of the spaces this run did not read) into
// next. It returns the removals asked again (by membership name), which
// the rails don't count.
func holdRefused(plan *diff.Plan, prev, next *State, now time.Time) map[string]bool {
	if prev == nil || len(prev.Refused) == 0 {
		return nil
	}
	read := map[string]bool{}
	for _, s := range plan.Spaces {
		read[s.Name] = s.Listed
	}
	for space, refused := range prev.Refused {
		if !read[space] {
			next.refuse(space, refused)
		}
	}
	kept := plan.Changes[:0]
	retried := map[string]bool{}
	asked := map[string][]string{} // the members asked again, by space
	for _, c := range plan.Changes {
		r, ok := prev.Refused[c.Space][c.Membership]
		if c.Action != diff.Delete || c.Membership == "" || !ok {
			kept = append(kept, c)
			continue
		}
		on, last := r.Last, r.Last
		if last.After(now) {
			// A clock ahead then: the wait starts now, and the state says
			// so (kept, each run would start it again until the clock
			// reached the noted date).
			last, r.Last = now, now
		}
		next.refuse(c.Space, map[string]Refusal{c.Membership: r})
		if now.Sub(last) >= RetryRefusedAfter {
			retried[c.Membership] = true
			asked[c.Space] = append(asked[c.Space], c.Member)
			kept = append(kept, c)
			continue
		}
		plan.Protected = append(plan.Protected, diff.Kept{Space: c.Space, Member: c.Member, Membership: c.Membership, Reason: c.Reason,
			Why: fmt.Sprintf("Google refused this removal on %s (%s); not asked again before %s",
				on.UTC().Format(time.RFC3339), r.Why, last.Add(RetryRefusedAfter).UTC().Format(time.RFC3339))})
	}
	plan.Changes = kept
	// The plan lists them as any removal: say why the rails' counts leave
	// them out.
	for _, space := range slices.Sorted(maps.Keys(asked)) {
		n := fmt.Sprintf("%d removals Google refused a week or more ago (a member in the space through a Google Group) are", len(asked[space]))
		if len(asked[space]) == 1 {
			n = "1 removal Google refused a week or more ago (a member in the space through a Google Group) is"
		}
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s: %s asked again, not counted by the rails (counted when first made): %s", space, n, FirstFew(asked[space])))
	}
	return retried
}

// refuse records refusals for a space.
func (s *State) refuse(space string, refused map[string]Refusal) {
	if s.Refused == nil {
		s.Refused = map[string]map[string]Refusal{}
	}
	if s.Refused[space] == nil {
		s.Refused[space] = map[string]Refusal{}
	}
	for name, r := range refused {
		s.Refused[space][name] = r
	}
}

// NoteRefusals records the outcome of an apply's removals: those Google
// kept (diff.Change.GoogleKept) are refused as of now, those made or found
// done are forgotten.
func (s *State) NoteRefusals(changes []diff.Change, now time.Time) {
	for _, c := range changes {
		if c.Action != diff.Delete || c.Membership == "" {
			continue
		}
		switch {
		case c.GoogleKept:
			r, ok := s.Refused[c.Space][c.Membership]
			if !ok {
				r.Since = now
			}
			r.Member, r.Last, r.Why = c.Member, now, c.Error
			s.refuse(c.Space, map[string]Refusal{c.Membership: r})
		case c.Status == diff.Applied || c.Status == diff.AlreadyDone:
			delete(s.Refused[c.Space], c.Membership)
			if len(s.Refused[c.Space]) == 0 {
				delete(s.Refused, c.Space)
			}
		}
	}
}

// NoteRefusalsIn is NoteRefusals on an encoded state (a plan file's), as
// of the state's own time (when the plan was made: the same plan applied
// again notes the same, and finds the state saved already); the state as
// it was when nothing needs noting.
func NoteRefusalsIn(data []byte, changes []diff.Change) ([]byte, error) {
	noted := false
	for _, c := range changes {
		noted = noted || c.GoogleKept
	}
	if !noted {
		return data, nil
	}
	s, err := ParseState(data)
	if err != nil {
		return nil, err
	}
	s.NoteRefusals(changes, s.Saved)
	return s.Encode()
}
