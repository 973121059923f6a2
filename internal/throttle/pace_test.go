package throttle

import (
	"context"
	"sync"
	"testing"
	"time"
)

// After an idle spell, or when many calls come at once, at most 1+slack
// calls leave together; the rest follow at the pace.
func TestPaceNeverBursts(t *testing.T) {
	t0 := time.Unix(1000, 0)
	now := t0
	p := newPace(100, time.Minute, nil, false, func() time.Time { return now })
	granted := 0
	for i := 0; i < 50; i++ {
		if _, ok := p.take(now); ok {
			granted++
		}
	}
	if granted != 1 {
		t.Errorf("%d calls left at once at the start, want 1", granted)
	}
	now = now.Add(time.Hour) // long idle
	granted = 0
	for i := 0; i < 50; i++ {
		if _, ok := p.take(now); ok {
			granted++
		}
	}
	if granted != 1+slack {
		t.Errorf("%d calls left at once after an idle hour, want %d", granted, 1+slack)
	}
	// From then on one a slot: 10 ms at 100 a second.
	var leave []time.Time
	for len(leave) < 20 {
		at, ok := p.take(now)
		if ok {
			leave = append(leave, now)
			continue
		}
		now = at
	}
	for i := 1; i < len(leave); i++ {
		if gap := leave[i].Sub(leave[i-1]); gap < 10*time.Millisecond-time.Microsecond {
			t.Fatalf("calls %d and %d left %v apart, want 10 ms", i, i+1, gap)
		}
	}
}

// A cut takes effect at the next call: no slots were handed out ahead.
func TestACutTakesEffectAtTheNextCall(t *testing.T) {
	t0 := time.Unix(1000, 0)
	now := t0
	p := newPace(100, time.Minute, nil, false, func() time.Time { return now })
	at, ok := p.take(now)
	for ; ok; at, ok = p.take(now) { // the calls that may leave at once
	}
	p.mu.Lock()
	p.ctl.cutTo, p.ctl.cutAt, p.ctl.hold = 10, now, time.Minute
	p.mu.Unlock()
	now = at
	p.take(now) // leaves at the slot it was given; the one after is 100 ms on
	if at, ok := p.take(now.Add(50 * time.Millisecond)); ok || at.Sub(now) != 100*time.Millisecond {
		t.Errorf("after a cut to 10 a second the next slot is %v on (given: %v), want 100ms", at.Sub(now), ok)
	}
}

// A budget of 95 calls a second lets a run go at the full 100 a second
// until it has made 95 in the window, and never more than 95 in any second.
func TestBudgetKeepsToItsShareOfTheWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	now := t0
	p := newPace(100, time.Second, newBudget(95, time.Second), false, func() time.Time { return now })
	var leave []time.Time
	for now.Before(t0.Add(5 * time.Second)) {
		at, ok := p.take(now)
		if ok {
			leave = append(leave, now)
			continue
		}
		now = at
	}
	if d := leave[94].Sub(leave[0]); d > 950*time.Millisecond {
		t.Errorf("the first 95 calls took %v, want them at the full rate (940 ms)", d)
	}
	for i := range leave {
		j := i
		for j < len(leave) && leave[j].Sub(leave[i]) < time.Second {
			j++
		}
		if j-i > 95 {
			t.Fatalf("%d calls in the second from %v", j-i, leave[i].Sub(t0))
		}
	}
	if n := len(leave); n < 5*95-10 {
		t.Errorf("%d calls in 5 s, want about %d", n, 5*95)
	}
}

// Calls that wait together leave one a slot, in real time.
func TestWaitersLeaveOneASlot(t *testing.T) {
	p := newPace(200, time.Minute, nil, false, time.Now)
	var mu sync.Mutex
	var leave []time.Time
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at, err := p.wait(context.Background())
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			leave = append(leave, at)
			mu.Unlock()
		}()
	}
	wg.Wait()
	first, last := leave[0], leave[0]
	for _, at := range leave {
		if at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	// 20 calls, 1+slack at once, the rest 5 ms apart: at least 75 ms.
	if span := last.Sub(first); span < time.Duration(20-1-slack)*5*time.Millisecond {
		t.Errorf("20 waiting calls left within %v", span)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	p.wait(context.Background())
	p.wait(context.Background())
	if _, err := p.wait(ctx); err == nil {
		t.Error("a wait past its deadline went through")
	}
}

// Refusals that persist at the floor leave the rate where it is, and say
// nothing: "pace lowered from 0.951 to 0.951 a second" (seen in a review
// of a quota another app takes 80% of) is not a slowdown.
func TestACutThatLowersNothingIsNotReported(t *testing.T) {
	t0 := time.Unix(1000, 0)
	now := t0
	p := newPace(100, 6*time.Second, nil, false, func() time.Time { return now })
	p.ctl.cutTo, p.ctl.cutAt, p.ctl.hold = 100*floorShare, t0, time.Hour // held at the floor
	// unlowered: cuts the controller made that did not lower the rate
	unlowered := 0
	for i := 0; i < 10; i++ {
		sent, cuts := now, p.ctl.cuts
		now = now.Add(300 * time.Millisecond) // each sent after the last refusal came back
		cut, from, to := p.answered(sent, true)
		if p.ctl.cuts > cuts && p.ctl.cutTo >= p.ctl.ceiling {
			unlowered++
			if cut {
				t.Errorf("reported a cut from %.3f to %.3f", from, to)
			}
		}
	}
	if unlowered == 0 {
		t.Fatalf("the controller made no cut at the floor: the test no longer reaches the case")
	}
}
