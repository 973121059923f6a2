package throttle

import (
	"math/rand/v2"
	"testing"
	"time"
)

// server is a quota as a server counts it, on the simulation's clock: a
// token bucket (burst > 0) or a per-window count, of which another app may
// use a share (its calls always count).
type server struct {
	rate, burst float64 // calls a second; burst 0: a sliding window of rate × window
	window      time.Duration
	otherEvery  time.Duration
	otherNext   time.Time
	tokens      float64
	filled      time.Time
	calls       []time.Time // window mode: the calls counted
	stray       map[int]bool
	seen        int
}

func (s *server) allow(now time.Time) bool {
	s.seen++
	if s.stray[s.seen] {
		return false // a refusal of the server's own (a backend check)
	}
	for s.otherEvery > 0 && !s.otherNext.After(now) {
		s.take(s.otherNext, true)
		s.otherNext = s.otherNext.Add(s.otherEvery)
	}
	return s.take(now, false)
}

func (s *server) take(now time.Time, force bool) bool {
	if s.burst > 0 {
		if s.filled.IsZero() {
			s.tokens, s.filled = s.burst, now
		}
		s.tokens = min(s.burst, s.tokens+now.Sub(s.filled).Seconds()*s.rate)
		s.filled = now
		if s.tokens < 1 && !force {
			return false
		}
		s.tokens--
		return true
	}
	for len(s.calls) > 0 && now.Sub(s.calls[0]) >= s.window {
		s.calls = s.calls[1:]
	}
	if len(s.calls) >= int(s.rate*s.window.Seconds()) && !force {
		return false
	}
	s.calls = append(s.calls, now)
	return true
}

// outcome is what a simulated run saw.
type outcome struct {
	calls, refused int
	took           time.Duration
	p              *pace
}

// simulate makes n calls (retrying refusals after backoff) through a pace
// at full calls a second against srv, every call answered after 15-25 ms,
// on a simulated clock.
func simulate(t *testing.T, full float64, window time.Duration, srv *server, n int) outcome {
	t.Helper()
	t0 := time.Unix(1000, 0)
	now := t0
	p := newPace(full, window, newBudget(int(full*window.Seconds()*0.95), window), true, func() time.Time { return now })
	srv.otherNext = t0
	rng := rand.New(rand.NewPCG(1, 2))
	type answer struct {
		at, sent time.Time
		ok       bool
	}
	var inFlight []answer // few: kept unsorted
	var retries []time.Time
	out := outcome{p: p}
	done, waiting := 0, n
	for step := 0; done < n; step++ {
		if step > 100*n {
			t.Fatalf("the simulation did not finish: %d of %d calls done", done, n)
		}
		// The next event: an answer, or a call leaving when the pace lets it.
		next, kind := time.Time{}, ""
		switch {
		case waiting > 0 || len(retries) > 0 && !retries[0].After(now):
			if at, ok := p.take(now); ok {
				if waiting > 0 {
					waiting--
				} else {
					retries = retries[1:]
				}
				out.calls++
				arrive := at.Add(15*time.Millisecond + time.Duration(rng.Int64N(int64(10*time.Millisecond))))
				inFlight = append(inFlight, answer{at: arrive, sent: at, ok: srv.allow(arrive)})
				continue
			} else {
				next, kind = at, "send"
			}
		case len(retries) > 0:
			next, kind = retries[0], "retry"
		}
		first := -1
		for i, a := range inFlight {
			if first < 0 || a.at.Before(inFlight[first].at) {
				first = i
			}
		}
		if first >= 0 && (kind == "" || !inFlight[first].at.After(next)) {
			a := inFlight[first]
			inFlight = append(inFlight[:first], inFlight[first+1:]...)
			now = later(now, a.at)
			p.answered(a.sent, !a.ok)
			if a.ok {
				done++
			} else {
				out.refused++
				retries = append(retries, now.Add(time.Duration(rng.Int64N(int64(500*time.Millisecond)))))
				sortTimes(retries)
			}
			continue
		}
		now = later(now, next)
	}
	out.took = now.Sub(t0)
	return out
}

