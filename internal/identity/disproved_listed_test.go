package identity

import (
	"context"
	"testing"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/membership"
)

// spaces/B lists alice@ herself as users/2: the plainest disproof of the
// cache's 'alice@ is users/1'. spaces/C (its list, as Google's mostly are,
// without emails) took users/1 after it, and the entry stayed in the cache.
func TestAListShowingTheAddressDisprovesTheEntry(t *testing.T) {
	ctx := context.Background()
	alice := "alice@corp.test"
	d := &gatedDir{listGate: make(chan struct{}), listed: make(chan struct{}), getGate: make(chan struct{}), gets: map[string]int{}}
	close(d.listGate)
	close(d.getGate)
	d.users = []chatapi.DirectoryUser{{ID: "2", PrimaryEmail: alice}, {ID: "1", PrimaryEmail: "bob@corp.test"}}
	cache := cacheWith(t, 0, cacheEntry(alice, "users/1", false))
	member := membership.DesiredMember{Principal: membership.User(alice), Role: membership.RoleMember}
	b := membership.DesiredSpace{Name: "spaces/B", Members: []membership.DesiredMember{member}}
	c := membership.DesiredSpace{Name: "spaces/C", Members: []membership.DesiredMember{member}}
	listB := &membership.SpaceState{Memberships: []membership.Membership{{Name: "spaces/B/members/2", Principal: "users/2", Email: alice, Role: membership.RoleMember}}}
	listC := &membership.SpaceState{Memberships: []membership.Membership{{Name: "spaces/C/members/1", Principal: "users/1", Role: membership.RoleMember}}}
	s := (&Resolver{Directory: d, DirectoryThrottle: freeThrottle(), Cache: cache}).NewService(membership.Desired{Spaces: []membership.DesiredSpace{b, c}}, nil)
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
