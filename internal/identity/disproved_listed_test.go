package identity

import (
	"context"
	"testing"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/membership"
)

// spaces/B lists alice@ herself as users/2: the plainest disproof of the
// cache's 'alice@ is users/1'. spaces/C (its list, as Google's mostly are,
// without emails) took users/1 after it, and the entry stayed in the cache.
func TestAListShowingTheAddressDisprovesTheEntry(t *testing.T) {
	ctx := context.Background()
	alice := "alice@corp.test"
	s, cache, spaces := disproofWorld(t, "spaces/B", "spaces/C")
	b, c := spaces[0], spaces[1]
	listB := &membership.SpaceState{Memberships: []membership.Membership{{Name: "spaces/B/members/2", Principal: "users/2", Email: alice, Role: membership.RoleMember}}}
	listC := &membership.SpaceState{Memberships: []membership.Membership{{Name: "spaces/C/members/1", Principal: "users/1", Role: membership.RoleMember}}}
	s.Space(ctx, b, listB, nil)
	ids, _ := s.Space(ctx, c, listC, nil)
	if ids.Aliases[alice] == "users/1" {
		t.Errorf("spaces/B listed alice@ as users/2, yet spaces/C takes users/1 (%s): bob kept as alice, alice never added", ids.ResolvedBy[alice])
	}
	if sp := diff.NewPlanner(diff.Sync).Space(c, listC, ids); len(sp.Changes) == 0 {
		t.Error("spaces/C under policy sync plans nothing")
	}
	if _, ok := cache.Get(alice); ok {
		t.Error("the cache still holds the disproved entry")
	}
}
