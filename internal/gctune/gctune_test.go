package gctune

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestTarget(t *testing.T) {
	tu := &tuner{percent: 50, floor: 32 << 20}
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 800},                    // nothing measured yet: a goal of 32 MB (4 MB × 8)
		{1 << 10, 800},              // a tiny heap: the same, not a 200 MB goal
		{8 << 20, 400},              // 8 MB may grow by 32
		{64 << 20, 50},              // 50% of 64 MB is the floor itself
		{1 << 30, 50},               // a big heap: the share rules
		{(32 << 20) / 3, 300},       // rounding down: 32 MB ÷ 10.7 MB
		{(32 << 20) * 100 / 51, 51}, // just under the share's own reach
	} {
		if got := tu.target(tc.live); got != tc.want {
			t.Errorf("live %d bytes: GOGC %d, want %d", tc.live, got, tc.want)
		}
	}
}

// gcPercent reads GOGC without changing it.
func gcPercent() int { p := debug.SetGCPercent(100); debug.SetGCPercent(p); return p }

// After collections, a small live heap runs with a wide share and a big one
// with the lean share: the finalizer that retunes keeps coming back.
func TestStartRetunesAfterEachCollection(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	Start(50, 32<<20)
	wait := func(ok func(int) bool) int {
		p := 0
		for i := 0; i < 100; i++ {
			runtime.GC()
			time.Sleep(5 * time.Millisecond) // finalizers run on their own goroutine
			if p = gcPercent(); ok(p) {
				break
			}
		}
		return p
	}
	if p := wait(func(p int) bool { return p > 300 && p <= 800 }); p <= 300 || p > 800 {
		t.Fatalf("a live heap of a few MB runs at GOGC %d; want the 32 MB floor's share (300-800)", p)
	}
	big := make([]byte, 96<<20)
	for i := range big {
		big[i] = 1
	}
	if p := wait(func(p int) bool { return p == 50 }); p != 50 {
		t.Errorf("a live heap of 96 MB runs at GOGC %d; want 50", p)
	}
	runtime.KeepAlive(big)
}
