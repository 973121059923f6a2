package job_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/identity"
	"github.com/syncer-dev/syncer/internal/job"
)

// slowPass answers users.list only once the run is over, a while later.
type slowPass struct {
	identity.Directory
	asked, returned atomic.Bool
}

func (d *slowPass) UsersPage(ctx context.Context, query, token string) ([]chatapi.DirectoryUser, string, error) {
	d.asked.Store(true)
	<-ctx.Done()
	time.Sleep(100 * time.Millisecond)
	d.returned.Store(true)
	return nil, "", ctx.Err()
}

// A run returns only once its Directory pass has ended: the identity cache
// is saved after it (a pass query and Save take the run's and the cache's
// locks in opposite orders). Lists carry every email here, so the pass
// started beside the first reads is never needed and ends with the run.
func TestARunWaitsForItsPassBeforeItEnds(t *testing.T) {
	const n = 300
	seed := world(n, 2)
	var csv strings.Builder
	csv.WriteString("space,member,role\n")
	for s := range seed.Spaces {
		fmt.Fprintf(&csv, "%s,boss@example.com,owner\n", seed.Spaces[s].Name)
		for i := 0; i < n; i++ {
			seed.Spaces[s].Members = append(seed.Spaces[s].Members, emulator.SeedMember{User: fmt.Sprintf("u%d@example.com", i)})
			fmt.Fprintf(&csv, "%s,u%d@example.com,\n", seed.Spaces[s].Name, i)
		}
	}
	f := newFixture(t, seed, emulator.Options{}, csv.String())
	f.resolve = true
	d := &slowPass{}
	res, err := f.runAs(t, context.Background(), func(j *job.Job) {
		d.Directory = j.Resolver.Directory
		j.Resolver.Directory = d
	})
	if err != nil || !res.Plan.Complete() || !res.Plan.Empty() {
		t.Fatalf("err %v, incomplete %q, changes %d; want a converged world", err, res.Plan.Incomplete, len(res.Plan.Changes))
	}
	if !d.asked.Load() {
		t.Fatal("no users.list: the test shows nothing")
	}
	if !d.returned.Load() {
		t.Error("the run returned while its pass's call was still under way")
	}
}
