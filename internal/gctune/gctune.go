// Package gctune gives the garbage collector a floor of headroom. GOGC
// alone sets the next collection at a share of the live heap, so a lean
// share (the syncer runs at 35, to keep a million memberships well under
// container limits) collects a small heap every megabyte or two: a run of
// 10,000 memberships spent a third of its start-up (about 13 ms of 35) in
// collections while it read its sources. With a floor, the collector lets
// the heap grow by that much past what is live before it collects (a tiny
// heap: until it reaches the floor), and the share rules again once the
// live heap is big enough for it to matter.
package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// heapMinimum is the runtime's least heap goal at GOGC 100: it scales
// with GOGC, so a share meant to give a tiny heap floor bytes of room is
// at most floor ÷ heapMinimum (GOGC 5000 would be a 200 MB goal).
const heapMinimum = 4 << 20

// Start sets GOGC to percent, raised after each collection as far as
// needed for the heap to grow by at least floor bytes before the next.
func Start(percent int, floor uint64) {
	t := &tuner{percent: percent, floor: floor, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.set(t.target(0))
	t.arm()
}

type tuner struct {
	percent int
	floor   uint64
	mu      sync.Mutex
	sample  []metrics.Sample
	current int
}

// sentinel is collected once per cycle; its finalizer retunes and
// re-arms. It holds a pointer so that it is not batched with other tiny
// objects, whose finalizers may not run.
type sentinel struct{ _ *int }

func (t *tuner) arm() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		t.retune()
		t.arm()
	})
}

func (t *tuner) retune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	metrics.Read(t.sample)
	live := uint64(0)
	if v := t.sample[0].Value; v.Kind() == metrics.KindUint64 {
		live = v.Uint64()
	}
	t.set(t.target(live))
}

// target is the GOGC that lets a live heap of live bytes grow by the
// larger of percent of it and floor.
func (t *tuner) target(live uint64) int {
	most := max(t.percent, int(t.floor*100/heapMinimum))
	if live == 0 {
		return most
	}
	return min(most, max(t.percent, int(t.floor*100/live)))
}

func (t *tuner) set(p int) {
	if p != t.current {
		t.current = p
		debug.SetGCPercent(p)
	}
}
