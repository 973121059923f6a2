// Package budget is what a run may hold while it waits: the memberships of
// spaces read but not yet planned (a space waits for the Directory pass,
// or for the rules, to settle who its people are). It is counted here, in
// memberships, and nowhere else; reads ask it before they go on, and past
// the limit they pause until planning releases what is held. Nothing is
// dropped: a paused run is slower, never different.
//
// It can't deadlock: a read goes on whenever nothing is held, so a space
// bigger than the whole budget is still read, and what is held is always
// released by planning, which never waits for a read.
package budget

import (
	"context"
	"math"
	"sync"
	"time"
)

// Budget counts held memberships; a nil *Budget holds without limit.
type Budget struct {
	limit int
	// Paused, when set, is told when reads start and stop waiting.
	Paused func(waiting bool)

	mu      sync.Mutex
	held    int
	peak    int
	waiting int           // reads waiting for room
	room    chan struct{} // closed, and replaced, when memberships are released
	waited  time.Duration // reads' time spent waiting, all told
	since   time.Time     // when reads started waiting, while some do
}

// New returns a budget of limit memberships (at least 1).
func New(limit int) *Budget {
	return &Budget{limit: max(1, limit), room: make(chan struct{})}
}

// Limit is the budget's size in memberships.
func (b *Budget) Limit() int {
	if b == nil {
		return math.MaxInt
	}
	return b.limit
}

// Wait returns when a read may go on: what is held is under the limit,
// or nothing is held. It returns ctx's cause if ctx ends first.
func (b *Budget) Wait(ctx context.Context) error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	for b.held >= b.limit && b.held > 0 {
		if b.waiting++; b.waiting == 1 {
			b.since = time.Now()
			b.tell(true)
		}
		room := b.room
		b.mu.Unlock()
		var err error
		select {
		case <-room:
		case <-ctx.Done():
			err = context.Cause(ctx)
		}
		b.mu.Lock()
		if b.waiting--; b.waiting == 0 {
			b.waited += time.Since(b.since)
			b.tell(false)
		}
		if err != nil {
			b.mu.Unlock()
			return err
		}
	}
	b.mu.Unlock()
	return nil
}

// tell calls Paused; with b.mu held, so calls come in order.
func (b *Budget) tell(waiting bool) {
	if b.Paused != nil {
		b.Paused(waiting)
	}
}

// Hold counts n memberships read and not yet planned.
func (b *Budget) Hold(n int) {
	if b == nil || n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held += n
	b.peak = max(b.peak, b.held)
}

// Release gives back n memberships, once their space is planned.
func (b *Budget) Release(n int) {
	if b == nil || n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held -= n
	if b.waiting > 0 && b.held < b.limit {
		close(b.room)
		b.room = make(chan struct{})
	}
}

// Stats are what a run's log says of the budget: the most held at once,
// and how long reads waited for room.
func (b *Budget) Stats() (peak int, waited time.Duration) {
	if b == nil {
		return 0, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.waited
	if b.waiting > 0 {
		w += time.Since(b.since)
	}
	return b.peak, w
}

// Memory a held membership is counted at. Held (internal/job's compact
// form) one is ~60 bytes live on a 1,000,000-membership plan whose lists
// carry no emails; the spaces being planned beside them, their decoding
// and the collector's headroom (GOGC 35) make the rest: 400 keeps a
// margin for spaces whose lists carry emails or unusual names.
const bytesPerMembership = 400

// DefaultLimit is the budget when none is configured: a quarter of the
// memory limit (GOMEMLIMIT, as debug.SetMemoryLimit(-1) reports it; the
// rest is the sources, the identity records and the collector's room), or,
// with no limit set, what fits a 1 GiB container beside a million
// memberships' sources: 250,000 memberships (~100 MiB). The fallback is
// below what a 1 GiB limit gives (671,088), and below a 512 MiB one's
// (335,544): with no limit the collector does not work harder as memory
// fills, so the margin is the budget's.
func DefaultLimit(memoryLimit int64) int {
	const fallback = 250_000
	if memoryLimit <= 0 || memoryLimit == math.MaxInt64 {
		return fallback
	}
	return int(max(10_000, min(int64(fallback)*8, memoryLimit/4/bytesPerMembership)))
}