func sortTimes(ts []time.Time) {
	for i := len(ts) - 1; i > 0 && ts[i].Before(ts[i-1]); i-- {
		ts[i], ts[i-1] = ts[i-1], ts[i]
	}
}

// A stray refusal costs a sliver of the pace for a moment, not a cut.
func TestAStrayRefusalIsNotACut(t *testing.T) {
	srv := &server{rate: 500, burst: 10, stray: map[int]bool{500: true}}
	o := simulate(t, 500, 6*time.Second, srv, 2000)
	if o.p.ctl.cuts != 0 || o.refused != 1 {
		t.Errorf("%d cuts, %d refusals; want none but the stray", o.p.ctl.cuts, o.refused)
	}
	// 2,000 calls at 500 a second: 4 s, and the last answer's 15-25 ms; the
	// stray trims the pace by 2% for a window (6 s): the last 1,500 calls at
	// 490 a second, 61 ms more.
	if o.took > 4*time.Second+100*time.Millisecond {
		t.Errorf("the run took %v, want about 4 s", o.took)
	}
	// Two strays far apart are two strays.
	srv = &server{rate: 500, burst: 10, stray: map[int]bool{500: true, 650: true}}
	if o := simulate(t, 500, 6*time.Second, srv, 2000); o.p.ctl.cuts != 0 {
		t.Errorf("two strays 150 calls apart cut the pace %d times", o.p.ctl.cuts)
	}
}

// A quota another app takes 30% of: the pace settles just under the 70%
// left, few calls are refused on the way, and the run takes little more
// than the 70% allows.
func TestASharedQuotaIsFoundAndKeptTo(t *testing.T) {
	tests := []struct {
		name    string
		srv     *server
		n       int
		refused float64 // at most this share of calls refused
		slower  float64 // at most this much slower than the 70% allows
	}{
		{"token bucket", &server{rate: 500, burst: 10, otherEvery: time.Second / 150}, 2000, 0.01, 1.10},
		// A per-minute count refuses everything once full, then lets
		// through what leaves the window: more refusals, once a window.
		{"per-minute count", &server{rate: 500, window: 6 * time.Second, otherEvery: time.Second / 150}, 8000, 0.02, 1.10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := simulate(t, 500, 6*time.Second, tt.srv, tt.n)
			bound := time.Duration(float64(tt.n) / 350 * float64(time.Second))
			t.Logf("%d calls, %d refused, %v (bound %v), %d cuts, pace %.0f", o.calls, o.refused, o.took, bound, o.p.ctl.cuts, o.p.ctl.rate(time.Unix(1000, 0).Add(o.took)))
			if share := float64(o.refused) / float64(o.calls); share > tt.refused {
				t.Errorf("%d of %d calls refused (%.1f%%), want at most %.0f%%", o.refused, o.calls, 100*share, 100*tt.refused)
			}
			if o.took > time.Duration(tt.slower*float64(bound)) {
				t.Errorf("took %v, want at most %.2f × %v", o.took, tt.slower, bound)
			}
			if r := o.p.ctl.rate(time.Unix(1000, 0).Add(o.took)); r < 0.8*350 || r > 1.05*350 {
				t.Errorf("the pace ended at %.0f a second, want near the 350 left", r)
			}
		})
	}
}

// Four refusals in a row of the server's own (a backend's burst, at a
// run's start or mid-run) cost a cut and a climb back, not a run held low:
// 1,000 calls at 5 a second take 3.5 minutes; with the strays, at most
// 260 s. (A per-window budget learnt from such refusals, tried and taken
// back on 2026-12-07, held such runs to a few calls a minute.)
func TestStraysInARowCostLittle(t *testing.T) {
	for _, strays := range []map[int]bool{
		{2: true, 3: true, 4: true, 5: true},
		{4: true, 5: true, 6: true, 7: true},
		{51: true, 52: true, 53: true, 54: true},
		{200: true, 201: true, 202: true, 203: true},
	} {
		srv := &server{rate: 5, window: time.Minute, stray: strays}
		if o := simulate(t, 5, time.Minute, srv, 1000); o.took > 260*time.Second {
			t.Errorf("strays %v: took %v; want at most 260 s", strays, o.took)
		}
	}
}

