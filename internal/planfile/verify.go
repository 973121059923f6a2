package planfile

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/membership"
)

// Verdict is what re-listing one touched space found.
type Verdict struct {
	Space string
	// Moved lists what changed in the space since the plan that the plan's
	// own changes don't explain ("2 members added: a@x, b@x"); any entry
	// means the plan must not be applied.
	Moved []string
	// Done marks, by index into the space's changes, those already in
	// effect: a rerun after a partial apply does not make them again.
	Done []bool
	// Names gives a role change whose member the plan had to create the
	// membership name the listing now shows.
	Names map[int]string
}

// Check compares a space as recorded with its memberships now, given the
// plan's changes for it.
//
// Each change is done when its effect is visible: a create when the member
// is in the space and was not before, a role change when the membership
// has the planned role, a removal when the membership is gone. The space
// has moved when anything differs from the record that no done change
// explains: someone added or removed by hand, a role changed to something
// the plan did not set, an invitation accepted (a state change). A space
// that moved is never applied, whatever the change: the plan was reviewed
// against what was recorded.
//
// known maps addresses a create was made by (users/{email}) to the member
// the space now answers for them, when the plan had no ID for the person
// and the list shows no email: the caller asks the space.
func Check(rec Space, now []membership.Membership, changes []diff.Change, known map[membership.Principal]membership.Principal) Verdict {
	v := Verdict{Space: rec.Name, Done: make([]bool, len(changes)), Names: map[int]string{}}
	before := map[string]Member{}
	for _, m := range rec.Memberships {
		before[m.Name] = m
	}
	after := map[string]Member{}
	for _, m := range Members(now) {
		after[m.Name] = m
	}
	explained := map[string]bool{} // memberships whose every difference a done change explains
	created := map[membership.Principal]string{}
	roleSet := map[string]membership.Role{} // membership → the role a done change set
	for i, c := range changes {
		switch c.Action {
		case diff.Create:
			if name := findNew(before, after, c, known[c.Principal]); name != "" {
				v.Done[i] = true
				explained[name] = true
				created[c.Principal] = name
				roleSet[name] = membership.RoleMember // every create yields a member
			}
		case diff.UpdateRole:
			name := c.Membership
			if name == "" {
				name = created[c.Principal]
				if name != "" {
					v.Names[i] = name
				}
			}
			if m, ok := after[name]; ok && name != "" && m.Role == c.ToRole {
				v.Done[i] = true
				roleSet[name] = c.ToRole
			}
		case diff.Delete:
			if _, ok := after[c.Membership]; !ok {
				v.Done[i] = true
				explained[c.Membership] = true
			}
		}
	}
	var added, removed, roles, states []string
	for name, m := range after {
		b, was := before[name]
		switch {
		case !was && !explained[name]:
			added = append(added, who(m))
		case !was:
			// A create yields a member (a group: no role to speak of); any
			// other role is someone else's doing.
			if m.Role != roleSet[name] && m.Role.UIName() != "" && !m.Member.IsGroup() {
				roles = append(roles, fmt.Sprintf("%s: %s", who(m), m.Role.UIName()))
			}
		default:
			if b.Role != m.Role && roleSet[name] != m.Role {
				roles = append(roles, fmt.Sprintf("%s: %s → %s", who(m), uiName(b.Role), uiName(m.Role)))
			}
			if b.State != m.State {
				states = append(states, fmt.Sprintf("%s: %s → %s", who(m), b.State, m.State))
			}
		}
	}
	for name, b := range before {
		if _, still := after[name]; !still && !explained[name] {
			removed = append(removed, who(b))
		}
	}
	add := func(list []string, one, many string) {
		if len(list) == 0 {
			return
		}
		word := many
		if len(list) == 1 {
			word = one
		}
		slices.Sort(list)
		v.Moved = append(v.Moved, fmt.Sprintf("%d %s (%s)", len(list), word, strings.Join(list, ", ")))
	}
	add(added, "member added", "members added")
	add(removed, "member removed", "members removed")
	add(roles, "role changed", "roles changed")
	add(states, "membership state changed", "membership states changed")
	return v
}

// findNew finds the membership a create made: one in the space now that
// was not before, for the change's member by ID or by email.
func findNew(before, after map[string]Member, c diff.Change, asked membership.Principal) string {
	email := ""
	if !c.Principal.IsGroup() && strings.Contains(c.Principal.ID(), "@") {
		email = strings.ToLower(c.Principal.ID())
	}
	for name, m := range after {
		if _, was := before[name]; was {
			continue
		}
		if m.Member == c.Principal || c.ID != "" && m.Member == c.ID || email != "" && m.Email == email || asked != "" && m.Member == asked {
			return name
		}
	}
	return ""
}

func who(m Member) string {
	switch {
	case m.Email != "":
		return m.Email
	case m.App:
		return "the app"
	}
	return string(m.Member)
}

func uiName(r membership.Role) string {
	if n := r.UIName(); n != "" {
		return n
	}
	return "no role"
}

// ErrStale marks a plan too old, or not yet made, by the clock.
var ErrStale = errors.New("the plan is stale")

// CheckAge refuses a plan older than maxAge, or made more than a few
// minutes in the future (a clock out of step).
func (f *File) CheckAge(now time.Time, maxAge time.Duration) error {
	const skew = 5 * time.Minute
	age := now.Sub(f.Created)
	switch {
	case age < -skew:
		return fmt.Errorf("%w: it was made %s in the future (%s); check the clocks", ErrStale, (-age).Round(time.Second), f.Created.Format(time.RFC3339))
	case age > maxAge:
		return fmt.Errorf("%w: it was made %s ago (%s), more than plan.max_age (%s); make a new plan and review it", ErrStale, roundAge(age), f.Created.Format(time.RFC3339), maxAge)
	}
	return nil
}

// Unmatched are the creates Check could not find in the space, by the
// address they were made with: the caller may ask the space who they are.
func Unmatched(v Verdict, changes []diff.Change) []membership.Principal {
	var out []membership.Principal
	for i, c := range changes {
		if c.Action == diff.Create && !v.Done[i] && !c.Principal.IsGroup() && strings.Contains(c.Principal.ID(), "@") {
			out = append(out, c.Principal)
		}
	}
	return out
}

// roundAge shortens an age for a message without rounding it under a limit.
func roundAge(d time.Duration) time.Duration {
	switch {
	case d >= time.Hour:
		return d.Truncate(time.Minute)
	case d >= time.Minute:
		return d.Truncate(time.Second)
	}
	return d.Truncate(time.Millisecond)
}
