package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/logging"
	"github.com/syncer-dev/syncer/internal/metrics"
)

// lockedBuffer lets the test read what serve prints while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func metricValue(metrics, series string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(metrics)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestServe(t *testing.T) {
	// Every second, with calls slow enough (300 ms) that a run outlasts a tick.
	em, cfg := setup(t, 3, emulator.Options{LatencyMin: 300 * time.Millisecond, LatencyMax: 300 * time.Millisecond}, "max_attempts: 2")
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(data, "schedule: \"* * * * * *\"\nrun_on_start: true\n"...), 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0", "--log-level", "debug"}, stdout, stderr)
	}()

	var base string
	for deadline := time.Now().Add(5 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := regexp.MustCompile(`serving on (http://\S+/)`).FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("serve did not start:\n%s%s", stdout, stderr)
	}
	if code, _ := get(t, base+"healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	if code, _, errOut := runCLI(t, "apply", "--config", cfg); code != exitLocked {
		t.Errorf("an apply beside serve: exit %d, want %d: %s", code, exitLocked, errOut)
	}
	// Wait until runs have happened and one was skipped.
	var metrics string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		_, metrics = get(t, base+"metrics")
		if n, _ := strconv.ParseFloat(metricValue(metrics, `syncer_runs_total{result="success"}`), 64); n >= 2 && metricValue(metrics, `syncer_runs_total{result="skipped"}`) != "" {
			break
		}
	}
	for _, series := range []string{`syncer_runs_total{result="success"}`, `syncer_runs_total{result="skipped"}`, `syncer_changes_total{action="create",status="applied"}`,
		`syncer_api_requests_total{code="200",method="members.create"}`, `syncer_desired_memberships`, `syncer_managed_spaces`, `syncer_last_success_timestamp_seconds`, `syncer_run_duration_seconds`} {
		if metricValue(metrics, series) == "" {
			t.Errorf("/metrics lacks %s:\n%s", series, metrics)
		}
	}
	if v := metricValue(metrics, `syncer_changes_total{action="create",status="applied"}`); v != "3" {
		t.Errorf("creates applied %s, want 3 over all runs (the later runs had nothing to do)", v)
	}
	if code, _ := get(t, base+"readyz"); code != 200 {
		t.Errorf("/readyz %d after successful runs", code)
	}
	code, body := get(t, base+"report")
	var rep struct {
		FormatVersion string `json:"format_version"`
		Applied       bool   `json:"applied"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &rep) != nil || rep.FormatVersion != "1" {
		t.Errorf("/report %d %s", code, body)
	}

	// A broken edit fails the next run loudly; serve stays up.
	os.WriteFile(cfg, append(data, "schedule: \"* * * * * *\"\npolicy: mirror\n"...), 0o644)
	invalid := ""
	for deadline := time.Now().Add(10 * time.Second); invalid == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		_, metrics = get(t, base+"metrics")
		invalid = metricValue(metrics, `syncer_runs_total{result="invalid"}`)
	}
	if invalid == "" || !strings.Contains(logText(stderr.String()), `unknown policy "mirror"`) {
		t.Errorf("a broken config edit did not fail a run loudly (invalid runs %q)", invalid)
	}
	if code, _ := get(t, base+"healthz"); code != 200 {
		t.Errorf("/healthz %d after a broken edit", code)
	}
	// The history says why that run made no plan, not only the logs.
	var runs string
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(runs, "mirror") && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		_, runs = get(t, base+"runs")
	}
	if !strings.Contains(runs, `unknown policy &#34;mirror&#34;`) && !strings.Contains(runs, `unknown policy &quot;mirror&quot;`) {
		t.Errorf("/runs doesn't say why the broken run failed:\n%.3000s", runs)
	}

	// SIGTERM: no new run, then exit 0.
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("serve exited %d", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop within 15 s")
	}
	writes := em.Stats().Writes
	time.Sleep(1500 * time.Millisecond)
	if em.Stats().Writes != writes {
		t.Error("writes went on after serve returned")
	}
	if !strings.Contains(stderr.String(), `"run_id"`) {
		t.Error("log lines carry no run_id")
	}
}