// A token bucket another app takes 80% of: the pace finds the 1 a second
// left and keeps to it (500 calls: 8.3 minutes).
func TestABucketMostlyTakenIsFound(t *testing.T) {
	srv := &server{rate: 5, burst: 5, otherEvery: time.Second / 4}
	if o := simulate(t, 5, time.Minute, srv, 500); o.took > 9*time.Minute {
		t.Errorf("took %v; want at most 9 minutes", o.took)
	}
}

// The calls in flight when the first refusal comes back were sent together
// and may be refused together (one burst, one stall): however many, they
// are one event.
func TestRefusalsInFlightTogetherAreOneEvent(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := controller{full: 500, span: 6 * time.Second}
	for i := 0; i < 10; i++ { // sent within 10 ms, refused, answered from 20 ms on
		if cut, _ := c.answered(t0.Add(20*time.Millisecond+time.Duration(i)*time.Millisecond), t0.Add(time.Duration(i)*time.Millisecond), true); cut {
			t.Fatalf("refusal %d of one burst cut the pace", i+1)
		}
	}
	if r := c.rate(t0.Add(time.Second)); r != 500*(1-trimShare) {
		t.Errorf("pace %v after one burst of refusals, want the full rate trimmed by %v", r, trimShare)
	}
	// Refusals that persist into calls sent after the first came back do cut.
	cut := false
	for i := 0; i < 3 && !cut; i++ {
		cut, _ = c.answered(t0.Add(60*time.Millisecond+time.Duration(i)*time.Millisecond), t0.Add(40*time.Millisecond), true)
	}
	if !cut {
		t.Error("refusals of calls sent after the first refusal came back did not cut the pace")
	}
}

// After a cut the pace holds, climbs, and a cut at the same ceiling makes
// the next hold longer.
func TestAfterACutThePaceHoldsThenClimbs(t *testing.T) {
	t0 := time.Unix(1000, 0)
	span := 6 * time.Second
	c := controller{full: 500, span: span}
	c.cutTo, c.cutAt, c.hold, c.ceiling = 300, t0, span/8, 500
	for _, tt := range []struct {
		at   time.Duration
		want float64
	}{
		{0, 300}, {span / 8, 300}, {span/8 + span, 350}, {span/8 + 5*span, 500}, {span/8 + 50*span, 500},
	} {
		if got := c.rate(t0.Add(tt.at)); got < tt.want-1e-6 || got > tt.want+1e-6 {
			t.Errorf("at %v: pace %v, want %v", tt.at, got, tt.want)
		}
	}
	// Refused again at about the same rate: the ceiling holds.
	c.cutTo, c.cutAt, c.hold, c.ceiling = 330, t0, span/8, 340
	at := t0.Add(span / 4)
	c.answered(at, at, true)
	for i := 1; i <= 3; i++ {
		c.answered(at.Add(time.Duration(i)*100*time.Millisecond), at.Add(time.Duration(i)*100*time.Millisecond), i%2 == 1)
	}
	if c.cuts != 1 || c.hold != span/4 {
		t.Errorf("%d cuts, hold %v; want one cut and the hold doubled to %v", c.cuts, c.hold, span/4)
	}
}

// A blocked pace probes no faster than it sends: a space's 15 a second
// over a one-second window probed every 16 ms, four times its own pace.
func TestBlockedProbesAreNoFasterThanThePace(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := controller{full: 15, span: time.Second}
	for i := 0; i < blockAfter; i++ {
		at := t0.Add(time.Duration(i) * 70 * time.Millisecond)
		c.answered(at, at, true)
	}
	if c.blocked == 0 {
		t.Fatalf("not blocked after %d refusals in a row", blockAfter)
	}
	paced := time.Duration(float64(time.Second) / c.rate(t0.Add(time.Second)))
	if gap, probe := c.gap(t0.Add(time.Second)); !probe || gap < paced {
		t.Errorf("blocked gap %v (probe %v); want at least the pace's own %v", gap, probe, paced)
	}
}
