// Package throttle paces and retries API calls: every call first waits on
// the paces that apply to it (per project, per space), and quota or
// transient failures are retried with exponential backoff and full jitter.
// Refusals that persist lower the shared pace of their kind of call to what
// the server lets through (one stray 429 does not), and it then climbs back
// slowly. A failure no retry can mend (credentials refused, a protocol
// mismatch) is reported once through OnFatal so the run can stop.
package throttle

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncer-dev/syncer/internal/chatapi"
)

// DefaultHeadroom is the share of each quota the syncer uses in any of
// Google's windows (a minute). Google counts in windows the client can't
// see, and latency jitter bunches calls up at the server: a smooth client
// at the full rate may find a window a few calls over. Its own count of the
// last window is conservative, and jitter moves a few calls in thousands;
// 2% below the quota keeps a steady client clear of 429s over a long run.
// A run shorter than a window goes at the full rate: it can't fill the
// window. Other apps sharing the quota show as refusals, which lower the
// pace (control.go).
const DefaultHeadroom = 0.98

// Limits are the quotas to stay under and how hard to retry.
type Limits struct {
	ProjectWritesPerMinute int // membership create, patch, delete
	ProjectReadsPerMinute  int // membership list, get
	SpaceReadsPerSecond    int // per space: list, get
	SpaceWritesPerSecond   int // per space; 0: no limit of our own
	// SpaceInfoPerMinute is the separate "space reads" quota spaces.get
	// counts against; 0 means no limit.
	SpaceInfoPerMinute int
	// DirectoryPerMinute is the Admin SDK Directory quota; 0 means no limit.
	DirectoryPerMinute int
	// Headroom is the share of each per-minute quota to use in any Window,
	// and of each per-second quota every second, in (0, 1]; 0 means
	// DefaultHeadroom.
	Headroom float64
	// Window is how long the server's minute is: what the per-minute quotas
	// count over (and a 60th of it, the per-second ones). 0 means a minute,
	// as Google counts; against an emulator with quotas ×N, a minute ÷ N.
	Window      time.Duration
	MaxAttempts int
	// CallTimeout bounds one attempt. Grace is how long calls already in
	// flight may run on after the run is cancelled.
	CallTimeout, Grace time.Duration
	// BaseDelay and MaxDelay shape the backoff; MaxDelay also caps a
	// server's Retry-After.
	BaseDelay, MaxDelay time.Duration
	// DeadAfter: when every call has failed (no answer, or 5xx) for this
	// long, at least deadCalls in a row and none succeeding, the API is down
	// for this run: stop it rather than hammer a dead endpoint space by
	// space. 0 means 30 s.
	DeadAfter time.Duration
}

// deadCalls is the fewest failed calls in a row that can mean "down".
const deadCalls = 20

// A Chat quota that refuses every call (429) for refusedWindows of its
// windows, refusedCalls of them or more in a row, is another app taking
// all of it (or a quota set to nothing): it refills every window, so the
// run would otherwise wait out its deadline (an hour) a call at a time.
// The run stops instead, and the next one tries again. (The Directory
// gives up its own way: its lookups fail, the run goes on.)
const (
	refusedWindows = 2
	refusedCalls   = 10
)

// Kind is which quota a call counts against.
type Kind int

const (
	Read      Kind = iota // membership list and get
	Write                 // membership create, patch, delete
	SpaceInfo             // spaces.get
	Directory             // Admin SDK Directory
)

// Throttle is safe for concurrent use.
type Throttle struct {
	limits                  Limits
	project                 [4]*pace // by Kind
	spaceRead, spaceWrite   float64  // calls a second; 0: no limit
	mu                      sync.Mutex
	spaceReads, spaceWrites map[string]*pace
	retries, slowdowns      atomic.Int64
	started                 time.Time
	lastOK                  atomic.Int64 // unix nanoseconds of the last call that got an answer
	failedInARow            atomic.Int64
	// By kind: calls under way (waiting, in flight or waiting to retry),
	// and since when none has been; quota refusals since the last other
	// answer, and when the first of them came. All under refusalsMu: a
	// count with another streak's start would stop a healthy run, and a
	// call starting between another's end and its idle mark would read
	// an older mark.
	refusalsMu    sync.Mutex
	asked         [4]int64
	idleSince     [4]time.Time
	refusedInARow [4]int64
	firstRefused  [4]time.Time
	// OnRetry, when set, is told about every retry (for logs and metrics).
	OnRetry func(op string, attempt int, delay time.Duration, err error)
	// OnSlowdown, when set, is told when refusals that persist cut the pace
	// of a kind of call (op is the call that showed it), in calls a second.
	OnSlowdown func(op string, from, to float64)
	// OnFatal, when set, is told about the first error no retry can mend;
	// the run should stop.
	OnFatal   func(error)
	fatalOnce sync.Once
	// BeforeWrite, when set, runs before every attempt of a write (after its
	// wait); an error stops the write and the run: the run lock is gone.
	BeforeWrite func(context.Context) error
}