func TestServeConfigErrors(t *testing.T) {
	_, cfg := setup(t, 1, emulator.Options{}, "")
	if code, _, errOut := runCLI(t, "serve", "--config", cfg, "--listen", "127.0.0.1:0"); code != exitInvalid || !strings.Contains(logText(errOut), "serve needs a schedule") {
		t.Errorf("no schedule: exit %d %s", code, errOut)
	}
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(data, "schedule: \"every day\"\n"...), 0o644)
	if code, _, errOut := runCLI(t, "serve", "--config", cfg, "--listen", "127.0.0.1:0"); code != exitInvalid || !strings.Contains(logText(errOut), `schedule "every day"`) {
		t.Errorf("bad schedule: exit %d %s", code, errOut)
	}
	_, _, errOut := runCLI(t, "serve", "--config", cfg, "--listen", "127.0.0.1:0")
	checkJSONLogs(t, errOut) // stderr is not a terminal: every line is a JSON entry
}

func TestServeReadinessFollowsTheAPI(t *testing.T) {
	em, cfg := setup(t, 2, emulator.Options{}, "max_attempts: 1")
	data, _ := os.ReadFile(cfg)
	// Runs every 2 s; nothing runs at start, so readiness is the checker's.
	os.WriteFile(cfg, append(data, "schedule: \"*/2 * * * * *\"\n"...), 0o644)
	em.SetMisbehaviour("*", emulator.Misbehaviour{Status: 401})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0", "--ready-check-every", "300ms"}, stdout, stderr)
	}()
	var base string
	for deadline := time.Now().Add(5 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := regexp.MustCompile(`serving on (http://\S+/)`).FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatalf("serve did not start:\n%s", stderr)
	}
	waitFor := func(want int, what string) {
		t.Helper()
		code, body := 0, ""
		for deadline := time.Now().Add(8 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if code, body = get(t, base+"readyz"); code == want {
				return
			}
		}
		t.Fatalf("%s: /readyz %d %s\n%s", what, code, body, logText(stderr.String()))
	}
	waitFor(503, "credentials refused")
	em.SetMisbehaviour("*", emulator.Misbehaviour{})
	waitFor(200, "the API answers again (the checker, not a run, finds out)")
	em.SetMisbehaviour("*", emulator.Misbehaviour{Status: 500})
	waitFor(503, "a run failing for every space")
	if _, body := get(t, base+"readyz"); !strings.Contains(body, "not ready") {
		t.Errorf("/readyz says %q", body)
	}
	em.SetMisbehaviour("*", emulator.Misbehaviour{})
	waitFor(200, "recovered")
	cancel()
	<-done
}

func TestServeWaitsForTheStartupRun(t *testing.T) {
	em, cfg := setup(t, 6, emulator.Options{LatencyMin: 300 * time.Millisecond, LatencyMax: 300 * time.Millisecond}, "concurrency: 1")
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(data, "schedule: \"@daily\"\n"...), 0o644)
	ctx, cancel := context.WithCancelCause(context.Background())
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0", "--run-on-start"}, stdout, stderr)
	}()
	for deadline := time.Now().Add(10 * time.Second); em.Stats().Writes == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
	}
	cancel(errors.New("interrupted by SIGTERM"))
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	logs := logText(stderr.String())
	if !strings.Contains(logs, "run finished") || !strings.Contains(logs, "apply stopped") {
		t.Errorf("serve returned before its start-up run stopped:\n%s", logs)
	}
}

// serve drops a client that sends its request too slowly (or never
// finishes it), and a kept-alive connection left idle: neither holds a
// connection open.
func TestServeDropsSlowAndIdleConnections(t *testing.T) {
	saved := serveTimeouts
	serveTimeouts.header, serveTimeouts.idle = 200*time.Millisecond, 300*time.Millisecond
	t.Cleanup(func() { serveTimeouts = saved })
	_, cfg := setup(t, 1, emulator.Options{}, "")
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(data, "schedule: \"@every 1h\"\n"...), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0"}, stdout, stderr)
	}()
	defer func() { cancel(); <-done }()
	var addr string
	for deadline := time.Now().Add(5 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := regexp.MustCompile(`serving on http://(\S+)/`).FindStringSubmatch(stdout.String()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("serve did not start:\n%s%s", stdout, stderr)
	}
	// closedBy reads what the server sends until it closes the connection
	// (true), or until our own deadline (false).
	closedBy := func(c net.Conn) (string, bool) {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(c)
		return string(got), err == nil
	}
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprint(slow, "GET /healthz HTTP/1.1\r\nHost: syncer\r\n") // and never the blank line
	if _, closed := closedBy(slow); !closed {
		t.Error("a request whose headers never end kept its connection for 5 s")
	}
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	fmt.Fprint(idle, "GET /healthz HTTP/1.1\r\nHost: syncer\r\n\r\n") // answered, then kept alive
	if got, closed := closedBy(idle); !closed || !strings.Contains(got, "200 OK") {
		t.Errorf("a kept-alive connection left idle: closed %v, having read %q", closed, got)
	}
}

