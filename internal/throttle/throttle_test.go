package throttle_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/throttle"
)

// scripted answers each request with the next status in its script (then 200).
type scripted struct {
	mu     sync.Mutex
	script []string // "503", "429 Retry-After: 1", ...
	calls  int
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	answer := "200"
	if len(s.script) > 0 {
		answer, s.script = s.script[0], s.script[1:]
	}
	code, header, _ := strings.Cut(answer, " ")
	msg := "scripted"
	if k, v, ok := strings.Cut(header, ": "); ok {
		if k == "X-Msg" {
			msg = v
		} else {
			w.Header().Set(k, v)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if code == "200" {
		w.Write([]byte(`{"name":"spaces/S/members/1"}`))
		return
	}
	var n int
	fmt.Sscan(code, &n)
	w.WriteHeader(n)
	status := fmt.Sprintf("S%d", n)
	if n == http.StatusConflict {
		status = "ALREADY_EXISTS" // a 409 of another status is no "already exists"
	}
	fmt.Fprintf(w, `{"error":{"code":%d,"message":%q,"status":%q}}`, n, msg, status)
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name   string
		script []string
		calls  int
		kind   error
		delays []time.Duration // exact delays expected, when the server dictates them
		gaveUp bool
		max    time.Duration // MaxDelay; 4 ms when 0
	}{
		{name: "transient then success", script: []string{"503", "500"}, calls: 3},
		{name: "quota with Retry-After is honoured", script: []string{"429 Retry-After: 1"}, calls: 2, delays: []time.Duration{time.Second}, max: 2 * time.Second},
		{name: "Retry-After is capped at MaxDelay", script: []string{"429 Retry-After: 3600"}, calls: 2, delays: []time.Duration{20 * time.Millisecond}, max: 20 * time.Millisecond},
		{name: "401 is fatal and not retried", script: []string{"401"}, calls: 1, kind: chatapi.ErrFatal},
		{name: "app not configured is fatal", script: []string{"404 X-Msg: Google Chat app not found. To create a Chat app, you must turn on the Chat API and configure the app in the Google Cloud console."}, calls: 1, kind: chatapi.ErrFatal},
		{name: "permanent is not retried", script: []string{"400"}, calls: 1, kind: chatapi.ErrPermanent},
		{name: "already exists is not retried", script: []string{"409"}, calls: 1, kind: chatapi.ErrAlreadyExists},
		{name: "gives up after max attempts", script: []string{"503", "502", "504", "200"}, calls: 3, kind: chatapi.ErrTransient, gaveUp: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &scripted{script: tt.script}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			api, err := chatapi.New(context.Background(), chatapi.Options{Endpoint: ts.URL + "/"})
			if err != nil {
				t.Fatal(err)
			}
			maxDelay := tt.max
			if maxDelay == 0 {
				maxDelay = 4 * time.Millisecond
			}
			th := throttle.New(throttle.Limits{ProjectWritesPerMinute: 1e6, ProjectReadsPerMinute: 1e6, SpaceReadsPerSecond: 1e4,
				MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: maxDelay})
			fatal := 0
			th.OnFatal = func(error) { fatal++ }
			var delays []time.Duration
			th.OnRetry = func(_ string, _ int, d time.Duration, _ error) { delays = append(delays, d) }
			err = th.Write(context.Background(), "delete", "spaces/S", func(ctx context.Context) error {
				return api.Delete(ctx, "spaces/S/members/1")
			})
			if tt.kind == nil && err != nil || tt.kind != nil && !errors.Is(err, tt.kind) {
				t.Errorf("err = %v, want kind %v", err, tt.kind)
			}
			if tt.gaveUp != (err != nil && strings.Contains(err.Error(), "gave up after 3 attempts")) {
				t.Errorf("err = %v, gave up: want %v", err, tt.gaveUp)
			}
			if srv.calls != tt.calls || th.Retries() != int64(tt.calls-1) {
				t.Errorf("%d calls and %d retries, want %d calls", srv.calls, th.Retries(), tt.calls)
			}
			if want := errors.Is(tt.kind, chatapi.ErrFatal); (fatal == 1) != want || fatal > 1 {
				t.Errorf("OnFatal called %d times; want once: %v", fatal, want)
			}
			for i, d := range tt.delays {
				if i >= len(delays) || delays[i] != d {
					t.Errorf("delays %v, want %v", delays, tt.delays)
				}
			}
			for _, d := range delays {
				if tt.delays == nil && d > 4*time.Millisecond {
					t.Errorf("backoff delay %v above MaxDelay", d)
				}
			}
		})
	}
}

