package emulator

import (
	"sync"
	"time"
)

// window is a sliding-window counter: at most limit events in any span of
// length per. It keeps the times of the last limit events in a ring.
type window struct {
	mu    sync.Mutex
	limit int
	per   time.Duration
	ring  []time.Time
	next  int
}

func newWindow(limit int, per time.Duration) *window {
	return &window{limit: limit, per: per, ring: make([]time.Time, limit)}
}

// allow records an event at now unless the window is full.
func (w *window) allow(now time.Time) bool {
	if w == nil || w.limit <= 0 {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	oldest := w.ring[w.next]
	if !oldest.IsZero() && now.Sub(oldest) < w.per {
		return false
	}
	w.ring[w.next] = now
	w.next = (w.next + 1) % w.limit
	return true
}

// quotas are Google's published limits, scaled: at scale N the same number
// of calls is allowed in 1/N of the time.
type quotas struct {
	writes, reads, spaceReads, directory *window
	perSpaceReadLimit                    int
	perSpacePer                          time.Duration
	mu                                   sync.Mutex
	perSpace                             map[string]*window
}

func newQuotas(scale float64) *quotas {
	if scale <= 0 {
		return &quotas{} // no quotas
	}
	minute := time.Duration(float64(time.Minute) / scale)
	return &quotas{
		writes:            newWindow(300, minute),
		reads:             newWindow(3000, minute),
		spaceReads:        newWindow(3000, minute),
		directory:         newWindow(2400, minute),
		perSpaceReadLimit: 15,
		perSpacePer:       time.Duration(float64(time.Second) / scale),
		perSpace:          map[string]*window{},
	}
}

func (q *quotas) spaceWindow(space string) *window {
	if q.perSpace == nil {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	w := q.perSpace[space]
	if w == nil {
		w = newWindow(q.perSpaceReadLimit, q.perSpacePer)
		q.perSpace[space] = w
	}
	return w
}
