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
//     (owner > manager > member > none); on a tie, the first rule by file
//     name, then line.
//
// The member's source says which entry decided, e.g.
// rules.yaml:12 (group_members eng@example.com).
//
// Each file's total (what the shrink check compares from run to run) is
// its own: its named entries, plus the people its rules name in each space.
// Which entry decided a person's role never moves them between files.
func merge(d membership.Desired, answers map[string]found) membership.Desired {
	out := membership.Desired{Spaces: make([]membership.DesiredSpace, 0, len(d.Spaces)), Totals: map[string]int{}, Repeats: d.Repeats}
	for file, n := range d.Totals {
		out.Totals[file] = n
	}
	for _, s := range d.Spaces {
		if len(s.Rules) > 0 {
			named := map[string]map[membership.Principal]bool{} // by file: who its rules name here
			for _, r := range s.Rules {
				out.Totals[r.Source.File]-- // the rule's own entry: it counts as the people it names
				if named[r.Source.File] == nil {
					named[r.Source.File] = map[membership.Principal]bool{}
				}
				f := answers[r.Key()]
				if r.Kind == membership.RuleGroup {
					named[r.Source.File][f.group] = true
				}
				for _, p := range f.people {
					named[r.Source.File][p.id] = true
				}
			}
			for file, people := range named {
				out.Totals[file] += len(people)
			}
			s.Members = mergeSpace(s, answers)
			s.Rules = nil
		}
		out.Spaces = append(out.Spaces, s)
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
	slices.SortStableFunc(rules, func(a, b membership.Rule) int {
		return cmp.Or(cmp.Compare(a.Source.File, b.Source.File), cmp.Compare(a.Source.Line, b.Source.Line))
	})
	for _, r := range rules {
		f := answers[r.Key()]
		loc := r.Source
		loc.Via = r.Describe()
		src := membership.At(loc)
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
