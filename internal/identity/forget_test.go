package identity

import (
	"context"
	"testing"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/membership"
)

// Forget drops what the out-of-date entry said, its suspended flag too:
// the address's user now is active, and must not be left out as
// suspended. (From a review of 647935c; the flag outlived Forget before.)
func TestForgetDropsTheEntrysFlags(t *testing.T) {
	ctx := context.Background()
	x := "xavier@corp.test"
	d := &gatedDir{listGate: make(chan struct{}), listed: make(chan struct{}), getGate: make(chan struct{}), gets: map[string]int{}}
	close(d.listGate)
	d.users = []chatapi.DirectoryUser{{ID: "2222", PrimaryEmail: x}} // active, another ID now
	cache := cacheWith(t, 0, cacheEntry(x, "users/9999", true))
	a := membership.DesiredSpace{Name: "spaces/A", Members: []membership.DesiredMember{{Principal: membership.User(x), Role: membership.RoleMember}}}
	b := membership.DesiredSpace{Name: "spaces/B", Members: a.Members}
	s := (&Resolver{Directory: d, DirectoryThrottle: freeThrottle(), Cache: cache}).NewService(membership.Desired{Spaces: []membership.DesiredSpace{a, b}}, nil)
	s.Space(ctx, a, &membership.SpaceState{}, nil)
	s.Forget(x)
	ids, _ := s.Space(ctx, b, &membership.SpaceState{}, nil)
	if ids.Suspended[membership.User(x)] || ids.Aliases[x] != "users/2222" {
		t.Errorf("%s: %s by %q, suspended %v; want users/2222 (active) by the Directory", x, ids.Aliases[x], ids.ResolvedBy[x], ids.Suspended)
	}
}
