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
	planner := NewPlanner(policy)
	ids := Identities{Aliases: current.Aliases, Suspended: current.Suspended, ResolvedBy: current.ResolvedBy}
	spaces := make([]SpacePlan, 0, len(desired.Spaces))
	for _, ds := range desired.Spaces {
		spaces = append(spaces, planner.Space(ds, current.Spaces[ds.Name], ids))
	}
	return Assemble(policy, spaces)
}

// Identities is what identity resolution learned beyond a space's own list:
// emails matched to canonical principals, suspended users, and how each
// email was matched (list, cache, directory, member-get).
type Identities struct {
	Aliases    map[string]membership.Principal
	Suspended  map[membership.Principal]bool
	ResolvedBy map[string]string
}

// SpacePlan is one space's part of a plan.
type SpacePlan struct {
	Summary   SpaceSummary
	Changes   []Change // creates, then role changes, then deletes; by member within each
	Warnings  []string
	Protected []Kept // removal candidates never removed
	// Conflicts are spellings of one person the sources give different
	// roles: the plan can't honour both, so it is incomplete.
	Conflicts []string
	// Incomplete says what else this space's plan could not see.
	Incomplete []string
}

// Planner plans one space at a time. It is pure like Compute; it only
// recycles its index maps between spaces (with 10,000 spaces, rebuilding
// them was most of the plan's garbage), so use one per goroutine.
type Planner struct {
	policy Policy
	// RemoveSuspended: under policy sync, members the Directory reports
	// suspended are removed even where a source lists them.
	RemoveSuspended bool
	idx             spaceIndex
}

// NewPlanner returns a planner for policy.
func NewPlanner(policy Policy) *Planner {
	return &Planner{policy: policy, idx: spaceIndex{present: map[membership.Principal]int{}, seen: map[membership.Principal]int{}}}
}

// Space plans one space; cs nil means it was not read, and nothing is
// planned on a guess (the summary shows Listed: false).
func (p *Planner) Space(ds membership.DesiredSpace, cs *membership.SpaceState, ids Identities) SpacePlan {
	sp := SpacePlan{Summary: SpaceSummary{Name: ds.Name, Label: ds.Label, Desired: len(ds.Members)}}
	if cs == nil {
		return sp
	}
	sum := &sp.Summary
	sum.Type, sum.Current, sum.Listed = cs.Type, len(cs.Memberships), true
	if cs.Unnamed > 0 {
		sp.Incomplete = append(sp.Incomplete, fmt.Sprintf("%s: the list showed %d memberships naming no member (a fault on the server's side): who they are is unknown, and none of them is changed or removed", ds.Name, cs.Unnamed))
	}
	if sum.Label == "" {
		sum.Label = cs.DisplayName
	}
	policy := p.policy
	if ds.Policy != "" {
		policy = Policy(ds.Policy)
		if policy != p.policy {
			sum.Policy = policy
		}
	}
	for _, m := range cs.Memberships {
		switch {
		case m.Role != membership.RoleOwner:
		case m.State == membership.StateJoined:
			sum.Owners++
		case m.State == membership.StateInvited:
			sum.InvitedOwners++
		}
	}
	p.idx.reset(cs, ids.Aliases)
	computeSpace(&sp, ds, cs, &p.idx, ids, policy)
	if policy == Sync {
		planRemovals(&sp, ds.Name, cs, &p.idx, ids, p.RemoveSuspended)
	}
	slices.SortFunc(sp.Changes, func(a, b Change) int {
		if c := cmp.Compare(a.Action.rank(), b.Action.rank()); c != 0 {
			return c
		}
		return cmp.Compare(a.Member, b.Member)
	})
	return sp
}

// Assemble puts space plans together in space order, with their counts.
func Assemble(policy Policy, spaces []SpacePlan) Plan {
	slices.SortFunc(spaces, func(a, b SpacePlan) int { return cmp.Compare(a.Summary.Name, b.Summary.Name) })
	plan := Plan{Policy: policy, Changes: []Change{}, Warnings: []string{}, Incomplete: []string{}, Blocked: []string{},
		Pending: []Kept{}, Protected: []Kept{}, Spaces: make([]SpaceSummary, 0, len(spaces))}
	n := 0
	for _, sp := range spaces {
		n += len(sp.Changes)
	}
	plan.Changes = make([]Change, 0, n)
	for _, sp := range spaces {
		plan.Spaces = append(plan.Spaces, sp.Summary)
		plan.Changes = append(plan.Changes, sp.Changes...)
		plan.Warnings = append(plan.Warnings, sp.Warnings...)
		plan.Protected = append(plan.Protected, sp.Protected...)
		plan.Incomplete = append(append(plan.Incomplete, sp.Conflicts...), sp.Incomplete...)
		plan.Summary.Unchanged += sp.Summary.Unchanged
		plan.Summary.InvitedPending += sp.Summary.InvitedPending
	}
	plan.Recount()
	return plan
}

