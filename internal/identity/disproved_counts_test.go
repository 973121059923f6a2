package identity

import (
	"context"
	"testing"

	"github.com/syncer-dev/syncer/internal/membership"
)

// alice@ is taken from the cache by spaces/A, disproved by spaces/B's list
// and looked up: the run's summary counts her once, by the Directory.
func TestADisprovedEntryIsCountedOnce(t *testing.T) {
	ctx := context.Background()
	listB := &membership.SpaceState{Memberships: []membership.Membership{{Name: "spaces/B/members/1", Principal: "users/1", Email: "bob@corp.test", Role: membership.RoleMember}}}
	s, _, spaces := disproofWorld(t, "spaces/A", "spaces/B")
	a, b := spaces[0], spaces[1]
	s.Space(ctx, a, &membership.SpaceState{}, nil)
	s.Space(ctx, b, listB, nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resolved != 1 || s.counts[ByCache] != 0 || s.counts[ByDirectory] != 1 {
		t.Errorf("by_cache %d + by_directory %d, for %d addresses resolved", s.counts[ByCache], s.counts[ByDirectory], s.resolved)
	}
}