func TestCancelledRunMakesNoCall(t *testing.T) {
	th := throttle.New(throttle.Limits{ProjectWritesPerMinute: 60, ProjectReadsPerMinute: 60, SpaceReadsPerSecond: 1, MaxAttempts: 3})
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	call := func(context.Context) error { calls++; return nil }
	if err := th.Write(ctx, "create", "spaces/S", call); err != nil { // the first token is free
		t.Fatal(err)
	}
	cancel()
	err := th.Write(ctx, "create", "spaces/S", call) // would wait ~1 s for a token
	if !errors.Is(err, throttle.ErrInterrupted) || calls != 1 {
		t.Errorf("err = %v after %d calls; want ErrInterrupted and no second call", err, calls)
	}
}

func TestCallInFlightOutlivesCancellation(t *testing.T) {
	th := throttle.New(throttle.Limits{ProjectWritesPerMinute: 1e6, ProjectReadsPerMinute: 1e6, SpaceReadsPerSecond: 1e4, MaxAttempts: 1, Grace: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	err := th.Write(ctx, "create", "spaces/S", func(callCtx context.Context) error {
		cancel()
		select {
		case <-callCtx.Done():
			return callCtx.Err()
		case <-time.After(50 * time.Millisecond):
			return nil // the call completed although the run was cancelled
		}
	})
	if err != nil {
		t.Errorf("a call in flight was cut short: %v", err)
	}
}

// A tentative call (a Directory pass page) gets no grace: nothing waits on
// its answer once the run is over, and the run's end waits for the pass.
func TestTentativeCallInFlightEndsWithTheRun(t *testing.T) {
	th := throttle.New(throttle.Limits{DirectoryPerMinute: 1e6, MaxAttempts: 1, Grace: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	err := th.Directory(throttle.Tentative(ctx), "directory.users.list", func(callCtx context.Context) error {
		cancel()
		select {
		case <-callCtx.Done():
			return callCtx.Err()
		case <-time.After(5 * time.Second):
			return nil
		}
	})
	if err == nil {
		t.Error("a tentative call in flight ran on after the run was cancelled")
	}
}

func TestZeroQuotaMeansNoLimiter(t *testing.T) {
	th := throttle.New(throttle.Limits{ProjectReadsPerMinute: 2400, MaxAttempts: 1}) // writes left at 0
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for i := 0; i < 3; i++ {
		if err := th.Write(ctx, "create", "", func(context.Context) error { return nil }); err != nil {
			t.Fatalf("write %d with no write quota set: %v", i, err)
		}
	}
}

func TestRetryAfterBeyondTheRunDeadlineGivesUpAtOnce(t *testing.T) {
	srv := &scripted{script: []string{"429 Retry-After: 3600"}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	api, _ := chatapi.New(context.Background(), chatapi.Options{Endpoint: ts.URL + "/"})
	th := throttle.New(throttle.Limits{MaxAttempts: 6, MaxDelay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err := th.Write(ctx, "delete", "spaces/S", func(ctx context.Context) error { return api.Delete(ctx, "spaces/S/members/1") })
	if !errors.Is(err, throttle.ErrDeadline) || !errors.Is(err, chatapi.ErrQuota) {
		t.Errorf("err = %v; want ErrDeadline wrapping the 429", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("waited %v for a retry that could not happen before the deadline", d)
	}
}

func TestTimedOutCallIsRetried(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			select { // hang past the call timeout
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"memberships":[]}`))
	}))
	defer ts.Close()
	api, _ := chatapi.New(context.Background(), chatapi.Options{Endpoint: ts.URL + "/"})
	th := throttle.New(throttle.Limits{MaxAttempts: 3, CallTimeout: 200 * time.Millisecond, BaseDelay: time.Millisecond})
	err := th.Read(context.Background(), "list", "spaces/S", func(ctx context.Context) error {
		_, _, err := api.ListPage(ctx, "spaces/S", "")
		return err
	})
	if err != nil || calls != 2 {
		t.Errorf("err = %v after %d calls; want the timed-out call retried once", err, calls)
	}
}

func TestOneQuotaRefusalOnlyTrimsThePace(t *testing.T) {
	srv := &scripted{script: []string{"429"}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	api, _ := chatapi.New(context.Background(), chatapi.Options{Endpoint: ts.URL + "/"})
	th := throttle.New(throttle.Limits{ProjectWritesPerMinute: 6000, MaxAttempts: 3, BaseDelay: time.Millisecond})
	if r := th.Rate(throttle.Write); r != 100 {
		t.Fatalf("pace %v, want the quota's full rate, 100/s", r)
	}
	if err := th.Write(context.Background(), "delete", "spaces/A", func(ctx context.Context) error { return api.Delete(ctx, "spaces/A/members/1") }); err != nil {
		t.Fatal(err)
	}
	if r := th.Rate(throttle.Write); r < 97 || th.Slowdowns() != 0 {
		t.Errorf("after one 429 the shared write pace is %v/s (%d cuts); want it trimmed by 2%% at most", r, th.Slowdowns())
	}
}

func TestPersistentQuotaRefusalsCutThePaceAndItRecovers(t *testing.T) {
	srv := &scripted{script: []string{"429", "429", "429"}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	api, _ := chatapi.New(context.Background(), chatapi.Options{Endpoint: ts.URL + "/"})
	th := throttle.New(throttle.Limits{ProjectWritesPerMinute: 6000, MaxAttempts: 4, BaseDelay: time.Millisecond, Window: 1600 * time.Millisecond})
	if err := th.Write(context.Background(), "delete", "spaces/A", func(ctx context.Context) error { return api.Delete(ctx, "spaces/A/members/1") }); err != nil {
		t.Fatal(err)
	}
	slowed := th.Rate(throttle.Write)
	if slowed > 60 || th.Slowdowns() != 1 {
		t.Errorf("after three 429s in a row the shared write pace is %v/s (%d cuts); want it cut by 40%%, the most one cut takes", slowed, th.Slowdowns())
	}
	time.Sleep(500 * time.Millisecond) // the hold is a window ÷ 8: 200 ms
	if r := th.Rate(throttle.Write); r <= slowed || r >= 100 {
		t.Errorf("half a second later the pace is %v/s; want it climbing from %v back towards 100", r, slowed)
	}
}

func TestADeadEndpointStopsTheRun(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer ts.Close()
	api, _ := chatapi.New(context.Background(), chatapi.Options{Endpoint: ts.URL + "/"})
	th := throttle.New(throttle.Limits{MaxAttempts: 1000, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond, DeadAfter: 300 * time.Millisecond})
	var fatal error
	th.OnFatal = func(err error) { fatal = err }
	start := time.Now()
	err := th.Read(context.Background(), "list", "spaces/S", func(ctx context.Context) error {
		_, _, err := api.ListPage(ctx, "spaces/S", "")
		return err
	})
	// The message names the call that failed last: a Directory hanging
	// while Chat answers must not read as Chat down.
	if !errors.Is(err, chatapi.ErrFatal) || fatal == nil || !strings.Contains(err.Error(), "calls in a row") || !strings.Contains(err.Error(), "(last: list: ") {
		t.Errorf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v to give up on a dead endpoint", d)
	}
}

func TestAnAnswerKeepsTheRunAlive(t *testing.T) {
	var n int
	var mu sync.Mutex
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		k := n
		mu.Unlock()
		if k%10 == 0 { // one answer in ten: flaky, not dead
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"memberships":[]}`))
			return
		}
		w.WriteHeader(503)
	}))
	defer ts.Close()
	api, _ := chatapi.New(context.Background(), chatapi.Options{Endpoint: ts.URL + "/"})
	th := throttle.New(throttle.Limits{MaxAttempts: 1000, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond, DeadAfter: 50 * time.Millisecond})
	for i := 0; i < 20; i++ {
		err := th.Read(context.Background(), "list", "spaces/S", func(ctx context.Context) error {
			_, _, err := api.ListPage(ctx, "spaces/S", "")
			return err
		})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
}

// A run whose lock is gone makes no write: the check before each attempt
// stops it, and the run is told to stop.
func TestBeforeWriteStopsTheWrite(t *testing.T) {
	th := throttle.New(throttle.Limits{MaxAttempts: 3, BaseDelay: time.Millisecond})
	var fatal error
	th.OnFatal = func(err error) { fatal = err }
	lost := errors.New("this run's lock is gone: gs://b/p/lock was deleted")
	th.BeforeWrite = func(context.Context) error { return lost }
	writes := 0
	err := th.Write(context.Background(), "create", "spaces/A", func(context.Context) error { writes++; return nil })
	if writes != 0 || !errors.Is(err, lost) || !errors.Is(err, chatapi.ErrFatal) || fatal == nil {
		t.Errorf("writes %d, err %v, fatal %v", writes, err, fatal)
	}
	// Reads are not held up by it.
	if err := th.Read(context.Background(), "list", "spaces/A", func(context.Context) error { return nil }); err != nil {
		t.Errorf("read: %v", err)
	}
}

// A fatal answer to a tentative call (one the run may not need) is the
// caller's to weigh; the same answer to any other call stops the run.
func TestTentativeFatalDoesNotStopTheRun(t *testing.T) {
	th := throttle.New(throttle.Limits{ProjectReadsPerMinute: 1e6, MaxAttempts: 3, BaseDelay: time.Millisecond})
	fatal := 0
	th.OnFatal = func(error) { fatal++ }
	refused := func(context.Context) error {
		return chatapi.Fatal("the token endpoint refused the Directory scope", errors.New("unauthorized_client"))
	}
	err := th.Directory(throttle.Tentative(context.Background()), "directory.users.list", refused)
	if !errors.Is(err, chatapi.ErrFatal) || fatal != 0 {
		t.Errorf("tentative: err %v, OnFatal called %d times; want the fatal error returned and no call", err, fatal)
	}
	err = th.Directory(context.Background(), "directory.users.get", refused)
	if !errors.Is(err, chatapi.ErrFatal) || fatal != 1 {
		t.Errorf("not tentative: err %v, OnFatal called %d times; want once", err, fatal)
	}
}

// A 409 ABORTED (a concurrency conflict: retried) is an answer: an API
// that gives nothing else for a while is busy, not down, and the run is
// not stopped as if no call were answered.
func TestAbortedAnswersKeepTheRunAlive(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(409)
		w.Write([]byte(`{"error":{"code":409,"message":"The operation was aborted.","status":"ABORTED"}}`))
	}))
	defer ts.Close()
	api, _ := chatapi.New(context.Background(), chatapi.Options{Endpoint: ts.URL + "/"})
	th := throttle.New(throttle.Limits{MaxAttempts: 60, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond, DeadAfter: 20 * time.Millisecond})
	var fatal error
	th.OnFatal = func(err error) { fatal = err }
	err := th.Write(context.Background(), "create", "spaces/S", func(ctx context.Context) error {
		_, err := api.Create(ctx, "spaces/S", membership.User("ann@example.com"))
		return err
	})
	if errors.Is(err, chatapi.ErrFatal) || fatal != nil || !strings.Contains(err.Error(), "gave up after 60 attempts") {
		t.Errorf("err = %v, fatal = %v; want the create given up after its attempts, the run not stopped", err, fatal)
	}
}

