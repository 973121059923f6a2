// Package pipeline runs the per-space part of a sync for many spaces at
// once: each space is read, then planned as soon as it can be (planning may
// wait, for identities, without holding up reads), then handed on, while
// other spaces are still being read. A space's state lives only from its
// read to its plan. Reads in flight are bounded; everything stops with the
// context. The stages are the caller's: the pipeline knows nothing of the
// API or of plans.
package pipeline

import (
	"context"
	"sync"
)

// Stages are what happens to each space, by index.
type Stages[S, P any] struct {
	// Read reads space i; an error leaves it unread (Plan is not called).
	Read func(ctx context.Context, i int) (S, error)
	// Plan plans space i from what Read returned; an error leaves it
	// unplanned (e.g. the run stopped while it waited).
	Plan func(ctx context.Context, i int, state S) (P, error)
	// Done gets each space's outcome as soon as it is known, one call at a
	// time, in no particular order.
	Done func(i int, plan P, err error)
}

// Run runs n spaces through the stages, at most readers reads at once, and
// returns when every space is done. Spaces not started when ctx ends are
// done with ctx's cause as their error.
func Run[S, P any](ctx context.Context, n, readers int, st Stages[S, P]) {
	var (
		mu      sync.Mutex // serialises Done
		planned sync.WaitGroup
		slots   = make(chan struct{}, max(1, readers))
	)
	done := func(i int, p P, err error) {
		mu.Lock()
		defer mu.Unlock()
		st.Done(i, p, err)
	}
	var zero P
	for i := 0; i < n; i++ {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			for ; i < n; i++ {
				done(i, zero, context.Cause(ctx))
			}
			planned.Wait()
			return
		}
		planned.Add(1)
		go func() {
			defer planned.Done()
			state, err := st.Read(ctx, i)
			<-slots // the read is over: planning doesn't hold a read slot
			if err != nil {
				done(i, zero, err)
				return
			}
			p, err := st.Plan(ctx, i, state)
			done(i, p, err)
		}()
	}
	planned.Wait()
}
