package job

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/identity"
	"github.com/syncer-dev/syncer/internal/membership"
)

// A role change gives or takes a member's powers. Where the member was
// matched to the address a source names by the identity cache alone, the
// entry may be out of date (an alias moved to someone else within
// identity.cache_ttl, and its old owner still a member): the change would
// make the wrong person a manager or owner, under any policy, and upsert
// would never take it back. So before such a change is planned, the space
// is asked who the address is there (one membership read a change; Chat
// accepts any of a user's addresses), as the removal screen does for the
// cached addresses behind a removal.

// cachedRoleChecks asks the space about each address whose role change
// stands on the identity cache's word (a member already there: a role
// change after a create applies to whoever the create added). answers
// says who each address is there ("" when not a member); unsure are those
// it could not be asked about, with why: their role changes wait for a
// run that can. onAsk is called before the reads, if there are any.
func (j *Job) cachedRoleChecks(ctx context.Context, ids *identity.Service, sp diff.SpacePlan, onAsk func()) (answers map[string]membership.Membership, unsure map[string]string) {
	var ask []string
	for _, c := range sp.Changes {
		if c.Action == diff.UpdateRole && c.ResolvedBy == identity.ByCache && c.Membership != "" && strings.Contains(c.Member, "@") {
			ask = append(ask, c.Member)
		}
	}
	if len(ask) == 0 {
		return nil, nil
	}
	onAsk()
	answers, failed := j.askSpace(ctx, ids, sp.Summary.Name, ask)
	for email, err := range failed {
		if unsure == nil {
			unsure = map[string]string{}
		}
		unsure[email] = err.Error()
	}
	return answers, unsure
}

// confirmCachedRoles settles, by what the space said, the addresses the
// cache matched to members whose roles the plan changes: every space takes
// the answer (ids.Confirm), and where the cache was out of date this
// space's identities are mended and it is planned again. It reports
// whether they were.
func confirmCachedRoles(ids *identity.Service, known diff.Identities, answers map[string]membership.Membership) (mended bool) {
	for email, m := range answers {
		p := m.Principal
		// Shown under another address: the one asked is an alias.
		ids.Confirm(email, p, m.Email != "" && m.Email != email)
		if p == known.Aliases[email] {
			continue
		}
		mended = true
		if p == "" { // not a member here: the source's address is someone to add
			delete(known.Aliases, email)
			delete(known.ResolvedBy, email)
			continue
		}
		known.Aliases[email], known.ResolvedBy[email] = p, identity.ByMemberGet
	}
	return mended
}

// holdRoleChanges takes out of a space's plan the role changes of the
// addresses it could not confirm, and says so in one line.
func holdRoleChanges(sp *diff.SpacePlan, unsure map[string]string) {
	if len(unsure) == 0 {
		return
	}
	var held []string
	why := ""
	sp.Changes = slices.DeleteFunc(sp.Changes, func(c diff.Change) bool {
		if w, ok := unsure[c.Member]; ok && c.Action == diff.UpdateRole && c.ResolvedBy == identity.ByCache {
			held, why = append(held, fmt.Sprintf("%s to %s", c.Member, c.ToRole.UIName())), w
			return true
		}
		return false
	})
	if len(held) == 0 {
		return
	}
	slices.Sort(held)
	what, whom := "a role change is held", "the address to a member"
	if len(held) > 1 {
		what, whom = fmt.Sprintf("%d role changes are held", len(held)), "the addresses to members"
	}
	if len(held) > 3 {
		held = append(held[:3], "…")
	}
	sp.Incomplete = append(sp.Incomplete, fmt.Sprintf("%s: %s (%s): the identity cache matched %s, and the space could not be asked to confirm it (%s); tried again next run",
		sp.Summary.Name, what, strings.Join(held, ", "), whom, why))
}
