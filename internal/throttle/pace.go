package throttle

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Adaptive pacing: quotas are shared with every other app in the project
// and the space, so a perfect client can still be told "too many". A 429
// cuts the pace to slowFactor of what it was (at most once per cooldown, so
// one burst of refusals is one cut), never below floorShare of the target,
// and the pace then climbs back linearly, recoverPerSecond of the target each
// second, while no 429 comes.
const (
	slowFactor       = 0.7
	floorShare       = 0.1
	recoverPerSecond = 0.03
	cooldown         = time.Second
)

// pace is a rate limiter whose rate drops on 429s and recovers on its own.
type pace struct {
	lim    *rate.Limiter
	target rate.Limit

	mu    sync.Mutex
	cutTo rate.Limit // the rate right after the last cut; target when none
	cutAt time.Time
	set   rate.Limit // what lim is set to now
}

func newPace(target rate.Limit) *pace {
	return &pace{lim: rate.NewLimiter(target, 1), target: target, cutTo: target, set: target}
}

// current is the pace at now: the last cut, plus what has recovered since.
func (p *pace) current(now time.Time) rate.Limit {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.currentLocked(now)
}

func (p *pace) currentLocked(now time.Time) rate.Limit {
	if p.cutTo >= p.target {
		return p.target
	}
	r := p.cutTo + rate.Limit(float64(p.target)*recoverPerSecond*now.Sub(p.cutAt).Seconds())
	return min(r, p.target)
}

// wait takes one call's turn at the current pace.
func (p *pace) wait(ctx context.Context) error {
	now := time.Now()
	p.mu.Lock()
	if r := p.currentLocked(now); r != p.set {
		p.set = r
		p.lim.SetLimitAt(now, r)
		if r >= p.target {
			p.cutTo = p.target
		}
	}
	p.mu.Unlock()
	return p.lim.Wait(ctx)
}

// slow cuts the pace after a 429 and reports whether it did.
func (p *pace) slow(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.cutAt.IsZero() && now.Sub(p.cutAt) < cooldown {
		return false
	}
	r := max(p.currentLocked(now)*slowFactor, p.target*floorShare)
	p.cutTo, p.cutAt, p.set = r, now, r
	p.lim.SetLimitAt(now, r)
	return true
}