// New builds a throttle; zero durations get sensible defaults.
func New(l Limits) *Throttle {
	if l.MaxAttempts < 1 {
		l.MaxAttempts = 1
	}
	if l.Headroom <= 0 || l.Headroom > 1 {
		l.Headroom = DefaultHeadroom
	}
	if l.CallTimeout <= 0 {
		l.CallTimeout = 30 * time.Second
	}
	if l.Grace <= 0 {
		l.Grace = 5 * time.Second
	}
	if l.BaseDelay <= 0 {
		l.BaseDelay = 500 * time.Millisecond
	}
	if l.MaxDelay <= 0 {
		l.MaxDelay = 32 * time.Second
	}
	if l.DeadAfter <= 0 {
		l.DeadAfter = 30 * time.Second
	}
	if l.Window <= 0 {
		l.Window = time.Minute
	}
	// A per-minute quota: its full rate, smoothly, within headroom × quota
	// in any window.
	perMinute := func(quota int) *pace {
		if quota <= 0 {
			return nil // no limit
		}
		inWindow := float64(quota) * l.Window.Seconds() / 60
		return newPace(float64(quota)/60, l.Window, newBudget(int(inWindow*l.Headroom), l.Window), true, time.Now)
	}
	t := &Throttle{
		limits:      l,
		spaceRead:   float64(l.SpaceReadsPerSecond) * l.Headroom,
		spaceWrite:  float64(l.SpaceWritesPerSecond) * l.Headroom,
		spaceReads:  map[string]*pace{},
		spaceWrites: map[string]*pace{},
		started:     time.Now(),
	}
	t.project[Read] = perMinute(l.ProjectReadsPerMinute)
	t.project[Write] = perMinute(l.ProjectWritesPerMinute)
	t.project[SpaceInfo] = perMinute(l.SpaceInfoPerMinute)
	t.project[Directory] = perMinute(l.DirectoryPerMinute)
	return t
}

// Retries is how many retries this throttle has made.
func (t *Throttle) Retries() int64 { return t.retries.Load() }

// Slowdowns is how many times refusals cut a pace.
func (t *Throttle) Slowdowns() int64 { return t.slowdowns.Load() }

// Rate is the current pace of a kind of call, in calls a second (0: none).
func (t *Throttle) Rate(k Kind) float64 {
	if p := t.project[k]; p != nil {
		return p.rate()
	}
	return 0
}