// spaceIndex finds a space's memberships by principal or listed email. Its
// maps are cleared and reused from space to space: with 10,000 spaces,
// rebuilding them was most of the plan's garbage.
type spaceIndex struct {
	present map[membership.Principal]int // principal → index in Memberships
	byEmail map[string]int               // listed email → index (no users/{email} string built per member)
	seen    map[membership.Principal]int // resolved principal → index in the desired members
	// people and byTarget are groupByPerson's, reused likewise.
	people   []person
	byTarget map[membership.Principal]int
}

func (x *spaceIndex) reset(cs *membership.SpaceState, aliases map[string]membership.Principal) {
	clear(x.present)
	clear(x.seen)
	clear(x.byTarget)
	clear(x.byEmail)
	if x.byTarget == nil {
		x.byTarget, x.byEmail = map[membership.Principal]int{}, map[string]int{}
	}
	for i, m := range cs.Memberships {
		if m.Bot {
			if m.Principal == membership.App {
				x.present[m.Principal] = i // only ever matched as "app", never by email
			}
			continue // other apps are never ours to match
		}
		x.present[m.Principal] = i
		if m.Email != "" {
			x.byEmail[m.Email] = i
		}
	}
	// A member the list named by address (users/{email}) is found by the
	// ID that address resolved to as well: the sources may name them by it,
	// or by an alias that resolved to it.
	for i, m := range cs.Memberships {
		if e := m.Principal.Email(); e != "" && !m.Bot {
			if p, ok := aliases[e]; ok && p.Email() == "" {
				if _, listed := x.present[p]; !listed {
					x.present[p] = i
				}
			}
		}
	}
}

// find is the index of the membership p names: by principal, or for
// users/{email}, by the email the list showed.
func (x *spaceIndex) find(p membership.Principal) (int, bool) {
	if i, ok := x.present[p]; ok {
		return i, true
	}
	if e := p.Email(); e != "" {
		i, ok := x.byEmail[e]
		return i, ok
	}
	return 0, false
}

