package removals

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/membership"
)

// Decide applies the grace period and the rails to the whole plan, before
// any write. It changes plan (held removals move to Pending, the rails'
// reasons go in Blocked, spaces new to sync are marked) and returns the
// state to save if the run goes ahead. prev is nil on the first run with
// this state location.
func Decide(plan *diff.Plan, prev *State, totals map[string]int, st Settings, now time.Time) *State {
	next := &State{Version: 1, Absent: map[string]map[string]Absence{}, Saved: now, Distinct: true}
	next.Totals, next.Rows = keptTotals(prev, totals)
	next.CountedFrom = countedFrom(prev, next.Totals, totals, st.Files)
	next.RowTotals = rowTotals(prev, next.Totals, totals, st.Repeats)
	prev, forgot := forgetUnseen(prev, now)
	sayForgotten(plan, forgot)
	applyGrace(plan, prev, st, now, next)
	retried := holdRefused(plan, prev, next, now)
	fresh := newToSync(plan, prev)
	plan.Blocked = rails(plan, prev, fresh, totals, st, retried)
	next.Synced = synced(plan, prev, st, now)
	next.Seen = seen(plan, prev, next, now)
	plan.Recount()
	return next
}

// syncs reports whether a space of the plan is under policy sync.
func syncs(plan *diff.Plan, s diff.SpaceSummary) bool {
	return s.Policy == diff.Sync || s.Policy == "" && plan.Policy == diff.Sync
}

// newToSync marks, and returns, the spaces under policy sync that have no
// completed sync run behind them.
func newToSync(plan *diff.Plan, prev *State) map[string]bool {
	fresh := map[string]bool{}
	for i := range plan.Spaces {
		s := &plan.Spaces[i]
		if !s.Listed || !syncs(plan, *s) {
			continue
		}
		if _, ok := prev.synced()[s.Name]; !ok {
			s.NewToSync = true
			fresh[s.Name] = true
		}
	}
	return fresh
}

// synced is the spaces with a completed sync run behind them once this run
// completes: the plan's sync spaces, and spaces this run did not read or
// manage (another config may share the state location). A space new to
// sync with removals still to come, held by the grace period or kept as
// its last owner until a successor joins, has not been through the stop:
// it stays new, and stops when they come due, unless this run's
// --allow-removals covered them too (the plan showed them). A space this
// run manages under another policy leaves the list: switched back to sync
// later, it is new again.
func synced(plan *diff.Plan, prev *State, st Settings, now time.Time) map[string]time.Time {
	later := map[string]int{} // removals still to come, by space
	for _, k := range plan.Pending {
		later[k.Space]++
	}
	for _, k := range plan.Protected {
		if k.Deferred {
			later[k.Space]++
		}
	}
	consented := st.Allow >= 0
	if consented {
		n := 0
		for _, c := range plan.Changes {
			if c.Action == diff.Delete {
				n++
			}
		}
		for _, s := range plan.Spaces {
			if _, was := prev.synced()[s.Name]; !was {
				n += later[s.Name]
			}
		}
		consented = st.Allow >= n
	}
	out := map[string]time.Time{}
	inPlan := map[string]bool{}
	for _, s := range plan.Spaces {
		inPlan[s.Name] = true
		since, was := prev.synced()[s.Name]
		switch {
		case !s.Listed && was:
			out[s.Name] = since
		case !s.Listed || !syncs(plan, s):
		case was:
			out[s.Name] = since
		case later[s.Name] > 0 && !consented:
		default:
			out[s.Name] = now
		}
	}
	for name, since := range prev.synced() {
		if !inPlan[name] {
			out[name] = since
		}
	}
	return out
}

