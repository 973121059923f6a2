// Package throttle paces and retries API calls: every call first waits on
// the rate limiters that apply to it (per project, per space), and quota or
// transient failures are retried with exponential backoff and full jitter,
// honouring Retry-After when the server sends one.
package throttle

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/syncer-dev/syncer/internal/chatapi"
)

// Headroom is the share of each quota the syncer uses. Google counts in
// windows the client can't see, and latency jitter bunches requests up at
// the server; 5% below the quota keeps a steady client clear of 429s.
const Headroom = 0.95

// Limits are the quotas to stay under and how hard to retry.
type Limits struct {
	ProjectWritesPerMinute int
	ProjectReadsPerMinute  int
	SpaceReadsPerSecond    int
	SpaceWritesPerSecond   int // 0: no per-space write limit
	MaxAttempts            int
	// CallTimeout bounds one attempt. Grace is how long calls already in
	// flight may run on after the run is cancelled.
	CallTimeout, Grace time.Duration
	// BaseDelay and MaxDelay shape the backoff.
	BaseDelay, MaxDelay time.Duration
}

// Throttle is safe for concurrent use.
type Throttle struct {
	limits                  Limits
	writes, reads           *rate.Limiter
	spaceRead, spaceWrite   rate.Limit
	mu                      sync.Mutex
	spaceReads, spaceWrites map[string]*rate.Limiter
	retries                 atomic.Int64
	// OnRetry, when set, is told about every retry (for logs and metrics).
	OnRetry func(op string, attempt int, delay time.Duration, err error)
}

// perMinute returns a limiter at Headroom of the quota, or nil (no limit)
// for 0: rate.NewLimiter(0, 1) would allow one call and then none.
func perMinute(quota int) *rate.Limiter {
	if quota <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(float64(quota)/60*Headroom), 1)
}

// New builds a throttle; zero durations get sensible defaults.
func New(l Limits) *Throttle {
	if l.MaxAttempts < 1 {
		l.MaxAttempts = 1
	}
	if l.CallTimeout == 0 {
		l.CallTimeout = 30 * time.Second
	}
	if l.Grace == 0 {
		l.Grace = 5 * time.Second
	}
	if l.BaseDelay == 0 {
		l.BaseDelay = 500 * time.Millisecond
	}
	if l.MaxDelay == 0 {
		l.MaxDelay = 32 * time.Second
	}
	t := &Throttle{
		limits:      l,
		writes:      perMinute(l.ProjectWritesPerMinute),
		reads:       perMinute(l.ProjectReadsPerMinute),
		spaceRead:   rate.Limit(float64(l.SpaceReadsPerSecond) * Headroom),
		spaceWrite:  rate.Limit(float64(l.SpaceWritesPerSecond) * Headroom),
		spaceReads:  map[string]*rate.Limiter{},
		spaceWrites: map[string]*rate.Limiter{},
	}
	return t
}

// Retries is how many retries this throttle has made.
func (t *Throttle) Retries() int64 { return t.retries.Load() }

func (t *Throttle) spaceLimiter(m map[string]*rate.Limiter, limit rate.Limit, space string) *rate.Limiter {
	if limit <= 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	l := m[space]
	if l == nil {
		l = rate.NewLimiter(limit, 1)
		m[space] = l
	}
	return l
}

// Read runs a read (list, get) in a space.
func (t *Throttle) Read(ctx context.Context, op, space string, fn func(context.Context) error) error {
	return t.do(ctx, op, fn, t.reads, t.spaceLimiter(t.spaceReads, t.spaceRead, space))
}

// Write runs a write (create, patch, delete) in a space.
func (t *Throttle) Write(ctx context.Context, op, space string, fn func(context.Context) error) error {
	return t.do(ctx, op, fn, t.writes, t.spaceLimiter(t.spaceWrites, t.spaceWrite, space))
}

// ErrInterrupted marks a call that was never made, or not retried, because
// the run was cancelled.
var ErrInterrupted = errors.New("interrupted before the call was made")

func (t *Throttle) do(ctx context.Context, op string, fn func(context.Context) error, limiters ...*rate.Limiter) error {
	var err error
	for attempt := 1; ; attempt++ {
		for _, l := range limiters {
			if l == nil {
				continue
			}
			if werr := l.Wait(ctx); werr != nil {
				return interrupted(err)
			}
		}
		if ctx.Err() != nil {
			return interrupted(err)
		}
		err = t.attempt(ctx, fn)
		if err == nil || !chatapi.Retryable(err) {
			return err
		}
		if attempt >= t.limits.MaxAttempts {
			return fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		delay := chatapi.RetryAfter(err)
		if delay == 0 {
			delay = t.backoff(attempt)
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

// attempt runs one call. Its context is not cancelled with the run's: a call
// in flight finishes (within Grace) so its outcome is known, not guessed.
func (t *Throttle) attempt(ctx context.Context, fn func(context.Context) error) error {
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.limits.CallTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		timer := time.AfterFunc(t.limits.Grace, cancel)
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

func interrupted(last error) error {
	if last != nil {
		return fmt.Errorf("%w (last answer: %w)", ErrInterrupted, last)
	}
	return ErrInterrupted
}