// spacePace is a space's pace for a per-second quota: headroom × the quota,
// smoothly (a second is too short a window to budget within).
func (t *Throttle) spacePace(m map[string]*pace, perSecond float64, space string) *pace {
	if perSecond <= 0 || space == "" {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := m[space]
	if p == nil {
		p = newPace(perSecond, t.limits.Window/60, nil, false, time.Now)
		m[space] = p
	}
	return p
}

// Read runs a membership read (list, get) in a space.
func (t *Throttle) Read(ctx context.Context, op, space string, fn func(context.Context) error) error {
	return t.do(ctx, Read, op, false, fn, nil, t.project[Read], t.spacePace(t.spaceReads, t.spaceRead, space))
}

// Write runs a membership write (create, patch, delete) in a space.
func (t *Throttle) Write(ctx context.Context, op, space string, fn func(context.Context) error) error {
	return t.do(ctx, Write, op, true, fn, t.BeforeWrite, t.project[Write], t.spacePace(t.spaceWrites, t.spaceWrite, space))
}

// Space runs a spaces.get; it counts against the space-reads quota and,
// being a read in that space, against the per-space read limit.
func (t *Throttle) Space(ctx context.Context, space string, fn func(context.Context) error) error {
	return t.do(ctx, SpaceInfo, "spaces.get", false, fn, nil, t.project[SpaceInfo], t.spacePace(t.spaceReads, t.spaceRead, space))
}

// Directory runs an Admin SDK Directory call.
func (t *Throttle) Directory(ctx context.Context, op string, fn func(context.Context) error) error {
	return t.do(ctx, Directory, op, false, fn, nil, t.project[Directory])
}

type tentativeKey struct{}

// Tentative marks the calls made under ctx as calls the run could do
// without (a Directory page asked for before the run knows it needs one,
// or a pass whose failure falls back to users.get): a fatal answer to them
// (a token refused for a scope the run may never use, or the API looking
// down while users.list hangs and users.get may answer) is returned to the
// caller, not taken as the end of the run; and when ctx ends, a call in
// flight is abandoned at once, without the grace other calls get.
func Tentative(ctx context.Context) context.Context {
	return context.WithValue(ctx, tentativeKey{}, true)
}

// ErrNotCleared marks a write that BeforeWrite did not clear.
var ErrNotCleared = errors.New("the write was not cleared")

// ErrInterrupted marks a call that was never made, or not retried, because
// the run was cancelled (the last answer, when there was one, follows it).
var ErrInterrupted = errors.New("interrupted before the call was made (again)")

// ErrDeadline marks a retry given up because its wait would outlast the run.
var ErrDeadline = errors.New("not tried (again): the run's deadline (limits.run_timeout) comes first")

// ErrAbandoned marks a call the run stopped while it was in flight: it may
// or may not have happened.
var ErrAbandoned = errors.New("the run stopped while the call was in flight; its outcome is unknown")

// do runs fn under paces, retrying what may pass. before, when set, runs
// ahead of each attempt, under the run's context (its calls keep their own
// deadlines, apart from fn's); its error stops the run.
func (t *Throttle) do(ctx context.Context, kind Kind, op string, write bool, fn func(context.Context) error, before func(context.Context) error, paces ...*pace) error {
	var err error
	var sent time.Time
	// unsure is a write's last attempt whose outcome is unknown (a 5xx, a
	// reset, a timeout: the write may have happened). A later refusal (429) says
	// nothing of it, so a run stopped after one still says "may have".
	var unsure error
	interrupted := func(err error) error { return stopped(ErrInterrupted, err, unsure) }
	// A window in which no call of this kind was asked (the run was reading
	// other spaces) says nothing of its quota: it refilled unasked, and
	// refusals before it and after are not "in a row".
	t.refusalsMu.Lock()
	if t.asked[kind]++; t.asked[kind] == 1 && !t.idleSince[kind].IsZero() && time.Since(t.idleSince[kind]) > t.limits.Window {
		t.refusedInARow[kind] = 0
	}
	t.refusalsMu.Unlock()
	defer func() {
		t.refusalsMu.Lock()
		if t.asked[kind]--; t.asked[kind] == 0 {
			t.idleSince[kind] = time.Now()
		}
		t.refusalsMu.Unlock()
	}()
	deadline := func(err error) error { return stopped(ErrDeadline, err, unsure) }
	for attempt := 1; ; attempt++ {
		for _, p := range paces {
			if p == nil {
				continue
			}
			at, werr := p.wait(ctx)
			if werr != nil {
				if ctx.Err() == nil {
					// The pace knows the wait would pass the deadline.
					return deadline(err)
				}
				return interrupted(err)
			}
			sent = at
		}
		if ctx.Err() != nil {
			return interrupted(err)
		}
		if before != nil {
			if berr := before(ctx); berr != nil {
				if ctx.Err() != nil {
					return interrupted(err)
				}
				err = chatapi.Fatal("no write may be made: "+berr.Error(), fmt.Errorf("%w: %w", ErrNotCleared, berr))
				t.fatalOnce.Do(func() {
					if t.OnFatal != nil {
						t.OnFatal(err)
					}
				})
				return err
			}
		}
		err = t.attempt(ctx, fn)
		if write && errors.Is(err, chatapi.ErrTransient) {
			unsure = err
		}
		t.tell(op, paces, sent, err)
		if dead := t.health(op, err); dead != nil {
			err = dead
		}
		if gone := t.quotaGone(kind, op, err); gone != nil {
			err = gone
		}
		switch {
		case err == nil:
			return nil
		case chatapi.IsCancelled(err):
			return fmt.Errorf("%w (%w)", ErrAbandoned, err)
		case errors.Is(err, chatapi.ErrFatal):
			if ctx.Value(tentativeKey{}) == nil {
				t.fatalOnce.Do(func() {
					if t.OnFatal != nil {
						t.OnFatal(err)
					}
				})
			}
			return err
		case !chatapi.Retryable(err):
			return err
		}
		if attempt >= t.limits.MaxAttempts {
			return fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		delay := chatapi.RetryAfter(err)
		if delay <= 0 {
			delay = t.backoff(attempt)
		}
		delay = min(delay, t.limits.MaxDelay)
		if d, ok := ctx.Deadline(); ok && time.Until(d) < delay {
			return deadline(err)
		}
		t.retries.Add(1)
		if t.OnRetry != nil {
			t.OnRetry(op, attempt, delay, err)
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return interrupted(err)
		case <-timer.C:
		}
	}
}

// tell the paces how a call sent at sent was answered: whether what they
// send gets through. Transient failures and cancelled calls say nothing
// about that.
func (t *Throttle) tell(op string, paces []*pace, sent time.Time, err error) {
	if err != nil && (errors.Is(err, chatapi.ErrTransient) || chatapi.IsCancelled(err)) {
		return
	}
	refused := errors.Is(err, chatapi.ErrQuota)
	for _, p := range paces {
		if p == nil {
			continue
		}
		if cut, from, to := p.answered(sent, refused); cut {
			t.slowdowns.Add(1)
			if t.OnSlowdown != nil {
				t.OnSlowdown(op, from, to)
			}
		}
	}
}

// attempt runs one call under its own deadline. Its context is not
// cancelled with the run's at once: a call in flight may finish (within
// Grace) so its outcome is known, not guessed.
func (t *Throttle) attempt(ctx context.Context, fn func(context.Context) error) error {
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.limits.CallTimeout)
	defer cancel()
	grace := t.limits.Grace
	if ctx.Value(tentativeKey{}) != nil {
		grace = 0 // nothing waits on its answer once the run is over
	}
	stop := context.AfterFunc(ctx, func() {
		timer := time.AfterFunc(grace, cancel)
		context.AfterFunc(callCtx, func() { timer.Stop() })
	})
	defer stop()
	return fn(callCtx)
}

// backoff is full jitter: uniform in [0, min(MaxDelay, BaseDelay·2^(attempt-1))].
func (t *Throttle) backoff(attempt int) time.Duration {
	ceiling := t.limits.BaseDelay << min(attempt-1, 20)
	if ceiling > t.limits.MaxDelay || ceiling <= 0 {
		ceiling = t.limits.MaxDelay
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// stopped is why a call's retries ended (ErrInterrupted, ErrDeadline),
// with its last answer, and the last whose outcome was unknown when that
// is another.
func stopped(why, last, unsure error) error {
	switch {
	case last == nil:
		return why
	case unsure != nil && !errors.Is(last, chatapi.ErrTransient):
		return fmt.Errorf("%w (last answer: %w; an earlier attempt may have happened: %w)", why, last, unsure)
	}
	return fmt.Errorf("%w (last answer: %w)", why, last)
}

// quotaGone keeps count, by kind of Chat call, of quota refusals in a row;
// it returns a fatal error once they have lasted refusedWindows of the
// quota's windows.
func (t *Throttle) quotaGone(kind Kind, op string, err error) error {
	switch {
	case kind == Directory:
		return nil
	case err != nil && (errors.Is(err, chatapi.ErrTransient) || chatapi.IsCancelled(err)):
		return nil // no answer: says nothing of the quota
	}
	t.refusalsMu.Lock()
	defer t.refusalsMu.Unlock()
	if !errors.Is(err, chatapi.ErrQuota) {
		t.refusedInARow[kind] = 0
		return nil
	}
	now := time.Now()
	t.refusedInARow[kind]++
	n := t.refusedInARow[kind]
	if n == 1 {
		t.firstRefused[kind] = now
	}
	since := t.firstRefused[kind]
	if n < refusedCalls || now.Sub(since) < refusedWindows*t.limits.Window {
		return nil
	}
	what := [...]string{Read: "membership read", Write: "membership write", SpaceInfo: "spaces.get"}[kind]
	return chatapi.Fatal(fmt.Sprintf("Google refused every %s for its quota for %s (%d in a row; the last: %s: %v): another app may be taking the whole quota; stopping rather than waiting out the run's deadline (the next run tries again)",
		what, now.Sub(since).Round(time.Second), n, op, err), err)
}

// health keeps count of calls that got no useful answer; it returns a fatal
// error when the API looks down for this run.
func (t *Throttle) health(op string, err error) error {
	now := time.Now()
	switch {
	case err == nil, !errors.Is(err, chatapi.ErrTransient):
		// An answer, even a refusal, a 429 or a 409 ABORTED, means the
		// API is there.
		t.lastOK.Store(now.UnixNano())
		t.failedInARow.Store(0)
		return nil
	}
	n := t.failedInARow.Add(1)
	since := t.started
	if ok := t.lastOK.Load(); ok > 0 {
		since = time.Unix(0, ok)
	}
	if n >= deadCalls && now.Sub(since) >= t.limits.DeadAfter {
		return chatapi.Fatal(fmt.Sprintf("the API has failed %d calls in a row and answered none for %s (last: %s: %v); stopping rather than hammering it", n, now.Sub(since).Round(time.Second), op, err), err)
	}
	return nil
}
