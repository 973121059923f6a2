package identity

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/membership"
)

// slowToStop is a Directory whose users.list answers only once the run is
// cancelled, and then a while later (a call in flight, given the
// throttle's grace).
type slowToStop struct {
	gatedDir
	asked chan struct{} // closed at the first users.list
	once  sync.Once
}

func (d *slowToStop) UsersPage(ctx context.Context, query, token string) ([]chatapi.DirectoryUser, string, error) {
	d.once.Do(func() { close(d.asked) })
	<-ctx.Done()
	time.Sleep(100 * time.Millisecond)
	return nil, "", ctx.Err()
}

// Wait returns only once the passes' goroutines have ended: the run's end
// calls it before saving the cache, since a query between a page and its
// next step holds the service's lock and asks the cache while Save holds
// the cache's and reads the service's records.
func TestWaitOutlastsThePasses(t *testing.T) {
	ds := membership.DesiredSpace{Name: "spaces/A"}
	for i := 0; i < 300; i++ {
		ds.Members = append(ds.Members, membership.DesiredMember{Principal: membership.User(fmt.Sprintf("u%03d@corp.test", i)), Role: membership.RoleMember})
	}
	d := &slowToStop{asked: make(chan struct{})}
	s := (&Resolver{Directory: d, DirectoryThrottle: freeThrottle()}).NewService(membership.Desired{Spaces: []membership.DesiredSpace{ds}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	s.Anticipate(ctx)
	p := s.early
	if p == nil {
		t.Fatal("no pass started: the test shows nothing")
	}
	<-d.asked // a call in flight
	cancel()
	s.Wait()
	if !closed(p.done) {
		t.Error("Wait returned while the pass was still running")
	}
}
