package identity

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
	"github.com/syncer-dev/syncer/internal/membership"
)

// A pass that turns to users.get after its first page (a few people of a
// big Directory) leaves the addresses the identity cache holds to the
// cache, and a pass never looks for an address a space took from the
// cache before it began. If the cache's word is then dropped (out of
// date), the next space that wants such an address must ask the Directory
// for it: the pass's pages never went past it, so they are no evidence
// that it is not in the Directory.
func TestAddressesAPassLeftBehindAreAskedFor(t *testing.T) {
	for _, takenFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("taken from the cache before the pass: %v", takenFirst), func(t *testing.T) { passLeftBehind(t, takenFirst) })
	}
}

func passLeftBehind(t *testing.T, takenFirst bool) {
	ctx := context.Background()
	w := emulatortest.World{Spaces: 2, MembersPerSpace: 35, Bystanders: 50_000, Spread: emulatortest.SpreadEven}
	seed, _, _ := w.Build()
	em, d := emulatedDirectory(t, seed)
	// The cache holds the first 50 people; the sources want 20 others and
	// one of the 50, in two spaces.
	var entries []string
	for _, u := range seed.Users[:50] {
		entries = append(entries, cacheEntry(u.Email, "users/"+u.ID, false))
	}
	cache := cacheWith(t, 0, entries...)
	cached := seed.Users[0]
	newcomers := membership.DesiredSpace{Name: "spaces/A"}
	for _, u := range seed.Users[50:70] {
		newcomers.Members = append(newcomers.Members, membership.DesiredMember{Principal: membership.User(u.Email), Role: membership.RoleMember})
	}
	first := membership.DesiredSpace{Name: "spaces/C", Members: []membership.DesiredMember{{Principal: membership.User(cached.Email), Role: membership.RoleMember}}}
	later := membership.DesiredSpace{Name: "spaces/B", Members: first.Members}
	r := &Resolver{Directory: d, DirectoryThrottle: freeThrottle(), Cache: cache}
	s := r.NewService(membership.Desired{Spaces: []membership.DesiredSpace{first, newcomers, later}}, func() time.Duration { return 200 * time.Millisecond })
	// Lists show their members without emails, as Google mostly answers.
	listed := &membership.SpaceState{Memberships: []membership.Membership{{Name: "spaces/A/members/999", Principal: "users/999"}}}
	if takenFirst {
		withEmails := &membership.SpaceState{} // no pass needed for this space
		if ids, _ := s.Space(ctx, first, withEmails, nil); ids.ResolvedBy[cached.Email] != ByCache {
			t.Fatalf("%s by %q, want the cache", cached.Email, ids.ResolvedBy[cached.Email])
		}
	}

	ids, out := s.Space(ctx, newcomers, listed, nil)
	if len(ids.Aliases) != 20 || len(out.NotInDirectory) != 0 || len(out.Unresolved) != 0 {
		t.Fatalf("the 20 newcomers: %d named, not in the Directory %v, unresolved %v", len(ids.Aliases), out.NotInDirectory, out.Unresolved)
	}
	st := em.Stats()
	if pages, gets := st.Count("directory.users.list"), st.Count("directory.users.get"); pages != 1 || gets != 20 {
		t.Fatalf("%d users.list pages and %d users.get; want the pass's first page, then a get per newcomer (none for the cached)", pages, gets)
	}

	s.Forget(cached.Email) // the removal screen found the entry out of date
	ids, out = s.Space(ctx, later, listed, nil)
	if got, want := ids.Aliases[cached.Email], membership.User(cached.ID); got != want || ids.ResolvedBy[cached.Email] != ByDirectory || out.NotInDirectory[cached.Email] {
		t.Errorf("%s after its cache entry was dropped: %q by %q (not in the Directory: %v), want %s by the Directory",
			cached.Email, got, ids.ResolvedBy[cached.Email], out.NotInDirectory[cached.Email], want)
	}
}
