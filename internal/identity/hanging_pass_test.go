package identity

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/throttle"
)

// users.list hangs; users.get works. The pass's prefix queries time out
// side by side while every space waits for it; the throttle's health check
// took their timeouts for "the API is down" and called OnFatal (the CLI
// stops the run there), where a failed pass falls back to users.get. Time
// scaled down: DeadAfter 1 s, a 300 ms call timeout (defaults: 30 s, 30 s).
func TestAHangingUsersListIsNotADeadAPI(t *testing.T) {
	ctx := context.Background()
	w := emulatortest.World{Spaces: 2, MembersPerSpace: 400, Bystanders: 3000, Spread: emulatortest.SpreadEven}
	seed, _, _ := w.Build()
	em, d := emulatedDirectory(t, seed)
	em.SetMisbehaviour("directory.users.list", emulator.Misbehaviour{Hang: true})
	th := throttle.New(throttle.Limits{DirectoryPerMinute: 1e6, MaxAttempts: 6, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond,
		CallTimeout: 300 * time.Millisecond, DeadAfter: time.Second})
	var fatal atomic.Value
	th.OnFatal = func(err error) { fatal.Store(err.Error()) }
	idOf := map[string]string{}
	for _, u := range seed.Users {
		idOf[u.Email] = u.ID
	}
	var unresolved atomic.Int64
	var desired membership.Desired
	for _, sp := range seed.Spaces {
		ds := membership.DesiredSpace{Name: sp.Name}
		for _, mm := range sp.Members {
			ds.Members = append(ds.Members, membership.DesiredMember{Principal: membership.User(mm.User), Role: membership.RoleMember})
		}
		desired.Spaces = append(desired.Spaces, ds)
	}
	r := &Resolver{Directory: d, DirectoryThrottle: th, Cache: cacheWith(t, 20000)}
	s := r.NewService(desired, func() time.Duration { return 200 * time.Millisecond })
	var wg sync.WaitGroup
	for k, ds := range desired.Spaces {
		listed := &membership.SpaceState{}
		for j, mm := range seed.Spaces[k].Members {
			listed.Memberships = append(listed.Memberships, membership.Membership{Name: fmt.Sprintf("%s/members/%d", ds.Name, j), Principal: membership.User(idOf[mm.User])})
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids, _ := s.Space(ctx, ds, listed, nil)
			for _, m := range ds.Members {
				e := m.Principal.Email()
				if got, want := ids.Aliases[e], membership.User(idOf[e]); got != want {
					unresolved.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := unresolved.Load(); n > 0 {
		t.Errorf("%d addresses not matched to their IDs", n)
	}
	st := em.Stats()
	if f := fatal.Load(); f != nil {
		t.Errorf("the run would stop: %s", f)
	}
	if st.Count("directory.users.list") == 0 || st.Count("directory.users.get") == 0 {
		t.Errorf("users.list %d, users.get %d: want the pass tried, then users.get", st.Count("directory.users.list"), st.Count("directory.users.get"))
	}
}
