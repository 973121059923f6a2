package throttle

import "time"

// A controller sets a pace's rate from the answers its calls get. It starts
// at the quota's full rate and leaves it only on evidence, telling noise
// from capacity as congestion control does:
//
//   - One 429 is not evidence that the pace is too fast: a server refuses
//     now and then for reasons of its own (Google's backend checks), and the
//     network may bunch calls up against a small bucket. A refusal opens an
//     episode, which closes, forgotten, after quietAnswers answers with no
//     other refusal. It does trim the pace a little (trimShare) for a
//     window: at exactly a token bucket's rate, a bucket that bunched-up
//     calls emptied never fills again; a little below, it does.
//   - Refusals that persist are evidence: the server lets less through than
//     the pace sends. Persist means a third refusal in the episode (two far
//     apart are two strays), of a call sent after the episode's first
//     refusal came back: the calls already in flight then were sent
//     together and may have been refused together (one burst, one stall),
//     so they only add to the count.
//   - The pace is then cut to what gets through, less cutMargin: the larger
//     of the pace less the share refused in the episode (a token bucket
//     lets through its rate and refuses the rest; the share is taken a
//     little low, few answers being in) and what was accepted over the last
//     window (a per-minute count refuses everything once full, then lets
//     through what its window holds). A cut takes at most maxCut off.
//     Answers to calls sent before a cut are not evidence about the new pace.
//   - When every answer is a refusal (blockAfter in a row), the window is
//     full: the pace sends one call at a time, further and further apart,
//     until one passes.
//   - After a cut the pace holds, then climbs slowly (climbShare of the full
//     rate a window), probing whether the other caller has gone. A cut close
//     to the one before doubles the hold: a ceiling that holds is
//     remembered, and probed less often.
type controller struct {
	full     float64       // the quota's rate: where the pace starts and stops climbing
	span     time.Duration // the quota's window: the time scale of holds and climbs
	accepted *counter      // answers that were not refusals, over the last window; nil: not kept

	cutTo   float64   // the rate set by the last cut; 0: never cut
	cutAt   time.Time // when
	hold    time.Duration
	ceiling float64 // the rate the last cut was made at
	cuts    int

	trimUntil time.Time // the pace is trimmed until then

	episode   bool
	firstSeen time.Time // when the episode's first refusal came back
	answers   int       // since the episode's first refusal, that one included
	refusals  int
	quiet     int // answers since the episode's last refusal

	inARow  int           // refusals in a row
	blocked time.Duration // while every call is refused: the gap between calls; 0: not blocked
}

const (
	trimShare    = 0.02  // the pace is this much lower for a window after a refusal
	quietAnswers = 200   // answers without a refusal that close an episode
	cutMargin    = 0.03  // below the estimate of what gets through
	maxCut       = 0.4   // of the pace, at most, in one cut
	floorShare   = 0.05  // of the full rate: the lowest pace
	climbShare   = 0.10  // of the full rate, per window, when climbing
	holdShare    = 0.125 // of a window: the first hold after a cut
	maxHolds     = 8     // a hold is at most this many windows
	blockAfter   = 8     // refusals in a row that mean the window is full
)

// rate is the pace at now, in calls a second.
func (c *controller) rate(now time.Time) float64 {
	r := c.full
	if c.cutTo != 0 {
		r = c.cutTo
		if since := now.Sub(c.cutAt) - c.hold; since > 0 {
			r = min(c.full, c.cutTo+c.full*climbShare*since.Seconds()/c.span.Seconds())
		}
	}
	if now.Before(c.trimUntil) {
		r *= 1 - trimShare
	}
	return r
}

// gap is the time from a call leaving at now to the next; probe is set
// while blocked (one call at a time, no catching up, and never closer
// together than the pace itself sends: a space's pace of 15 a second, its
// window a second, would otherwise probe every 16 ms).
func (c *controller) gap(now time.Time) (gap time.Duration, probe bool) {
	paced := time.Duration(float64(time.Second) / c.rate(now))
	if c.blocked > 0 {
		gap = max(c.blocked, paced)
		c.blocked = min(2*c.blocked, c.span/8)
		return gap, true
	}
	return paced, false
}

// answered takes the answer at now to a call sent at sent (refused: a 429).
// It reports whether it cut the pace, and unblocked whether it ended a
// blocked spell (the next call may leave at once).
func (c *controller) answered(now, sent time.Time, refused bool) (cut, unblocked bool) {
	if refused {
		c.trimUntil = now.Add(c.span)
		if c.inARow++; c.inARow >= blockAfter && c.blocked == 0 {
			c.blocked = max(c.span/64, time.Millisecond)
		}
	} else {
		c.inARow = 0
		if c.accepted != nil {
			c.accepted.add(now)
		}
		if c.blocked > 0 {
			c.blocked, unblocked = 0, true
		}
	}
	if c.cutTo != 0 && sent.Before(c.cutAt) {
		return false, unblocked // sent at the old pace
	}
	if !c.episode {
		if refused {
			c.episode, c.firstSeen, c.answers, c.refusals, c.quiet = true, now, 1, 1, 0
		}
		return false, unblocked
	}
	c.answers++
	if !refused {
		if c.quiet++; c.quiet >= quietAnswers {
			c.episode = false
		}
		return false, unblocked
	}
	c.refusals++
	c.quiet = 0
	if !sent.After(c.firstSeen) || c.refusals < 3 {
		return false, unblocked // in flight with the first: the same burst; or two strays
	}
	c.episode = false
	was := c.rate(now)
	through := was * (1 - float64(c.refusals-1)/float64(c.answers+1))
	if c.accepted != nil {
		through = max(through, float64(c.accepted.count(now))/c.span.Seconds())
	}
	to := max(min(through*(1-cutMargin), was), was*(1-maxCut), c.full*floorShare)
	hold := time.Duration(float64(c.span) * holdShare)
	if c.cutTo != 0 && was >= c.ceiling*0.95 && was <= c.ceiling*1.05 {
		hold = min(2*c.hold, maxHolds*c.span)
	}
	c.cutTo, c.cutAt, c.hold, c.ceiling = to, now, hold, was
	c.cuts++
	return true, unblocked
}