// applyGrace counts each removal candidate's consecutive runs away and
// holds those the grace period still covers.
func applyGrace(plan *diff.Plan, prev *State, st Settings, now time.Time, next *State) {
	read := map[string]bool{}
	for _, s := range plan.Spaces {
		read[s.Name] = s.Listed
	}
	if prev != nil {
		// A space not read this run keeps its counters as they were.
		for space, absent := range prev.Absent {
			if !read[space] {
				next.Absent[space] = absent
			}
		}
	}
	// A last owner kept until a successor joins is away from the sources
	// all the same: the count goes on, so the removal is not held for a
	// whole grace period more once the successor has joined.
	for _, k := range plan.Protected {
		if k.Deferred {
			away(prev, next, k.Space, k.Membership, k.Member, now)
		}
	}
	kept := plan.Changes[:0]
	for _, c := range plan.Changes {
		if c.Action != diff.Delete {
			kept = append(kept, c)
			continue
		}
		a := away(prev, next, c.Space, c.Membership, c.Member, now)
		g := st.Grace
		due := g.None() || g.Duration > 0 && now.Sub(a.Since) >= g.Duration || g.Duration <= 0 && a.Runs >= g.Runs
		if due {
			kept = append(kept, c)
			continue
		}
		k := diff.Kept{Space: c.Space, Member: c.Member, Membership: c.Membership, Reason: c.Reason, Runs: a.Runs, Since: a.Since.UTC().Format(time.RFC3339)}
		if g.Duration > 0 {
			k.Due = a.Since.Add(g.Duration).UTC().Format(time.RFC3339)
			k.Why = fmt.Sprintf("removal pending (absent since %s; removed from %s)", k.Since, k.Due)
		} else {
			k.Of = g.Runs
			k.Why = fmt.Sprintf("removal pending (%d of %d runs)", a.Runs, g.Runs)
		}
		plan.Pending = append(plan.Pending, k)
	}
	plan.Changes = kept
	holdGroupsTakingPending(plan, next)
}

// holdGroupsTakingPending holds a Google Group's removal while the grace
// period holds the removal of someone Google would take with it: gone
// with the group, they would leave before their grace is over.
func holdGroupsTakingPending(plan *diff.Plan, next *State) {
	pending := map[string]string{} // member, by membership
	for _, k := range plan.Pending {
		pending[k.Membership] = k.Member
	}
	kept := plan.Changes[:0]
	for _, c := range plan.Changes {
		var held []string
		for _, m := range c.Takes {
			if who, ok := pending[m]; ok {
				held = append(held, who)
			}
		}
		if c.Action != diff.Delete || len(held) == 0 {
			kept = append(kept, c)
			continue
		}
		a := next.Absent[c.Space][c.Membership]
		plan.Pending = append(plan.Pending, diff.Kept{Space: c.Space, Member: c.Member, Membership: c.Membership, Reason: c.Reason,
			Runs: a.Runs, Since: a.Since.UTC().Format(time.RFC3339),
			Why: fmt.Sprintf("removal pending: Google removes a group's people with it, and the grace period still holds the removal of %s", FirstFew(held))})
	}
	plan.Changes = kept
}

// away counts one more run of a membership away from the sources, from
// what prev counted, into next, and returns the count.
func away(prev, next *State, space, membership, member string, now time.Time) Absence {
	a := Absence{Member: member, Since: now, Runs: 1}
	if prev != nil {
		if prev.Saved.After(now) {
			// This run's clock is behind the last run's: a time away
			// starting before then would end the grace period early
			// once the clock is right again.
			a.Since = prev.Saved
		}
		if old, ok := prev.Absent[space][membership]; ok {
			a.Since, a.Runs = old.Since, old.Runs+1
		}
	}
	if next.Absent[space] == nil {
		next.Absent[space] = map[string]Absence{}
	}
	next.Absent[space][membership] = a
	return a
}

// GuardLastOwners keeps a joined owner in a space, whatever its policy:
// Google refuses to remove or demote the last one. Where the plan takes
// away the space's last owners and also makes someone else owner (a member
// already, or one it creates), the losses wait for that successor: they
// carry its name, and apply sends them only once the promotion has
// succeeded and the successor's membership is joined. Otherwise one owner
// stays, in Protected with why.
// LastOwnerHeld returns the index of a removal GuardLastOwners will keep
// whatever Screen decides: the only change taking an owner away, from
// the space's last joined owner, with no successor. -1 when none.
func LastOwnerHeld(sp diff.SpacePlan) int {
	held, successors := -1, 0
	for i, c := range sp.Changes {
		switch {
		case c.FromRole == membership.RoleOwner && !c.Invited && (c.Action == diff.Delete || c.Action == diff.UpdateRole && c.ToRole != membership.RoleOwner):
			if held >= 0 || c.Action != diff.Delete {
				return -1
			}
			held = i
		case c.Action == diff.UpdateRole && c.ToRole == membership.RoleOwner:
			successors++
		}
	}
	if held < 0 || successors > 0 || sp.Summary.Owners != 1 {
		return -1
	}
	return held
}

// OwnerGuarded names the membership GuardLastOwners will keep in the
// space once Screen has kept the removals screened keeps: the first of the
// changes taking the space's last joined owners away when no joined
// successor is made (an invited one is none). "" when none. A group's
// removal must not take them.
func OwnerGuarded(sp diff.SpacePlan, screened func(diff.Change) bool) string {
	losing, successors, all := ownersLeaving(sp, screened)
	if !all || successors > 0 || losing[0].Action != diff.Delete {
		return ""
	}
	return losing[0].Membership
}