func computeSpace(plan *SpacePlan, ds membership.DesiredSpace, cs *membership.SpaceState,
	idx *spaceIndex, current Identities, policy Policy) {
	sum := &plan.Summary
	seen := idx.seen
	named := cs.Type == "" || cs.Type == membership.TypeSpace
	for _, g := range idx.groupByPerson(ds, cs, current.Aliases) {
		dm, target, i, present := g.member, g.target, g.index, g.present
		seen[target] = g.first
		if g.conflict != "" {
			plan.Conflicts = append(plan.Conflicts, g.conflict)
		}
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
			if !target.IsGroup() {
				create.ToRole = membership.RoleMember // every new person joins as a member; a group has no role
			}
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
		if !m.Role.Known() {
			// A role Google added (or a proxy's word): what it can do is
			// unknown, and a change from it may take powers away.
			who := dm.Principal.Display()
			if m.Email != "" {
				who = m.Email
			}
			plan.Incomplete = append(plan.Incomplete, fmt.Sprintf("%s: %s holds a role the syncer does not know (%s) in %s: it is left as it is, not made %s",
				dm.Source, who, scrubRole(m.Role), ds.Name, dm.Role.UIName()))
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

// scrubRole bounds a role an answer gave, for a report line.
func scrubRole(r membership.Role) string {
	if s := string(r); len(s) <= 64 {
		return s
	}
	return string(r)[:64] + "…"
}

// person is every desired spelling of one person in a space (an email, an
// alias, a Directory ID), merged: one role, one change.
type person struct {
	member   membership.DesiredMember // the spelling that carries the role, an email for a create
	target   membership.Principal     // canonical when known
	index    int                      // in the space's memberships, when present
	present  bool
	first    int    // the first spelling's index in the desired members
	conflict string // two spellings with different managed roles: the role is left alone
}

// groupByPerson merges desired spellings that resolve to the same person.
// Roles merge as in one source: an unmanaged spelling takes the managed
// one's role; two different managed roles are a conflict, reported, and the
// member's role is left as it is.
//
// The slice it returns is reused by the next space's call.
func (x *spaceIndex) groupByPerson(ds membership.DesiredSpace, cs *membership.SpaceState, aliases map[string]membership.Principal) []person {
	out := x.people[:0]
	defer func() { x.people = out[:0] }()
	byTarget := x.byTarget
	for di, dm := range ds.Members {
		target := dm.Principal
		if email := target.Email(); email != "" {
			if canonical, ok := aliases[email]; ok {
				target = canonical
			}
		}
		i, present := x.find(target)
		if !present {
			i, present = x.find(dm.Principal)
		}
		if present {
			target = cs.Memberships[i].Principal
		}
		n, dup := byTarget[target]
		if !dup {
			byTarget[target] = len(out)
			out = append(out, person{member: dm, target: target, index: i, present: present, first: di})
			continue
		}
		p := &out[n]
		switch {
		case p.conflict != "":
		case dm.Role == membership.RoleUnmanaged || dm.Role == p.member.Role:
			if p.member.Principal.Email() == "" && dm.Principal.Email() != "" {
				p.member.Principal = dm.Principal // create by an address
			}
		case p.member.Role == membership.RoleUnmanaged:
			if p.member.Principal.Email() != "" && dm.Principal.Email() == "" {
				dm.Principal = p.member.Principal
			}
			p.member = dm
		case (p.member.Source.Via() == "") != (dm.Source.Via() == ""):
			// One spelling is named, the other came from a Directory rule:
			// the named one's role stands.
			if p.member.Source.Via() != "" {
				p.member.Role, p.member.Source = dm.Role, dm.Source
			}
		case p.member.Source.Via() != "" && dm.Source.Via() != "":
			// Two rules: the higher role.
			if dm.Role.Rank() > p.member.Role.Rank() {
				p.member.Role, p.member.Source = dm.Role, dm.Source
			}
		default:
			p.conflict = fmt.Sprintf("%s: %s (%s here) and %s (%s at %s) are the same member of %s with different roles; the role is left as it is until the sources agree",
				dm.Source, dm.Principal.Display(), dm.Role.UIName(), p.member.Principal.Display(), p.member.Role.UIName(), p.member.Source, ds.Name)
			p.member.Role = membership.RoleUnmanaged
		}
	}
	return out
}

func newChange(space string, dm membership.DesiredMember, target membership.Principal) Change {
	c := Change{Space: space, Member: dm.Principal.Display(), Principal: target, Source: dm.Source.String()}
	if target.Email() == "" {
		c.ID = target
	}
	return c
}

// planRemovals plans a delete for every membership no desired member
// matched (joined, invited and groups alike; never an app) and, with
// removeSuspended, for members the Directory reports suspended. Whether a
// removal happens is for the safety rails to decide.
//
// A member the list named by address (users/{email}: answers promise IDs,
// a server may not keep to it) that no ID is known for (the Directory
// can't name them, or there is none) can't be told apart from a person the
// sources name by an ID the list does not show: nothing ties the two. While
// the plan adds such an ID, that member is kept, and the report says why.
func planRemovals(sp *SpacePlan, space string, cs *membership.SpaceState, idx *spaceIndex, ids Identities, removeSuspended bool) {
	var lacking membership.Principal // an ID the sources name that the list does not show
	for _, c := range sp.Changes {
		if c.Action == Create && c.Principal.Email() == "" && !c.Principal.IsGroup() && c.Principal != membership.App {
			lacking = c.Principal
			break
		}
	}
	for _, m := range cs.Memberships {
		if m.Bot {
			continue
		}
		_, wanted := idx.seen[m.Principal]
		reason := ""
		switch {
		case !wanted && lacking != "" && m.Principal.Email() != "" && ids.Aliases[m.Principal.Email()] == "":
			sp.Protected = append(sp.Protected, Kept{Space: space, Member: m.Principal.Display(), Membership: m.Name, Reason: ReasonAbsent,
				Why: fmt.Sprintf("listed by its address, not its ID, and the sources name %s by ID, whom the list does not show: it may be them", lacking)})
			continue
		case !wanted:
			reason = ReasonAbsent
		case removeSuspended && !m.Principal.IsGroup() && (ids.Suspended[m.Principal] || m.Email != "" && ids.Suspended[membership.User(m.Email)]):
			reason = ReasonSuspended
			// Leaving takes the place of any role change planned for them.
			had := false
			kept := sp.Changes[:0]
			for _, c := range sp.Changes {
				if c.Principal == m.Principal {
					had = true
					continue
				}
				kept = append(kept, c)
			}
			sp.Changes = kept
			if !had && m.State != membership.StateInvited {
				sp.Summary.Unchanged-- // it was counted unchanged
			}
		default:
			continue
		}
		c := Change{Space: space, Member: m.Principal.Display(), Principal: m.Principal, ID: m.Principal, Membership: m.Name,
			Action: Delete, FromRole: m.Role, Reason: reason, Invited: m.State == membership.StateInvited}
		if m.Email != "" {
			c.Member = m.Email
		}
		if p, ok := ids.Aliases[m.Principal.Email()]; ok && p.Email() == "" && !p.IsGroup() {
			// Listed by address: the removal names the ID it resolved
			// to, as the rails know people (protect, the acting user).
			c.Principal, c.ID = p, p
		}
		sp.Changes = append(sp.Changes, c)
	}
}
