package identity

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/membership"
)

// disproofWorld: the Directory says alice@ is users/2 and users/1 is bob@;
// the cache still says alice@ is users/1. It returns a service for the
// named spaces, each wanting alice@ alone, and the cache.
func disproofWorld(t *testing.T, names ...string) (*Service, *Cache, []membership.DesiredSpace) {
	t.Helper()
	const alice = "alice@corp.test"
	d := &gatedDir{listGate: make(chan struct{}), listed: make(chan struct{}), getGate: make(chan struct{}), gets: map[string]int{}}
	close(d.listGate)
	close(d.getGate)
	d.users = []chatapi.DirectoryUser{{ID: "2", PrimaryEmail: alice}, {ID: "1", PrimaryEmail: "bob@corp.test"}}
	cache := cacheWith(t, 0, cacheEntry(alice, "users/1", false))
	member := membership.DesiredMember{Principal: membership.User(alice), Role: membership.RoleMember}
	var spaces []membership.DesiredSpace
	for _, name := range names {
		spaces = append(spaces, membership.DesiredSpace{Name: name, Members: []membership.DesiredMember{member}})
	}
	s := (&Resolver{Directory: d, DirectoryThrottle: freeThrottle(), Cache: cache}).NewService(membership.Desired{Spaces: spaces}, nil)
	return s, cache, spaces
}

// A space's list disproves a cache entry (it shows the cached ID under
// another address) whichever space took the entry first: the cache says
// alice@ is users/1, the Directory today that alice@ is users/2 and
// users/1 is bob@, and spaces/B lists users/1 as bob@ and wants only
// alice@. Once spaces/A (whose list shows nobody) had taken the entry,
// spaces/B trusted it too and planned nothing under policy sync: bob@
// kept, alice@ never added, and the order of planning decided it.
func TestAListDisprovesACacheEntryInEverySpace(t *testing.T) {
	ctx := context.Background()
	alice := "alice@corp.test"
	listB := &membership.SpaceState{Memberships: []membership.Membership{{Name: "spaces/B/members/1", Principal: "users/1", Email: "bob@corp.test", Role: membership.RoleMember}}}
	for _, order := range []string{"B alone", "A then B"} {
		s, cache, spaces := disproofWorld(t, "spaces/A", "spaces/B")
		a, b := spaces[0], spaces[1]
		if order != "B alone" {
			if ids, _ := s.Space(ctx, a, &membership.SpaceState{}, nil); ids.Aliases[alice] != "users/1" {
				t.Fatalf("spaces/A did not take the cache's entry (%q): the test shows nothing", ids.Aliases[alice])
			}
		}
		ids, _ := s.Space(ctx, b, listB, nil)
		if ids.Aliases[alice] == "users/1" {
			t.Errorf("%s: spaces/B lists users/1 as bob@, yet alice@ is users/1 there (%s)", order, ids.ResolvedBy[alice])
		}
		sp := diff.NewPlanner(diff.Sync).Space(b, listB, ids)
		var got []string
		for _, c := range sp.Changes {
			got = append(got, fmt.Sprintf("%s %s", c.Action, c.Member))
		}
		if want := "create alice@corp.test; delete bob@corp.test"; strings.Join(got, "; ") != want {
			t.Errorf("%s: spaces/B plans %q; want %q", order, strings.Join(got, "; "), want)
		}
		if _, ok := cache.Get(alice); ok {
			t.Errorf("%s: the cache still holds the disproved entry", order)
		}
	}
}
