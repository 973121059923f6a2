package job

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

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
// stands on the identity cache's word. stale are the addresses the space
// names someone else by (or nobody): their entries must be forgotten and
// the space planned again. unsure are those it could not be asked about,
// with why: their role changes wait for a run that can.
func (j *Job) cachedRoleChecks(ctx context.Context, sp diff.SpacePlan) (stale []string, unsure map[string]string) {
	ask := map[string]membership.Principal{}
	for _, c := range sp.Changes {
		if c.Action == diff.UpdateRole && c.ResolvedBy == identity.ByCache && strings.Contains(c.Member, "@") {
			ask[c.Member] = c.ID
		}
	}
	if len(ask) == 0 {
		return nil, nil
	}
	var mu sync.Mutex
	g := errgroup.Group{}
	g.SetLimit(8)
	for email, cached := range ask {
		g.Go(func() error {
			p, err := j.memberByEmail(ctx, sp.Summary.Name, email)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				if unsure == nil {
					unsure = map[string]string{}
				}
				unsure[email] = err.Error()
			case p != cached:
				stale = append(stale, email)
			}
			return nil
		})
	}
	g.Wait()
	slices.Sort(stale)
	return stale, unsure
}

// holdRoleChanges takes out of a space's plan the role changes of the
// addresses it could not confirm, and says so.
func holdRoleChanges(sp *diff.SpacePlan, unsure map[string]string) {
	if len(unsure) == 0 {
		return
	}
	sp.Changes = slices.DeleteFunc(sp.Changes, func(c diff.Change) bool {
		if why, ok := unsure[c.Member]; ok && c.Action == diff.UpdateRole && c.ResolvedBy == identity.ByCache {
			sp.Incomplete = append(sp.Incomplete, fmt.Sprintf("%s: %s's role change is held: the identity cache matched the address to %s, and the space could not be asked to confirm it (%s)",
				c.Space, c.Member, c.ID, why))
			return true
		}
		return false
	})
}
