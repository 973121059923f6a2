package identity

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
	"github.com/syncer-dev/syncer/internal/membership"
)

// Whatever the Directory's size and shape, whichever addresses the cache
// holds and whichever of those the removal screen forgets along the way,
// every address a source names and the Directory holds comes back as its
// user, and none as outside the organisation: a pass's pages are evidence
// of an absence only where they went. Worlds drawn at random, spaces
// planned side by side, lists without emails.
func TestEveryDirectoryUserIsFoundWhateverThePassDid(t *testing.T) {
	spreads := []emulatortest.Spread{emulatortest.SpreadStems, emulatortest.SpreadEven, emulatortest.SpreadClustered, emulatortest.SpreadInterleaved}
	for i := range 16 {
		rng := rand.New(rand.NewPCG(uint64(i), 19))
		w := emulatortest.World{Spaces: 1 + rng.IntN(4), MembersPerSpace: 2 + rng.IntN(40), Bystanders: []int{0, 600, 3000, 30_000}[rng.IntN(4)],
			Spread: spreads[rng.IntN(len(spreads))]}
		cachedShare, forgetShare := rng.Float64(), rng.Float64()
		t.Run(fmt.Sprintf("%d:%dx%d+%d,spread%d,cached%.0f%%", i, w.Spaces, w.MembersPerSpace, w.Bystanders, w.Spread, 100*cachedShare), func(t *testing.T) {
			ctx := context.Background()
			seed, _, _ := w.Build()
			_, d := emulatedDirectory(t, seed)
			ids := map[string]string{}
			for _, u := range seed.Users {
				ids[u.Email] = u.ID
			}
			var entries, forget []string
			var desired membership.Desired
			for _, sp := range seed.Spaces {
				ds := membership.DesiredSpace{Name: sp.Name}
				for _, m := range sp.Members {
					ds.Members = append(ds.Members, membership.DesiredMember{Principal: membership.User(m.User), Role: membership.RoleMember})
					if rng.Float64() < cachedShare {
						entries = append(entries, cacheEntry(m.User, "users/"+ids[m.User], false))
						if rng.Float64() < forgetShare {
							forget = append(forget, m.User)
						}
					}
				}
				desired.Spaces = append(desired.Spaces, ds)
			}
			cache := cacheWith(t, 0, entries...)
			s := (&Resolver{Directory: d, DirectoryThrottle: freeThrottle(), Cache: cache}).NewService(desired, func() time.Duration { return 200 * time.Millisecond })
			s.Anticipate(ctx)
			plan := func(wave string) {
				var wg sync.WaitGroup
				for k, ds := range desired.Spaces {
					// Each space lists its people by ID alone, as Google mostly answers.
					listed := &membership.SpaceState{}
					for j, m := range seed.Spaces[k].Members {
						listed.Memberships = append(listed.Memberships, membership.Membership{Name: fmt.Sprintf("%s/members/%d", ds.Name, j), Principal: membership.User(ids[m.User])})
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						got, out := s.Space(ctx, ds, listed, nil)
						for _, m := range ds.Members {
							e := m.Principal.Email()
							if got.Aliases[e] != membership.User(ids[e]) || out.NotInDirectory[e] || out.Unresolved[e] != "" {
								t.Errorf("%s, %s in %s: %q by %q (not in the Directory: %v, unresolved: %q), want users/%s",
									wave, e, ds.Name, got.Aliases[e], got.ResolvedBy[e], out.NotInDirectory[e], out.Unresolved[e], ids[e])
							}
						}
					}()
				}
				wg.Wait()
			}
			plan("first")
			// The removal screen finds some cache entries out of date; the
			// spaces are planned again (as a space mended by what it said is).
			for _, e := range forget {
				s.Forget(e)
			}
			plan("again")
		})
	}
}
