package job

// The group rail: a Google Group no source wants is not removed where its
// removal would take people the sources want, or the rails keep, with it.

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/removals"
	"github.com/syncer-dev/syncer/internal/rules"
)

// groupsTakingWanted finds, among the groups sp removes, those whose
// removal would take people the sources want in the space with them:
// Google removes a group's people from a space with the group ("either
// the member has to be removed from the group or the group has to be
// removed from the space", Chat help 13535086), and the list does not say
// who is there only through it. Such a group stays, with why. Where its
// people can't be listed (no Directory, the group member scope not
// granted), the group goes as before and the space's warnings say what
// could not be told.
//
// It also returns, by person, the held group each person to remove is in:
// they stay in the space through it (Google refuses their direct removal;
// they leave with the group), so they are no removals either, which the
// rails would count run after run; so are the owner the last-owner guard
// keeps and the owners a handover takes away (guarded memberships), whom
// the guard would let go once the others stay. A group holding everyone holds every one
// of the organisation's users: everyone to remove but those outsider says
// are outside it.
func (j *Job) groupsTakingWanted(ctx context.Context, sp *diff.SpacePlan, st *membership.SpaceState, guarded, handedOver map[string]bool, railsKeep func(diff.Change) bool, nameOf func(membership.Principal) string, outsider func(email string) bool) (map[membership.Principal]string, map[membership.Principal]membership.Principal) {
	removed := map[membership.Principal]bool{}
	kept := map[membership.Principal]bool{}  // removals the rails keep: never removed, by a group's removal neither
	waits := map[membership.Principal]bool{} // owners a handover takes away: they leave once the successor is owner
	groups := 0
	for _, c := range sp.Changes {
		switch {
		case c.Action != diff.Delete:
		case c.Principal.IsGroup():
			removed[c.Principal] = true
			groups++
		case railsKeep(c):
			kept[c.Principal] = true
			waits[c.Principal] = handedOver[c.Membership]
		default:
			removed[c.Principal] = true
		}
	}
	if groups == 0 || st == nil {
		return nil, nil
	}
	// The people the plan keeps: every member it does not remove is one a
	// source wants here, or one the rails keep.
	var wanted []membership.Membership
	for _, m := range st.Memberships {
		if !m.Bot && !m.Principal.IsGroup() && !removed[m.Principal] {
			wanted = append(wanted, m)
		}
	}
	if len(wanted) == 0 {
		return nil, nil
	}
	holds := map[membership.Principal]string{}
	var through map[membership.Principal]membership.Principal
	for gi, c := range sp.Changes {
		if c.Action != diff.Delete || !c.Principal.IsGroup() {
			continue
		}
		if j.Rules == nil {
			sp.Warnings = append(sp.Warnings, fmt.Sprintf("%s: %s is removed, and without the Directory its members can't be listed: Google removes a group's people from the space with it, and the sources may want some of them here", c.Space, c.Principal))
			continue
		}
		people, err := j.Rules.GroupPeople(ctx, c.Principal)
		everyone := rules.HoldsEveryone(err) // every one of the organisation's users
		if err != nil && !everyone {
			sp.Warnings = append(sp.Warnings, fmt.Sprintf("%s: %s is removed, and its members could not be listed (%v): Google removes a group's people from the space with it, and the sources may want some of them here", c.Space, c.Principal, err))
			continue
		}
		var taken, railed, waiting []string
		for _, m := range wanted {
			switch {
			case !everyone && !people[m.Principal]:
			case waits[m.Principal]:
				waiting = append(waiting, cmp.Or(m.Email, nameOf(m.Principal)))
			case kept[m.Principal]:
				railed = append(railed, cmp.Or(m.Email, nameOf(m.Principal)))
			default:
				taken = append(taken, cmp.Or(m.Email, nameOf(m.Principal)))
			}
		}
		var why []string
		if len(taken) > 0 {
			why = append(why, "the sources want "+removals.FirstFew(taken)+" here")
		}
		if len(railed) > 0 {
			why = append(why, "the rails never remove "+removals.FirstFew(railed))
		}
		if len(waiting) > 0 {
			why = append(why, "the handover takes "+removals.FirstFew(waiting)+" away only once the successor is a joined owner")
		}
		if len(why) > 0 && everyone {
			why[0] = "it holds everyone in the organisation, and " + why[0]
		}
		advice := "name the group in a source, or take them out of it first"
		switch {
		case everyone && len(railed) > 0:
			// Removed by hand it takes the rails' people too, whom no
			// run adds back (the acting user: the syncer's own access).
			advice = "name the group in a source (removed by hand, it would take whom the rails never remove too, and no run adds them back)"
		case everyone:
			advice = "name the group in a source, or remove it in Chat yourself (the next run adds back the people the sources want)"
		case len(taken)+len(railed) == 0:
			advice = "a run after the successor is owner removes it with them"
		}
		if len(why) == 0 {
			// The group goes, and the people to remove who are in it
			// with it: while the grace period holds one of them, it
			// holds the group too (removals.Decide).
			for _, r := range sp.Changes {
				if isUserRemoval(r) && removed[r.Principal] && (everyone && !outsider(listedEmail(r)) || people[r.Principal]) {
					sp.Changes[gi].Takes = append(sp.Changes[gi].Takes, r.Membership)
				}
			}
			continue
		}
		holds[c.Principal] = fmt.Sprintf("Google removes a group's people from the space with it, and %s: %s", strings.Join(why, ", and "), advice)
		for _, r := range sp.Changes {
			// The owner GuardLastOwners keeps, or the owners a handover
			// takes away (guarded), are among them too: kept only by that
			// guard, which runs after Screen, they would be removed once
			// Screen keeps the other owners here.
			if !isUserRemoval(r) || !removed[r.Principal] && !guarded[r.Membership] || through[r.Principal] != "" {
				continue
			}
			if everyone && !outsider(listedEmail(r)) || people[r.Principal] {
				if through == nil {
					through = map[membership.Principal]membership.Principal{}
				}
				through[r.Principal] = c.Principal
			}
		}
	}
	return holds, through
}

// listedEmail is the address of the member a removal takes away, as
// the list or the Directory showed it; "" when neither did.
func listedEmail(r diff.Change) string {
	if email := r.Principal.Email(); email != "" || !strings.Contains(r.Member, "@") {
		return email
	}
	return r.Member
}
