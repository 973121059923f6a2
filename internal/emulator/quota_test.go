package emulator

import (
	"testing"
	"time"
)

// The quota counts are checked at chosen instants, so they are exact.
func TestQuotaCounting(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	ms := time.Millisecond
	// calls lists the instants of calls; want is how many pass.
	tests := []struct {
		name  string
		quota *quota
		calls []time.Duration
		want  int
	}{
		{
			name:  "per minute: the whole quota passes at once",
			quota: newQuota(10, time.Second, 0, 0, t0),
			calls: every(0, 0, 12), want: 10,
		},
		{
			name:  "per minute: a call passes once the one limit calls back is a period old",
			quota: newQuota(10, time.Second, 0, 0, t0),
			calls: append(every(0, 0, 10), 999*ms, time.Second), want: 11,
		},
		{
			name:  "token bucket: a burst of 11 passes 10",
			quota: newQuota(100, time.Second, 10, 0, t0),
			calls: every(0, 0, 11), want: 10,
		},
		{
			name:  "token bucket: calls at the quota's rate all pass",
			quota: newQuota(100, time.Second, 10, 0, t0),
			calls: every(0, 10*ms, 300), want: 300,
		},
		{
			name:  "token bucket: at twice the rate, half pass once the burst is spent",
			quota: newQuota(100, time.Second, 10, 0, t0),
			calls: every(0, 5*ms, 400), want: 10 + 199, // the 10 held, then what refills in 1.995 s
		},
		{
			name:  "token bucket never holds more than its burst",
			quota: newQuota(100, time.Second, 10, 0, t0),
			calls: every(time.Minute, 0, 20), want: 10,
		},
		{
			name: "another app using 30% of a token bucket leaves the rest",
			// Over 10 s at the full rate (1,000 calls), 700 pass and the burst.
			quota: newQuota(100, time.Second, 10, 0.3, t0),
			calls: every(0, 10*ms, 1000), want: 700 + 10,
		},
		{
			name:  "another app using 30% of a window leaves 70% of it",
			quota: newQuota(100, time.Second, 0, 0.3, t0),
			calls: every(time.Second, 0, 100), want: 70,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := 0
			for _, d := range tt.calls {
				if tt.quota.allow(at(d)) {
					got++
				}
			}
			if diff := got - tt.want; diff < -2 || diff > 2 {
				t.Errorf("%d of %d calls passed, want %d (±2)", got, len(tt.calls), tt.want)
			}
		})
	}
}

func TestOtherAppCallsCount(t *testing.T) {
	t0 := time.Unix(1000, 0)
	q := newQuota(100, time.Second, 10, 0.3, t0)
	if calls := q.other(t0.Add(10 * time.Second)); calls < 299 || calls > 301 {
		t.Errorf("in 10 s at 30%% of 100 a second the other app made %d calls, want 300", calls)
	}
	// An idle hour is skipped, not replayed call by call, and still counted.
	if calls := q.other(t0.Add(time.Hour)); calls < 107990 || calls > 108010 {
		t.Errorf("after an hour the other app made %d calls, want 108,000", calls)
	}
}

// every lists n instants from start, step apart.
func every(start, step time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = start + time.Duration(i)*step
	}
	return out
}
