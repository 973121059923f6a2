package throttle

import (
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestPace(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := newPace(10)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	steps := []struct {
		name string
		do   func() bool // a cut; nil reads only
		at   time.Duration
		want rate.Limit
		cut  bool
	}{
		{name: "starts at the target", at: 0, want: 10},
		{name: "a 429 cuts to 70%", do: func() bool { return p.slow(at(0)) }, at: 0, want: 7, cut: true},
		{name: "a second 429 in the same burst is not a second cut", do: func() bool { return p.slow(at(500 * time.Millisecond)) }, at: 500 * time.Millisecond, want: 7 + 0.15},
		{name: "climbs 3% of the target a second", at: 5 * time.Second, want: 7 + 1.5},
		{name: "a later 429 cuts from where it had climbed", do: func() bool { return p.slow(at(5 * time.Second)) }, at: 5 * time.Second, want: (7 + 1.5) * 0.7, cut: true},
		{name: "back at the target and no higher", at: time.Minute, want: 10},
	}
	for _, s := range steps {
		if s.do != nil {
			if got := s.do(); got != s.cut {
				t.Errorf("%s: cut = %v, want %v", s.name, got, s.cut)
			}
		}
		if got := p.current(at(s.at)); got < s.want-1e-9 || got > s.want+1e-9 {
			t.Errorf("%s: pace %v, want %v", s.name, got, s.want)
		}
	}
	for i := 0; i < 20; i++ {
		p.slow(at(time.Minute + time.Duration(i)*2*time.Second))
	}
	if got := p.current(at(time.Minute + 38*time.Second)); got < 1 {
		t.Errorf("after 20 cuts the pace is %v; the floor is 10%% of the target", got)
	}
}