// --ready-check-every of nothing would re-check readiness in a loop that
// never waits, a read each time: refused at start, as other flags are.
func TestServeRefusesAReadyCheckThatNeverWaits(t *testing.T) {
	em, cfg := setup(t, 1, emulator.Options{}, "")
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(data, "schedule: \"@daily\"\n"...), 0o644)
	for _, every := range []string{"0s", "-1s", "1ns"} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var stdout, stderr lockedBuffer
		code := run(ctx, []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0", "--ready-check-every", every}, &stdout, &stderr)
		timedOut := ctx.Err() != nil
		cancel()
		if timedOut || code != exitInvalid || !strings.Contains(logText(stderr.String()), "--ready-check-every") {
			t.Errorf("--ready-check-every %s: exit %d after serving %v; %d reads\n%.600s", every, code, timedOut,
				em.Stats().Count("spaces.get")+em.Stats().Count("members.list"), logText(stderr.String()))
		}
	}
}

// An address --listen can never take is a bad flag (exit 3), said before
// anything starts; a port in use is found when listening (exit 1).
func TestServeRefusesAListenAddressThatCantBe(t *testing.T) {
	_, cfg := setup(t, 1, emulator.Options{}, "")
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(data, "schedule: \"@daily\"\n"...), 0o644)
	for _, addr := range []string{"bogus", "127.0.0.1:99999", "127.0.0.1:no-such-service"} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var stdout, stderr lockedBuffer
		code := run(ctx, []string{"serve", "--config", cfg, "--listen", addr}, &stdout, &stderr)
		cancel()
		if code != exitInvalid || !strings.Contains(logText(stderr.String()), "--listen") {
			t.Errorf("--listen %s: exit %d, want %d\n%.400s", addr, code, exitInvalid, logText(stderr.String()))
		}
	}
}

// Serve holds its config's host lock for its lifetime, but the state
// folder's lock only while a run goes: another config keeping its state in
// the same folder (two configs side by side share the default
// syncer-state) is not shut out between serve's runs, and a serve run
// that finds the folder's lock held by it stops as locked, writing nothing.
func TestServeHoldsTheStateFolderOnlyWhileItRuns(t *testing.T) {
	em, cfg := setup(t, 2, emulator.Options{}, "")
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(data, "schedule: \"@every 1h\"\n"...), 0o644)
	other := filepath.Join(filepath.Dir(cfg), "other.yaml")
	os.WriteFile(other, data, 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0"}, stdout, stderr)
	}()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(stdout.String(), "serving on") && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
	}
	if !strings.Contains(stdout.String(), "serving on") {
		t.Fatalf("serve did not start:\n%s%s", stdout, stderr)
	}
	if code, _, errOut := runCLI(t, "apply", "--config", other); code != exitOK {
		t.Errorf("an apply of another config sharing the state folder, between serve's runs: exit %d, want %d\n%s", code, exitOK, logText(errOut))
	}
	if code, _, errOut := runCLI(t, "apply", "--config", cfg); code != exitLocked {
		t.Errorf("an apply of serve's own config: exit %d, want %d\n%s", code, exitLocked, logText(errOut))
	}

	// A serve run while another run holds the state folder writes nothing.
	unlock, err := acquireStateLock(other, "")
	if err != nil {
		t.Fatal(err)
	}
	var stdout2, stderr2 lockedBuffer
	writes := em.Stats().Writes
	r := runOnce(context.Background(), cmdIO{stdout: &stdout2, stderr: &stderr2}, runSettings{runID: "x", flags: runFlags{config: cfg}, write: true, stateLock: true,
		metrics: metrics.New(), calls: &metrics.Calls{}, log: logging.New(&stderr2, slog.LevelInfo)})
	unlock()
	if r.code != exitLocked || em.Stats().Writes != writes {
		t.Errorf("a serve run beside a run holding the state folder: exit %d, %d writes; want %d, none\n%s", r.code, em.Stats().Writes-writes, exitLocked, logText(stderr2.String()))
	}
	cancel()
	<-done
}

