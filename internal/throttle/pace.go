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
// minute), a budget keeps to headroom × quota calls in any window (less
// once a full window taught it what the window holds for this pace: see
// budget.learn): a short run goes at the quota's full rate, a long one
// pauses near each window's end. See control.go for how refusals lower the
// rate.
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
// reports whether that cut the pace, from what rate to what.
func (p *pace) answered(sent time.Time, refused bool) (cut bool, from, to float64) {
	now := p.now()
	p.mu.Lock()
	was := p.rateLocked(now)
	cut, unblocked, blocked := p.ctl.answered(now, sent, refused)
	from, to = p.ctl.ceiling, p.ctl.cutTo
	if blocked {
		// No call until the first probe's time: the one due next would
		// only meet the full window.
		p.next = later(p.next, now.Add(p.ctl.blocked))
		p.ctl.blocked = min(2*p.ctl.blocked, p.ctl.span/8)
		if p.budget != nil && p.ctl.accepted != nil {
			// What the window held of this pace's calls when it filled is
			// what it holds for them: kept to, the window never fills again
			// while the other callers keep to theirs.
			since, _ := p.ctl.accepted.oldest(now)
			if p.budget.learn(p.ctl.accepted.count(now), since, now) {
				cut, from, to = true, was, p.rateLocked(now)
			}
		}
	}
	if unblocked && p.next.After(now) {
		p.next = now
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	p.mu.Unlock()
	return cut, from, to
}

// rate is the pace now, in calls a second: the controller's, or less where
// a learnt budget holds it lower.
func (p *pace) rate() float64 {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rateLocked(now)
}

func (p *pace) rateLocked(now time.Time) float64 {
	r := p.ctl.rate(now)
	if b := p.budget; b != nil && b.learnt > 0 {
		r = min(r, float64(b.limitAt(now))/(b.calls.slot*counterSlots).Seconds())
	}
	return r
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

// oldest is the end of the oldest slot in the window at now that holds an
// event (false: none): that event was at or before it.
func (c *counter) oldest(now time.Time) (time.Time, bool) {
	i := c.advance(now)
	n := int64(len(c.counts))
	for j := i - n + 1; j <= i; j++ {
		if j >= 0 && c.counts[j%n] > 0 {
			return time.Unix(0, (j+1)*int64(c.slot)), true
		}
	}
	return time.Time{}, false
}

// add counts an event at now.
func (c *counter) add(now time.Time) {
	i := c.advance(now)
	c.counts[i%int64(len(c.counts))]++
	c.sum++
}

// budget allows at most limit calls in any window; less once a full window
// taught it what the window holds for this pace (learn), climbing back
// after a long hold: the other callers may have gone.
type budget struct {
	limit int
	calls *counter

	learnt   int       // 0: nothing learnt
	learntAt time.Time // when
	hold     time.Duration
}

func newBudget(limit int, window time.Duration) *budget {
	c := newCounter(window)
	if limit < 1 || c == nil {
		return nil
	}
	return &budget{limit: limit, calls: c}
}

// learn sets the budget to n calls a window, as a window that filled with
// n of this pace's calls in it says, the oldest accepted at since; it
// reports whether that lowered the budget. It is not learnt from:
//   - a window this pace has not been sending through for most of its
//     length, unless n is at least half the limit: four refusals in a row
//     at a run's start, or after an idle spell, may be a stray burst, and
//     the few calls accepted before them no measure of the window;
//   - a window filled while a learnt budget holds, unless n is under 95%
//     of it: the budget itself capped what was accepted (a bucket refusing
//     the calls it let go together, say), and the controller's cut answers
//     that. Well under it, the budget was learnt too high (the other
//     callers' calls did not yet fill the window then).
//
// The learnt count is at least floorShare of the limit. It holds
// budgetHold windows, twice the last hold when the window filled again
// soon after the climb began (up to 4 × maxHolds), then climbs back.
func (b *budget) learn(n int, since, now time.Time) bool {
	window := b.calls.slot * counterSlots
	holding := b.learnt != 0 && now.Before(b.learntAt.Add(b.hold))
	switch {
	case n >= b.limitAt(now), holding && 20*n >= 19*b.learnt:
		return false
	case 2*n < b.limit && since.After(now.Add(-window+2*b.calls.slot)):
		return false
	}
	hold := budgetHold * window
	switch {
	case holding:
		hold = b.hold // learnt too high (the window was not yet full of the others' calls): again, as long
	case b.learnt != 0 && now.Before(b.learntAt.Add(b.hold+2*window)):
		hold = min(2*b.hold, 4*maxHolds*window)
	}
	b.learnt, b.learntAt, b.hold = max(n, int(floorShare*float64(b.limit)), 1), now, hold
	return true
}

// budgetHold is the windows a learnt budget first holds before it climbs.
// At 4, the climb (the controller's rate back at full meanwhile) filled
// the quota sweep's shared window again 12 s into a 17 s run: 15-16
// refusals of 1,270 calls, where 8 sees 4-6.
const budgetHold = 8

// limitAt is the most calls a window may hold at now: the learnt count,
// then after the hold climbing by climbShare of the limit a window.
func (b *budget) limitAt(now time.Time) int {
	if b.learnt == 0 {
		return b.limit
	}
	window := b.calls.slot * counterSlots
	since := now.Sub(b.learntAt) - b.hold
	if since <= 0 {
		return b.learnt
	}
	return min(b.limit, b.learnt+int(float64(b.limit)*climbShare*since.Seconds()/window.Seconds()))
}

// freeAt is when one more call fits in the window: now, or when enough of
// the oldest slots have left it.
func (b *budget) freeAt(now time.Time) time.Time {
	c := b.calls
	i := c.advance(now)
	limit := b.limitAt(now)
	if c.sum < limit {
		return now
	}
	n := int64(len(c.counts))
	left := c.sum
	for j := int64(0); j < n; j++ { // the oldest slot in the window is i-n+1
		left -= c.counts[(i-n+1+j)%n]
		if left < limit {
			return time.Unix(0, (i+j+1)*int64(c.slot))
		}
	}
	return time.Unix(0, (i+n)*int64(c.slot))
}

// add counts a call at now.
func (b *budget) add(now time.Time) { b.calls.add(now) }