// HandedOver names the removals of owners that GuardLastOwners will make
// wait for a successor: the plan takes away every joined owner (those
// screened keeps aside) and makes a joined or new member owner. Apply
// sends them only once that successor is a joined owner; a group's
// removal, which takes its people with it, must not take them sooner.
func HandedOver(sp diff.SpacePlan, screened func(diff.Change) bool) []string {
	losing, successors, all := ownersLeaving(sp, screened)
	if !all || successors == 0 {
		return nil
	}
	var out []string
	for _, c := range losing {
		if c.Action == diff.Delete {
			out = append(out, c.Membership)
		}
	}
	return out
}

// ownersLeaving are the changes taking a joined owner away (removals
// screened keeps aside), how many changes make a joined member owner (an
// invited successor is none to GuardLastOwners: it keeps the owner until
// they accept), and whether the space's every joined owner is leaving.
func ownersLeaving(sp diff.SpacePlan, screened func(diff.Change) bool) (losing []diff.Change, successors int, all bool) {
	for _, c := range sp.Changes {
		switch {
		case c.FromRole == membership.RoleOwner && !c.Invited && (c.Action == diff.Delete || c.Action == diff.UpdateRole && c.ToRole != membership.RoleOwner):
			if c.Action != diff.Delete || !screened(c) {
				losing = append(losing, c)
			}
		case c.Action == diff.UpdateRole && c.ToRole == membership.RoleOwner && !c.Invited:
			successors++
		}
	}
	all = len(losing) > 0 && sp.Summary.Owners > 0 && sp.Summary.Owners <= len(losing)
	return losing, successors, all
}

func GuardLastOwners(sp *diff.SpacePlan) {
	var losing []int // changes taking an owner away
	var successors []diff.Change
	invitedSuccessor := ""
	for i, c := range sp.Changes {
		switch {
		case c.FromRole == membership.RoleOwner && !c.Invited && (c.Action == diff.Delete || c.Action == diff.UpdateRole && c.ToRole != membership.RoleOwner):
			losing = append(losing, i)
		case c.Action == diff.UpdateRole && c.ToRole == membership.RoleOwner && c.Invited:
			if invitedSuccessor == "" {
				invitedSuccessor = c.Member
			}
		case c.Action == diff.UpdateRole && c.ToRole == membership.RoleOwner:
			successors = append(successors, c)
		}
	}
	have := sp.Summary.Owners
	left := have - len(losing)
	switch {
	case len(losing) == 0 || have == 0 || left > 0:
		return // nothing taken away, no joined owner listed to keep, or others stay
	case left+len(successors) > 0:
		// A member already joined is the surest successor; one the plan
		// creates may turn out invited (apply then takes any other who
		// became a joined owner).
		next := successors[0]
		for _, s := range successors {
			if s.Membership != "" {
				next = s
				break
			}
		}
		for _, i := range losing {
			sp.Changes[i].Successor = next.Principal
		}
		return
	}
	c := sp.Changes[losing[0]]
	what := "removed"
	if c.Action == diff.UpdateRole {
		what = "demoted"
	}
	why := fmt.Sprintf("the space's last owner is not %s (make someone else owner first)", what)
	switch {
	case invitedSuccessor != "":
		why = fmt.Sprintf("the space's last owner is not %s: successor %s is invited, not joined (an owner must have joined; a later run finishes the handover once they accept)",
			what, invitedSuccessor)
	case sp.Summary.InvitedOwners > 0:
		why = fmt.Sprintf("the space's last joined owner is not %s: the other owners have not accepted their invitations yet", what)
	}
	sp.Protected = append(sp.Protected, diff.Kept{Space: c.Space, Member: c.Member, Membership: c.Membership, Reason: c.Reason, Why: why,
		Deferred: c.Action == diff.Delete})
	sp.Changes = slices.Delete(sp.Changes, losing[0], losing[0]+1)
}

