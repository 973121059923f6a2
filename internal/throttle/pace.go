package throttle

import (
	"context"
	"errors"
	"sync"
	"time"
)

// A pace spaces one kind of call (or one space's calls) evenly at a rate.
// Calls take turns: the one whose turn it is sleeps until its slot, so a
// cut takes effect at the very next call (no slots reserved ahead at the
// old rate) and goroutines waking together never leave together. A call
// that comes late may catch up at most slack slots, so after an idle spell,
// or a stall of the process, at most 1+slack calls leave at once (none at
// the pace's first call): a server counting with a small token bucket sees
// a smooth client.
//
// Within a window the server can't be seen to count (Google counts per
// minute), a budget keeps to headroom × quota calls in any window: a short
// run goes at the quota's full rate, a long one pauses near each window's
// end. See control.go for how refusals lower the rate.
type pace struct {
	now    func() time.Time
	turn   chan struct{} // held by the one call waiting for its slot
	wake   chan struct{} // the slot came earlier: look again
	budget *budget       // nil: none

	mu   sync.Mutex
	next time.Time // the earliest the next call may leave
	ctl  controller
}

// slack is how many slots a late call may catch up.
const slack = 4

// newPace paces at rate, with span the window of the quota (the time scale
// of its controller); budget may be nil; keepAccepted keeps a count of the
// accepted calls over the last span, for the controller to estimate a
// per-minute count's capacity from.
func newPace(rate float64, span time.Duration, budget *budget, keepAccepted bool, now func() time.Time) *pace {
	p := &pace{now: now, turn: make(chan struct{}, 1), wake: make(chan struct{}, 1), budget: budget,
		ctl: controller{full: rate, span: span}}
	if keepAccepted {
		p.ctl.accepted = newCounter(span)
	}
	return p
}

// errPastDeadline means the slot comes after the context's deadline.
var errPastDeadline = errors.New("the pace's next slot is past the deadline")

// wait takes one call's slot and returns when the call may leave (the time
// it leaves, for the controller to know which pace it was sent at).
func (p *pace) wait(ctx context.Context) (time.Time, error) {
	select {
	case p.turn <- struct{}{}:
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
	defer func() { <-p.turn }()
	for {
		now := p.now()
		at, ok := p.take(now)
		if ok {
			return now, nil
		}
		if d, has := ctx.Deadline(); has && at.After(d) {
			return time.Time{}, errPastDeadline
		}
		// The slot may move while we sleep: later (a cut) or earlier (the
		// pace climbing, a blocked spell ending): look again then.
		timer := time.NewTimer(at.Sub(now))
		select {
		case <-ctx.Done():
			timer.Stop()
			return time.Time{}, ctx.Err()
		case <-p.wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// take gives now's call its slot if it has come (true), or says when it will.
func (p *pace) take(now time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := p.next
	if p.budget != nil {
		if free := p.budget.freeAt(now); free.After(at) {
			at = free
		}
	}
	if at.After(now) {
		return at, false
	}
	gap, probe := p.ctl.gap(now)
	switch {
	case probe, p.next.IsZero():
		// The first call has no slots to catch up: the calls of a run's
		// start leave a slot apart, so a fatal answer to the first (no
		// Chat app configured, say) stops the run before the next.
		p.next = now.Add(gap)
	default:
		p.next = later(p.next, now.Add(-slack*gap)).Add(gap)
	}
	if p.budget != nil {
		p.budget.add(now)
	}
	return now, true
}

// answered tells the controller how a call sent at sent was answered; it
// reports whether that cut the pace, from what rate to what. A cut that
// leaves the rate where it was (at the floor) is not reported: the log
// would say the pace was lowered from 0.951 to 0.951 a second.
func (p *pace) answered(sent time.Time, refused bool) (cut bool, from, to float64) {
	now := p.now()
	p.mu.Lock()
	cut, unblocked := p.ctl.answered(now, sent, refused)
	from, to = p.ctl.ceiling, p.ctl.cutTo
	if unblocked && p.next.After(now) {
		p.next = now
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	p.mu.Unlock()
	return cut && to < from, from, to
}

// rate is the pace now, in calls a second.
func (p *pace) rate() float64 {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ctl.rate(now)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// counter counts events in a sliding window, in slots: it over-counts by at
// most one slot's events, never under-counts.
type counter struct {
	slot   time.Duration // the window ÷ counterSlots
	counts [counterSlots + 1]int
	newest int64 // the slot index (time ÷ slot) counts[newest%len] holds
	sum    int
}

const counterSlots = 128

func newCounter(window time.Duration) *counter {
	if window < counterSlots {
		return nil
	}
	return &counter{slot: window / counterSlots}
}

// advance forgets the slots that have left the window by now.
func (c *counter) advance(now time.Time) int64 {
	i := now.UnixNano() / int64(c.slot)
	if i <= c.newest {
		return c.newest // a clock read a moment late counts in the newest slot
	}
	n := int64(len(c.counts))
	for j := c.newest + 1; j <= i && j <= c.newest+n; j++ {
		c.sum -= c.counts[j%n]
		c.counts[j%n] = 0
	}
	c.newest = i
	return i
}

// count is how many events the window holds at now.
func (c *counter) count(now time.Time) int {
	c.advance(now)
	return c.sum
}

// add counts an event at now.
func (c *counter) add(now time.Time) {
	i := c.advance(now)
	c.counts[i%int64(len(c.counts))]++
	c.sum++
}

// budget allows at most limit calls in any window.
type budget struct {
	limit int
	calls *counter
}

func newBudget(limit int, window time.Duration) *budget {
	c := newCounter(window)
	if limit < 1 || c == nil {
		return nil
	}
	return &budget{limit: limit, calls: c}
}

// freeAt is when one more call fits in the window: now, or when enough of
// the oldest slots have left it.
func (b *budget) freeAt(now time.Time) time.Time {
	c := b.calls
	i := c.advance(now)
	if c.sum < b.limit {
		return now
	}
	n := int64(len(c.counts))
	left := c.sum
	for j := int64(0); j < n; j++ { // the oldest slot in the window is i-n+1
		left -= c.counts[(i-n+1+j)%n]
		if left < b.limit {
			return time.Unix(0, (i+j+1)*int64(c.slot))
		}
	}
	return time.Unix(0, (i+n)*int64(c.slot))
}

// add counts a call at now.
func (b *budget) add(now time.Time) { b.calls.add(now) }