// A long --ready-check-every must not overflow the ready interval (ten
// times it) into a negative one, which fires at once: a read in a loop
// that never waits.
func TestAReadyCheckIntervalDoesNotOverflow(t *testing.T) {
	for _, every := range []time.Duration{300000 * time.Hour, time.Duration(1<<63 - 1)} {
		r := newReadiness(every)
		if r.readyEvery < every || r.unreadyEvery != every {
			t.Errorf("--ready-check-every %v: rechecks every %v while ready, %v while not", every, r.readyEvery, r.unreadyEvery)
		}
	}
}

// The read check loads the sources, as a run does: it never runs beside a
// run (the peak would hold them twice). A check due during a run waits for
// its end, readiness left as it was; the first check's end is told, for
// the start-up run that waits for it.
func TestTheReadCheckWaitsForARun(t *testing.T) {
	r := newReadiness(10 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var checks atomic.Int32
	r.running.Lock() // a run is going
	go r.watch(ctx, slog.New(slog.DiscardHandler), func(context.Context) error { checks.Add(1); return nil }, nil)
	time.Sleep(100 * time.Millisecond)
	select {
	case <-r.checked:
		t.Fatal("the first check was made during a run")
	default:
	}
	if n := checks.Load(); n != 0 {
		t.Fatalf("%d checks during a run", n)
	}
	if ok, why := r.get(); ok || !strings.Contains(why, "waiting") {
		t.Errorf("readiness during the run: %v %q", ok, why)
	}
	r.running.Unlock() // the run ends
	select {
	case <-r.checked:
	case <-time.After(5 * time.Second):
		t.Fatal("no check after the run ended")
	}
	if ok, _ := r.get(); !ok || checks.Load() == 0 {
		t.Errorf("after the run: ready %v, %d checks", ok, checks.Load())
	}
}

// Unready during a long run (the first check failed for a passing
// reason): a read that does not load the sources makes serve ready before
// the run ends; one that fails leaves it as it was.
func TestALightReadDuringARunMakesServeReady(t *testing.T) {
	for _, works := range []bool{true, false} {
		r := newReadiness(10 * time.Millisecond)
		ctx, cancel := context.WithCancel(context.Background())
		var full, light atomic.Int32
		r.running.Lock() // a run is going
		go r.watch(ctx, slog.New(slog.DiscardHandler), func(context.Context) error { full.Add(1); return nil },
			func(context.Context) error {
				light.Add(1)
				if works {
					return nil
				}
				return errors.New("403")
			})
		time.Sleep(100 * time.Millisecond)
		ok, _ := r.get()
		if ok != works || full.Load() != 0 || light.Load() == 0 {
			t.Errorf("light read works %v: ready %v, %d whole checks and %d light reads during the run", works, ok, full.Load(), light.Load())
		}
		cancel()
		r.running.Unlock()
	}
}

// A light read that was in flight when the run ended with the API down
// must not undo the run's verdict: its answer is older than the run's.
func TestALightReadInFlightWhenTheRunFailsDoesNotMakeServeReady(t *testing.T) {
	r := newReadiness(time.Hour) // no whole check within the test
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.running.Lock() // a run is going
	inFlight, runEnded := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go r.watch(ctx, slog.New(slog.DiscardHandler), func(context.Context) error { return nil },
		func(context.Context) error {
			close(inFlight)
			<-runEnded // the read was sent before the run's end, answered after
			defer close(done)
			return nil
		})
	<-inFlight
	r.set(false, "the last run failed for every space: down") // the run's outcome
	r.running.Unlock()
	close(runEnded)
	<-done
	time.Sleep(50 * time.Millisecond)
	if ok, why := r.get(); ok {
		t.Errorf("ready after the run found the API down (why %q): a light read answered before the run's end undid it", why)
	}
}
