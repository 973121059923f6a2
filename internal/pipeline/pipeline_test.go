package pipeline

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunOverlapsReadsWithSlowPlanning(t *testing.T) {
	// Planning waits on a gate that opens only after every read is done:
	// if planning held read slots, the run would deadlock.
	const n, readers = 50, 4
	gate := make(chan struct{})
	var reads, inFlight, most atomic.Int64
	got := map[int]int{}
	Run(context.Background(), n, readers, Stages[int, int]{
		Read: func(ctx context.Context, i int) (int, error) {
			now := inFlight.Add(1)
			for {
				m := most.Load()
				if now <= m || most.CompareAndSwap(m, now) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			inFlight.Add(-1)
			if reads.Add(1) == n {
				close(gate)
			}
			return i * 10, nil
		},
		Plan: func(ctx context.Context, i, state int) (int, error) {
			<-gate
			return state + 1, nil
		},
		Done: func(i, p int, err error) { got[i] = p }, // serialised: no lock needed
	})
	if len(got) != n || got[7] != 71 {
		t.Errorf("outcomes %v", got)
	}
	if most.Load() > readers {
		t.Errorf("%d reads in flight at once, want at most %d", most.Load(), readers)
	}
}

func TestRunReportsReadErrorsAndStops(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("stopped by the test")
	var mu sync.Mutex
	errs := map[int]error{}
	planned := 0
	Run(ctx, 100, 2, Stages[int, int]{
		Read: func(ctx context.Context, i int) (int, error) {
			if i == 3 {
				return 0, errors.New("unreadable")
			}
			if i == 10 {
				cancel(stop)
			}
			return i, nil
		},
		Plan: func(ctx context.Context, i, state int) (int, error) { return state, nil },
		Done: func(i, p int, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[i] = err
			} else {
				planned++
			}
		},
	})
	if errs[3] == nil || errs[3].Error() != "unreadable" {
		t.Errorf("space 3: %v", errs[3])
	}
	if planned+len(errs) != 100 || !errors.Is(errs[99], stop) {
		t.Errorf("%d planned, %d errors (99: %v); every space must be done, the unstarted with the cause", planned, len(errs), errs[99])
	}
}