// A write stopped while its only answers were 409 ABORTED (a conflict
// that made nothing) was not made: its error is no outcome in doubt.
func TestAWriteStoppedAfterAbortedAnswersWasNotMade(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(409)
		w.Write([]byte(`{"error":{"code":409,"message":"The operation was aborted.","status":"ABORTED"}}`))
	}))
	defer ts.Close()
	api, _ := chatapi.New(context.Background(), chatapi.Options{Endpoint: ts.URL + "/"})
	th := throttle.New(throttle.Limits{MaxAttempts: 1000, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := th.Write(ctx, "create", "spaces/S", func(ctx context.Context) error {
		_, err := api.Create(ctx, "spaces/S", membership.User("ann@example.com"))
		return err
	})
	if !errors.Is(err, throttle.ErrDeadline) && !errors.Is(err, throttle.ErrInterrupted) || errors.Is(err, chatapi.ErrTransient) || strings.Contains(err.Error(), "may have happened") ||
		errors.Is(err, throttle.ErrInterrupted) && !strings.Contains(err.Error(), "made (again)") {
		t.Errorf("err = %v; want the write stopped, not made (again: calls were made), no outcome in doubt", err)
	}
}

// A Chat quota that refuses every call for two of its windows (another
// app taking all of it) stops the run, rather than let it wait out its
// deadline a call at a time; an answer in between, or a quota refusing
// the Directory, does not.
func TestAQuotaRefusingEveryCallStopsTheRun(t *testing.T) {
	refusing := func(n *atomic.Int32, every int) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if k := n.Add(1); every > 0 && k%int32(every) == 0 {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"memberships":[]}`))
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(429)
			w.Write([]byte(`{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}`))
		}))
	}
	limits := throttle.Limits{MaxAttempts: 1000, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, Window: 100 * time.Millisecond}
	list := func(th *throttle.Throttle, api *chatapi.Client) error {
		return th.Read(context.Background(), "list", "spaces/S", func(ctx context.Context) error {
			_, _, err := api.ListPage(ctx, "spaces/S", "")
			return err
		})
	}

	var n atomic.Int32
	ts := refusing(&n, 0)
	defer ts.Close()
	api, _ := chatapi.New(context.Background(), chatapi.Options{Endpoint: ts.URL + "/"})
	th := throttle.New(limits)
	var fatal error
	th.OnFatal = func(err error) { fatal = err }
	start := time.Now()
	err := list(th, api)
	if !errors.Is(err, chatapi.ErrFatal) || fatal == nil || !strings.Contains(err.Error(), "refused every membership read for its quota") {
		t.Errorf("err = %v, told %v", err, fatal)
	}
	if d := time.Since(start); d < 2*limits.Window || d > 5*time.Second || n.Load() < 10 {
		t.Errorf("gave up after %v and %d calls; want two windows (%v) and 10 calls at least", d, n.Load(), 2*limits.Window)
	}

	// One answer in five: a quota shared, not gone.
	var m atomic.Int32
	flaky := refusing(&m, 5)
	defer flaky.Close()
	api, _ = chatapi.New(context.Background(), chatapi.Options{Endpoint: flaky.URL + "/"})
	th = throttle.New(limits)
	for i := 0; i < 10; i++ {
		if err := list(th, api); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}

	// The Directory's refusals are its own to give up on.
	var d atomic.Int32
	dir := refusing(&d, 0)
	defer dir.Close()
	api, _ = chatapi.New(context.Background(), chatapi.Options{Endpoint: dir.URL + "/"})
	th = throttle.New(throttle.Limits{MaxAttempts: 30, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, Window: 10 * time.Millisecond})
	err = th.Directory(context.Background(), "users.get", func(ctx context.Context) error {
		_, _, err := api.ListPage(ctx, "spaces/S", "")
		return err
	})
	if errors.Is(err, chatapi.ErrFatal) || !errors.Is(err, chatapi.ErrQuota) {
		t.Errorf("a Directory call refused 30 times: %v; want the refusal, not the run's end", err)
	}
}

// Refusals of a kind of call with a long pause between them (the run
// reading other spaces, no write asked) are not a quota refusing every
// call for two windows: one refusal after the pause must not stop the run.
func TestRefusalsAfterAPauseDoNotStopTheRun(t *testing.T) {
	var n atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if k := n.Add(1); k <= 11 {
			w.WriteHeader(429)
			w.Write([]byte(`{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}`))
			return
		}
		w.Write([]byte(`{"memberships":[]}`))
	}))
	defer ts.Close()
	api, _ := chatapi.New(context.Background(), chatapi.Options{Endpoint: ts.URL + "/"})
	th := throttle.New(throttle.Limits{MaxAttempts: 1, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, Window: 50 * time.Millisecond})
	var fatal error
	th.OnFatal = func(err error) { fatal = err }
	write := func() error {
		return th.Write(context.Background(), "members.create", "spaces/S", func(ctx context.Context) error {
			_, _, err := api.ListPage(ctx, "spaces/S", "")
			return err
		})
	}
	for i := 0; i < 10; i++ { // a burst refused, each write failing alone
		if err := write(); !errors.Is(err, chatapi.ErrQuota) || errors.Is(err, chatapi.ErrFatal) {
			t.Fatalf("write %d: %v; want a refusal", i, err)
		}
	}
	time.Sleep(300 * time.Millisecond) // six windows with no write asked
	if err := write(); errors.Is(err, chatapi.ErrFatal) || fatal != nil {
		t.Errorf("one refusal after a pause stopped the run: %v (told %v)", err, fatal)
	}
}

// A storm whose retries wait longer than the quota's window (a long
// Retry-After, or a window of 6 s at quotas ×10 against a 32 s longest
// wait) still stops the run: a call waiting to retry is a call asked.
func TestAStormWithWaitsLongerThanTheWindowStops(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(429)
		w.Write([]byte(`{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}`))
	}))
	defer ts.Close()
	api, _ := chatapi.New(context.Background(), chatapi.Options{Endpoint: ts.URL + "/"})
	th := throttle.New(throttle.Limits{MaxAttempts: 1000, BaseDelay: 30 * time.Millisecond, MaxDelay: 30 * time.Millisecond, Window: 10 * time.Millisecond})
	th.OnRetry = func(string, int, time.Duration, error) { time.Sleep(15 * time.Millisecond) } // every wait past the window
	err := th.Write(context.Background(), "members.create", "spaces/S", func(ctx context.Context) error {
		_, _, err := api.ListPage(ctx, "spaces/S", "")
		return err
	})
	if !errors.Is(err, chatapi.ErrFatal) {
		t.Errorf("err = %v; want the run stopped", err)
	}
}
