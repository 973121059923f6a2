package identity

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/membership"
)

// gatedDir: users.list pages wait for listGate; users.get for gated
// addresses waits for getGate. It counts users.get per address.
type gatedDir struct {
	users    []chatapi.DirectoryUser
	listGate chan struct{}
	listed   chan struct{} // closed at the first users.list
	listOnce sync.Once
	getGate  chan struct{}
	gated    map[string]bool
	mu       sync.Mutex
	gets     map[string]int
	queries  []string
}

func (d *gatedDir) UsersPage(ctx context.Context, query, token string) ([]chatapi.DirectoryUser, string, error) {
	d.listOnce.Do(func() { close(d.listed) })
	d.mu.Lock()
	d.queries = append(d.queries, query)
	d.mu.Unlock()
	<-d.listGate
	prefix := strings.TrimSuffix(strings.TrimPrefix(query, "email:"), "*")
	var out []chatapi.DirectoryUser
	for _, u := range d.users {
		if strings.HasPrefix(u.PrimaryEmail, prefix) {
			out = append(out, u)
		}
	}
	return out, "", nil
}

func (d *gatedDir) User(ctx context.Context, key string) (chatapi.DirectoryUser, error) {
	d.mu.Lock()
	d.gets[key]++
	d.mu.Unlock()
	if d.gated[key] {
		<-d.getGate
	}
	for _, u := range d.users {
		if u.PrimaryEmail == key {
			return u, nil
		}
	}
	return chatapi.DirectoryUser{}, chatapi.ErrNotFound
}

func (d *gatedDir) count(e string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.gets[e]
}

// An address forgotten while the pass runs is looked up at once
// (uncovered); when the pass ends with that users.get still under way, the
// pass's end must not ask again. (From a review of 647935c, which did.)
func TestUncoveredAddressIsAskedOnce(t *testing.T) {
	ctx := context.Background()
	x := "xavier@corp.test"
	d := &gatedDir{listGate: make(chan struct{}), listed: make(chan struct{}), getGate: make(chan struct{}),
		gated: map[string]bool{x: true}, gets: map[string]int{}}
	d.users = append(d.users, chatapi.DirectoryUser{ID: "9999", PrimaryEmail: x})
	others := membership.DesiredSpace{Name: "spaces/A"}
	for i := 0; i < 300; i++ {
		e := fmt.Sprintf("u%03d@corp.test", i)
		d.users = append(d.users, chatapi.DirectoryUser{ID: fmt.Sprint(1000 + i), PrimaryEmail: e})
		others.Members = append(others.Members, membership.DesiredMember{Principal: membership.User(e), Role: membership.RoleMember})
	}
	cache := cacheWith(t, 5000, cacheEntry(x, "users/9999", false))
	first := membership.DesiredSpace{Name: "spaces/C", Members: []membership.DesiredMember{{Principal: membership.User(x), Role: membership.RoleMember}}}
	later := membership.DesiredSpace{Name: "spaces/B", Members: first.Members}
	s := (&Resolver{Directory: d, DirectoryThrottle: freeThrottle(), Cache: cache}).NewService(membership.Desired{Spaces: []membership.DesiredSpace{first, others, later}}, nil)
	noEmails := &membership.SpaceState{Memberships: []membership.Membership{{Name: "spaces/A/members/1", Principal: "users/1"}}}

	if ids, _ := s.Space(ctx, first, &membership.SpaceState{}, nil); ids.ResolvedBy[x] != ByCache {
		t.Fatalf("%s by %q", x, ids.ResolvedBy[x])
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.Space(ctx, others, noEmails, nil) }() // starts the pass
	<-d.listed
	s.Forget(x)
	go func() {
		defer wg.Done()
		ids, out := s.Space(ctx, later, noEmails, nil)
		if ids.ResolvedBy[x] != ByDirectory || out.NotInDirectory[x] {
			t.Errorf("%s: by %q, not in Directory %v", x, ids.ResolvedBy[x], out.NotInDirectory[x])
		}
	}()
	for deadline := time.Now().Add(5 * time.Second); d.count(x) == 0 && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
	}
	close(d.listGate) // the pass ends while x's users.get is under way
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s.mu.Lock()
		done := s.pass != nil && closed(s.pass.done)
		s.mu.Unlock()
		if done {
			break
		}
	}
	time.Sleep(50 * time.Millisecond) // for a second get, if the pass's end started one
	close(d.getGate)
	wg.Wait()
	if n := d.count(x); n != 1 {
		t.Errorf("%d users.get for %s, want 1", n, x)
	}
}

// OwnsDomain: the domains of the users served.
func (d *gatedDir) OwnsDomain(ctx context.Context, domain string) (bool, error) {
	return slices.ContainsFunc(d.users, func(u chatapi.DirectoryUser) bool { return domainOf(u.PrimaryEmail) == domain }), nil
}
