package diff

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/syncer-dev/syncer/internal/membership"
)

// Compute returns the changes that make current equal desired under policy.
//
// A desired member matches a membership by canonical users/{id}, by the email
// the list response carried, or by current.Aliases (emails resolved
// elsewhere). Joined and invited memberships both count as present; apps are
// never touched; groups match by group ID. A desired manager or owner who is
// not yet a member gets a create and then an update_role, because the API
// creates every membership as ROLE_MEMBER.
func Compute(desired membership.Desired, current membership.Current, policy Policy) Plan {
	plan := Plan{Policy: policy, Changes: []Change{}, Warnings: []string{}, Incomplete: []string{}}
	idx := &spaceIndex{present: map[membership.Principal]int{}, seen: map[membership.Principal]int{}}
	for _, ds := range desired.Spaces {
		cs := current.Spaces[ds.Name]
		sum := SpaceSummary{Name: ds.Name, Label: ds.Label, Desired: len(ds.Members)}
		if cs == nil {
			// Not read: nothing is planned on a guess. The caller knows why
			// and says so; the summary shows Listed: false.
			plan.Spaces = append(plan.Spaces, sum)
			continue
		}
		sum.Type, sum.Current, sum.Listed = cs.Type, len(cs.Memberships), true
		if sum.Label == "" {
			sum.Label = cs.DisplayName
		}
		start := len(plan.Changes)
		idx.reset(cs)
		computeSpace(&plan, &sum, ds, cs, idx, &current, policy)
		space := plan.Changes[start:]
		slices.SortFunc(space, func(a, b Change) int {
			if c := cmp.Compare(a.Action.rank(), b.Action.rank()); c != 0 {
				return c
			}
			return cmp.Compare(a.Member, b.Member)
		})
		plan.Spaces = append(plan.Spaces, sum)
		plan.Summary.Unchanged += sum.Unchanged
		plan.Summary.InvitedPending += sum.InvitedPending
	}
	plan.Recount()
	return plan
}

// spaceIndex finds a space's memberships by principal or listed email. Its
// maps are cleared and reused from space to space: with 10,000 spaces,
// rebuilding them was most of the plan's garbage.
type spaceIndex struct {
	present map[membership.Principal]int // principal or users/{email} → index in Memberships
	seen    map[membership.Principal]int // resolved principal → index in the desired members
}

func (x *spaceIndex) reset(cs *membership.SpaceState) {
	clear(x.present)
	clear(x.seen)
	for i, m := range cs.Memberships {
		if m.Bot {
			if m.Principal == membership.App {
				x.present[m.Principal] = i // only ever matched as "app", never by email
			}
			continue // other apps are never ours to match
		}
		x.present[m.Principal] = i
		if m.Email != "" {
			x.present[membership.User(m.Email)] = i
		}
	}
}

func computeSpace(plan *Plan, sum *SpaceSummary, ds membership.DesiredSpace, cs *membership.SpaceState,
	idx *spaceIndex, current *membership.Current, policy Policy) {
	aliases := current.Aliases
	index, seen := idx.present, idx.seen
	named := cs.Type == "" || cs.Type == membership.TypeSpace
	for di, dm := range ds.Members {
		target := dm.Principal
		if email := target.Email(); email != "" {
			if canonical, ok := aliases[email]; ok {
				target = canonical
			}
		}
		i, present := index[target]
		if !present {
			i, present = index[dm.Principal]
		}
		if present {
			target = cs.Memberships[i].Principal
		}
		// Two desired spellings of one person (an email and an ID) make one change.
		if prevIndex, dup := seen[target]; dup {
			prev := ds.Members[prevIndex]
			if prev.Role != dm.Role && prev.Role != membership.RoleUnmanaged && dm.Role != membership.RoleUnmanaged {
				plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s: %s and %s (%s) are the same member of %s with different roles; keeping %s",
					dm.Source, dm.Principal.Display(), prev.Principal.Display(), prev.Source, ds.Name, prev.Role.UIName()))
			}
			continue
		}
		seen[target] = di

		if !named && (dm.Role.Elevated() || dm.Principal.IsGroup()) {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s: %s is a %s; only named spaces have managers, owners and groups, so the API will likely refuse %s",
				dm.Source, ds.Name, cs.Type, dm.Principal.Display()))
		}
		if !present && (current.Suspended[dm.Principal] || current.Suspended[target]) {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s: %s is suspended in the Directory; not added to %s",
				dm.Source, dm.Principal.Display(), ds.Name))
			continue
		}
		if !present {
			// Create by the address the source gave: people outside the
			// organisation can only be added as users/{email}, and inside it
			// the address is an alias of the ID. The ID stays for matching.
			change := newChange(ds.Name, dm, target)
			if dm.Principal.Email() != "" {
				change.Principal = dm.Principal
			}
			change.ResolvedBy = current.ResolvedBy[dm.Principal.Email()]
			create := change
			create.Action = Create
			create.ToRole = membership.RoleMember
			plan.Changes = append(plan.Changes, create)
			if dm.Role.Elevated() && policy != CreateOnly {
				change.Action, change.FromRole, change.ToRole = UpdateRole, membership.RoleMember, dm.Role
				plan.Changes = append(plan.Changes, change)
			}
			continue
		}
		m := cs.Memberships[i]
		invited := m.State == membership.StateInvited
		if invited {
			sum.InvitedPending++
		}
		if dm.Role == membership.RoleUnmanaged || dm.Role == m.Role || m.Principal.IsGroup() || policy == CreateOnly {
			if !invited {
				sum.Unchanged++
			}
			continue
		}
		change := newChange(ds.Name, dm, target)
		change.ResolvedBy = current.ResolvedBy[dm.Principal.Email()]
		if dm.Principal.Email() == "" && m.Email != "" {
			change.Member = m.Email // people read emails better than IDs
		}
		change.Action, change.Membership, change.FromRole, change.ToRole, change.Invited = UpdateRole, m.Name, m.Role, dm.Role, invited
		plan.Changes = append(plan.Changes, change)
	}
}

func newChange(space string, dm membership.DesiredMember, target membership.Principal) Change {
	c := Change{Space: space, Member: dm.Principal.Display(), Principal: target, Source: dm.Source.String()}
	if target.Email() == "" {
		c.ID = target
	}
	return c
}