// rails returns why the plan must not be applied, or nothing.
// retried are removals Google refused before, asked again: counted when
// first made, not again.
func rails(plan *diff.Plan, prev *State, fresh map[string]bool, totals map[string]int, st Settings, retried map[string]bool) []string {
	removals := map[string]int{}
	total := 0
	for _, c := range plan.Changes {
		if c.Action == diff.Delete && !retried[c.Membership] {
			removals[c.Space]++
			total++
		}
	}
	var why []string
	// Removals the grace period holds happen in a later run, which is no
	// first run: blocking now would keep the state from ever being saved.
	switch {
	case prev == nil && total > 0:
		why = append(why, fmt.Sprintf("first run with policy sync for this state: %s would be removed (%s); read the plan, then rerun with --allow-removals %d",
			members(total), perSpace(plan, nil), total))
	case prev != nil:
		n := 0
		for space := range fresh {
			n += removals[space]
		}
		if n > 0 {
			older := ""
			if prev.Synced == nil {
				older = "; the state was saved by a syncer that did not record which spaces it synced, so each space's removals are confirmed once"
			}
			why = append(why, fmt.Sprintf("spaces new to policy sync (no completed sync run behind them): %s would be removed there (%s)%s; read the plan, then rerun with --allow-removals %d",
				members(n), perSpace(plan, fresh), older, total))
		}
	}
	if st.Sync && prev != nil {
		current := totals
		if rows := prev.rowCounted(); len(rows) > 0 && len(st.Repeats) > 0 {
			// Saved when totals counted rows: rows against rows, this once.
			current = maps.Clone(totals)
			for path, n := range st.Repeats {
				if _, ok := current[path]; ok && rows[path] {
					current[path] += n
				}
			}
		}
		for _, path := range sortedKeys(st.Foreign) {
			why = append(why, fmt.Sprintf("source %s: its last total was counted from another file (%s), by a config sharing this state location whose source has the same name relative to its folder, so the shrink check would compare one with the other; give each config its own state.location, or its sources other names (then one run with --allow-removals, after reading the plan, records this config's totals as its own)", path, st.Foreign[path]))
		}
		why = append(why, shrinks(prev.Totals, current, st)...)
	}
	if !st.MaxRemovals.Allows(total) {
		why = append(why, fmt.Sprintf("%d removals planned; safety.max_removals is %s", total, st.MaxRemovals))
	}
	if !st.MaxRemovalPercent.Unlimited {
		for _, s := range plan.Spaces {
			r := removals[s.Name]
			// One person leaving is never a mass removal, however small the
			// space; but a limit of 0 means none at all.
			if (r > 1 || st.MaxRemovalPercent.N == 0) && r*100 > st.MaxRemovalPercent.N*s.Current {
				why = append(why, fmt.Sprintf("%s: %d of its %d members would be removed (%d%%); safety.max_removal_percent is %d%%",
					s.Name, r, s.Current, r*100/max(s.Current, 1), st.MaxRemovalPercent.N))
			}
		}
	}
	switch {
	case st.Allow < 0:
		return why
	case total <= st.Allow:
		return nil // the admin read the plan and accepted this many
	case len(why) == 0:
		return []string{fmt.Sprintf("%d removals planned; --allow-removals allows %d", total, st.Allow)}
	}
	return []string{fmt.Sprintf("%d removals planned; --allow-removals allows %d (%s)", total, st.Allow, strings.Join(why, "; "))}
}

// members is "1 member" or "n members".
func members(n int) string {
	if n == 1 {
		return "1 member"
	}
	return fmt.Sprintf("%d members", n)
}

// shrinks compares each source's total with the last completed run's.
func shrinks(before, now map[string]int, st Settings) []string {
	if st.MaxSourceShrinkPercent.Unlimited {
		return nil
	}
	var out []string
	for _, path := range sortedKeys(before) {
		was, is := before[path], now[path]
		if _, still := now[path]; !still || was == 0 || st.Foreign[path] != "" {
			continue // a source no longer configured (or another config's) has no total to compare
		}
		if (was-is)*100 > st.MaxSourceShrinkPercent.N*was {
			out = append(out, fmt.Sprintf("source %s shrank from %d to %d memberships (-%d%%) since the last run; safety.max_source_shrink_percent is %d%%",
				path, was, is, (was-is)*100/was, st.MaxSourceShrinkPercent.N))
		}
	}
	return out
}

// perSpace counts removals by space, in only the given spaces when set.
// Removals the grace period holds are not counted, as in the total: they
// happen in a later run.
func perSpace(plan *diff.Plan, only map[string]bool) string {
	n := map[string]int{}
	for _, c := range plan.Changes {
		if c.Action == diff.Delete && (only == nil || only[c.Space]) {
			n[c.Space]++
		}
	}
	var parts []string
	for _, s := range sortedKeys(n) {
		parts = append(parts, fmt.Sprintf("%s: %d", s, n[s]))
	}
	const show = 10
	if len(parts) > show {
		parts = append(parts[:show], fmt.Sprintf("and %d more spaces", len(parts)-show))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// FirstFew names, sorted, the first three of who and how many more.
func FirstFew(who []string) string {
	slices.Sort(who)
	if len(who) > 3 {
		return fmt.Sprintf("%s and %d more", strings.Join(who[:3], ", "), len(who)-3)
	}
	return strings.Join(who, ", ")
}
