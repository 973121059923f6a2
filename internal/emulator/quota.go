package emulator

import (
	"sync"
	"time"
)

// quota counts one of Google's limits: at most limit calls per period,
// either in a sliding window (any span of length per holds at most limit
// calls; Google counts per minute, so a burst within the minute passes) or
// as a token bucket (refilled at limit/per a second, holding at most burst
// calls: stricter than Google, so a client must pace smoothly to pass).
// Another app may use a share of it: its calls come at an even pace on
// their own clock and always count (it was there first, or retried until it
// passed), so whoever else calls gets at most what is left.
type quota struct {
	mu    sync.Mutex
	limit int
	per   time.Duration

	// sliding window: the times of the last limit calls, in a ring
	ring []time.Time
	next int

	// token bucket (when burst > 0)
	burst  float64
	tokens float64
	filled time.Time // when tokens was last brought up to date

	// another app's calls: one every otherEvery, the next at otherNext
	otherEvery time.Duration
	otherNext  time.Time
	otherCalls int
}

// newQuota counts limit calls per period; burst > 0 makes it a token
// bucket; otherShare of it (0 for none) goes to another app from start on.
func newQuota(limit int, per time.Duration, burst int, otherShare float64, start time.Time) *quota {
	q := &quota{limit: limit, per: per}
	if burst > 0 {
		q.burst = float64(min(burst, limit))
		q.tokens, q.filled = q.burst, start
	} else {
		q.ring = make([]time.Time, limit)
	}
	if otherShare > 0 && limit > 0 {
		q.otherEvery = time.Duration(float64(per) / (float64(limit) * otherShare))
		q.otherNext = start.Add(q.otherEvery / 2)
	}
	return q
}

// allow counts a call at now unless the quota is spent.
func (q *quota) allow(now time.Time) bool {
	if q == nil || q.limit <= 0 {
		return true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.othersUntil(now)
	return q.take(now, false)
}

// othersUntil makes the other app's calls up to now; q.mu is held.
func (q *quota) othersUntil(now time.Time) {
	if q.otherEvery <= 0 {
		return
	}
	// Calls older than a period no longer count (a full bucket stays
	// full): skip them rather than replay a long idle spell.
	if skip := now.Sub(q.otherNext) - q.per; skip > 0 {
		n := int(skip / q.otherEvery)
		q.otherNext = q.otherNext.Add(time.Duration(n) * q.otherEvery)
		q.otherCalls += n
	}
	for ; !q.otherNext.After(now); q.otherNext = q.otherNext.Add(q.otherEvery) {
		q.otherCalls++
		q.take(q.otherNext, true)
	}
}

// take counts one call at now if there is room, or in any case when forced
// (a bucket then goes into debt; a window forgets its oldest call); q.mu is
// held.
func (q *quota) take(now time.Time, force bool) bool {
	if q.burst > 0 {
		if d := now.Sub(q.filled); d > 0 {
			q.tokens = min(q.burst, q.tokens+d.Seconds()*float64(q.limit)/q.per.Seconds())
			q.filled = now
		}
		if q.tokens < 1 && !force {
			return false
		}
		q.tokens--
		return true
	}
	oldest := q.ring[q.next]
	if !oldest.IsZero() && now.Sub(oldest) < q.per && !force {
		return false
	}
	q.ring[q.next] = now
	q.next = (q.next + 1) % q.limit
	return true
}

// other reports how many calls the other app has made by now.
func (q *quota) other(now time.Time) int {
	if q == nil {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.othersUntil(now)
	return q.otherCalls
}

// quotas are Google's published limits, scaled: at scale N the same number
// of calls is allowed in 1/N of the time.
type quotas struct {
	writes, reads, spaceReads, directory *quota
	perSpaceReadLimit, burst             int
	perSpacePer                          time.Duration
	mu                                   sync.Mutex
	perSpace                             map[string]*quota
}

func newQuotas(opts Options) *quotas {
	if opts.QuotaScale <= 0 {
		return &quotas{} // no quotas
	}
	now := time.Now()
	burst := 0
	if opts.QuotaBucket {
		burst = opts.QuotaBurst
		if burst <= 0 {
			burst = DefaultQuotaBurst
		}
	}
	minute := time.Duration(float64(time.Minute) / opts.QuotaScale)
	project := func(limit int) *quota { return newQuota(limit, minute, burst, opts.OtherAppShare, now) }
	return &quotas{
		writes:            project(300),
		reads:             project(3000),
		spaceReads:        project(3000),
		directory:         project(2400),
		perSpaceReadLimit: 15,
		burst:             burst,
		perSpacePer:       time.Duration(float64(time.Second) / opts.QuotaScale),
		perSpace:          map[string]*quota{},
	}
}

// otherApp sums the other app's calls over the project quotas.
func (q *quotas) otherApp(now time.Time) (calls int) {
	for _, p := range []*quota{q.writes, q.reads, q.spaceReads, q.directory} {
		calls += p.other(now)
	}
	return calls
}

func (q *quotas) spaceQuota(space string) *quota {
	if q.perSpace == nil {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	w := q.perSpace[space]
	if w == nil {
		w = newQuota(q.perSpaceReadLimit, q.perSpacePer, q.burst, 0, time.Now())
		q.perSpace[space] = w
	}
	return w
}
