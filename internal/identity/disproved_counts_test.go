package identity

import (
	"context"
	"testing"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/membership"
)

// alice@ is taken from the cache by spaces/A, disproved by spaces/B's list
// and looked up: the run's summary counts her once, by the Directory.
func TestADisprovedEntryIsCountedOnce(t *testing.T) {
	ctx := context.Background()
	alice := "alice@corp.test"
	listB := &membership.SpaceState{Memberships: []membership.Membership{{Name: "spaces/B/members/1", Principal: "users/1", Email: "bob@corp.test", Role: membership.RoleMember}}}
	d := &gatedDir{listGate: make(chan struct{}), listed: make(chan struct{}), getGate: make(chan struct{}), gets: map[string]int{}}
	close(d.listGate)
	close(d.getGate)
	d.users = []chatapi.DirectoryUser{{ID: "2", PrimaryEmail: alice}, {ID: "1", PrimaryEmail: "bob@corp.test"}}
	cache := cacheWith(t, 0, cacheEntry(alice, "users/1", false))
	member := membership.DesiredMember{Principal: membership.User(alice), Role: membership.RoleMember}
	a := membership.DesiredSpace{Name: "spaces/A", Members: []membership.DesiredMember{member}}
	b := membership.DesiredSpace{Name: "spaces/B", Members: []membership.DesiredMember{member}}
	s := (&Resolver{Directory: d, DirectoryThrottle: freeThrottle(), Cache: cache}).NewService(membership.Desired{Spaces: []membership.DesiredSpace{a, b}}, nil)
	s.Space(ctx, a, &membership.SpaceState{}, nil)
	s.Space(ctx, b, listB, nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts[ByCache]+s.counts[ByDirectory] != s.resolved {
		t.Errorf("by_cache %d + by_directory %d, for %d addresses resolved", s.counts[ByCache], s.counts[ByDirectory], s.resolved)
	}
}
