package throttle_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
	"github.com/syncer-dev/syncer/internal/throttle"
)

// listAll lists n spaces through th against an emulator at quotas ×scale,
// many at once, and returns what the emulator saw.
func listAll(t *testing.T, scale float64, opts emulator.Options, stray, n int) (*throttle.Throttle, emulator.Stats) {
	t.Helper()
	seed, _, _ := emulatortest.World{Spaces: n, MembersPerSpace: 2}.Build()
	opts.QuotaScale = scale
	em, url := emulatortest.Start(t, seed, opts)
	if stray > 0 {
		em.SetMisbehaviour("members.list", emulator.Misbehaviour{Status: 429, AtCall: stray})
	}
	c := emulatortest.Client(t, url)
	th := throttle.New(throttle.Limits{ProjectReadsPerMinute: int(3000 * scale), ProjectWritesPerMinute: int(300 * scale),
		SpaceReadsPerSecond: int(15 * scale), MaxAttempts: 6, BaseDelay: 100 * time.Millisecond,
		Window: time.Duration(float64(time.Minute) / scale)})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			space := fmt.Sprintf("spaces/W%05d", i)
			if err := th.Read(ctx, "list", space, func(ctx context.Context) error {
				_, _, err := c.ListPage(ctx, space, "")
				return err
			}); err != nil {
				t.Errorf("%s: %v", space, err)
			}
		}()
	}
	wg.Wait()
	return th, em.Stats()
}

// Against a quota counted in a token bucket, one stray 429 is retried and
// costs no cut of the pace. (The bucket holds 40 calls, 200 ms at this
// rate, so that a busy test machine stalling the emulator does not refuse
// calls of its own: the bench's bucket holds 10.)
func TestAStray429AgainstATokenBucket(t *testing.T) {
	t.Parallel()
	th, st := listAll(t, 4, emulator.Options{QuotaBucket: true, QuotaBurst: 40}, 200, 600)
	if got := st.Requests["members.list 429"]; got < 1 {
		t.Fatalf("the stray 429 was not sent (%v)", st.Requests)
	}
	full := 3000 * 4 / 60.0
	if th.Slowdowns() != 0 || th.Rate(throttle.Read) < 0.97*full {
		t.Errorf("after a stray 429 (and %d of the bucket's own) the pace was cut %d times, to %.0f a second of %.0f",
			st.QuotaRejections, th.Slowdowns(), th.Rate(throttle.Read), full)
	}
}

// Another app takes 30% of the quota: every call gets through, the pace is
// cut below the 70% left, and few calls are refused on the way. (On a busy
// machine the emulator's stalls refuse calls of their own, so the bound is
// loose here; TestASharedQuotaIsFoundAndKeptTo shows on a simulated clock
// how close the pace settles and that at most 1% of calls are refused.)
func TestASharedTokenBucket(t *testing.T) {
	t.Parallel()
	th, st := listAll(t, 5, emulator.Options{QuotaBucket: true, QuotaBurst: 20, OtherAppShare: 0.3}, 0, 1000)
	calls := st.Count("members.list")
	full := 3000 * 5 / 60.0
	if st.QuotaRejections > calls/20 {
		t.Errorf("%d of %d calls refused, want at most 5%%", st.QuotaRejections, calls)
	}
	if r := th.Rate(throttle.Read); th.Slowdowns() == 0 || r > 0.75*full {
		t.Errorf("the pace ended at %.0f a second after %d cuts; want it at most the %.0f the other app leaves", r, th.Slowdowns(), 0.7*full)
	}
}
