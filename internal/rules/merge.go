package rules

import (
	"cmp"
	"slices"

	"github.com/syncer-dev/syncer/internal/membership"
)

// merge adds each space's rule expansions to its named members. Who wins:
//
//   - A person named by name (an email or an ID) with a role keeps it:
//     explicit beats a rule.
//   - A person named by name without a role takes the highest role any of
//     the space's rules gives them.
//   - A person only rules name takes the highest role among those rules
//     (owner > manager > member > none); on a tie, the first rule written.
//
// The member's source says which entry decided, e.g.
// rules.yaml:12 (group_members eng@example.com).
func merge(d membership.Desired, answers map[string]found) membership.Desired {
	out := membership.Desired{Spaces: make([]membership.DesiredSpace, 0, len(d.Spaces)), Totals: map[string]int{}}
	for _, s := range d.Spaces {
		if len(s.Rules) > 0 {
			s.Members = mergeSpace(s, answers)
			s.Rules = nil
		}
		for _, m := range s.Members {
			out.Totals[m.Source.File]++
		}
		out.Spaces = append(out.Spaces, s)
	}
	// A source that named nothing after all (only empty rules) still counts.
	for file := range d.Totals {
		if _, ok := out.Totals[file]; !ok {
			out.Totals[file] = 0
		}
	}
	return out
}

func mergeSpace(s membership.DesiredSpace, answers map[string]found) []membership.DesiredMember {
	members := slices.Clone(s.Members)
	at := map[membership.Principal]int{}   // by users/{email}, users/{id}, groups/{id}
	explicit := make([]bool, len(members)) // named with a role of their own
	for i, m := range members {
		at[m.Principal] = i
		explicit[i] = m.Role != membership.RoleUnmanaged
	}
	rules := slices.Clone(s.Rules)
	slices.SortStableFunc(rules, func(a, b membership.Rule) int { return cmp.Compare(a.Source.Line, b.Source.Line) })
	for _, r := range rules {
		f := answers[r.Key()]
		src := r.Source
		src.Via = r.Describe()
		if r.Kind == membership.RuleGroup {
			if _, ok := at[f.group]; !ok {
				at[f.group] = len(members)
				members = append(members, membership.DesiredMember{Principal: f.group, Source: src})
			}
			continue
		}
		for _, p := range f.people {
			byEmail := membership.User(p.email)
			i, ok := at[byEmail]
			if !ok {
				i, ok = at[p.id]
			}
			if !ok {
				at[byEmail], at[p.id] = len(members), len(members)
				members = append(members, membership.DesiredMember{Principal: byEmail, Role: r.Role, Source: src})
				continue
			}
			m := &members[i]
			switch {
			case i < len(explicit) && explicit[i]:
				// Named with a role: it stands.
			case r.Role.Rank() > m.Role.Rank():
				m.Role, m.Source = r.Role, src
			}
		}
	}
	slices.SortFunc(members, func(a, b membership.DesiredMember) int { return cmp.Compare(a.Principal, b.Principal) })
	return members
}
