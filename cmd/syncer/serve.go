package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robfig/cron/v3"

	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/history"
	"github.com/syncer-dev/syncer/internal/logging"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/metrics"
	"github.com/syncer-dev/syncer/internal/report"
	"github.com/syncer-dev/syncer/internal/source"
)

func serveCommand() command {
	return command{
		name:    "serve",
		summary: "stay up and apply on the config's schedule; serves health, metrics and the last report",
		usage: `Usage: syncer serve --config FILE [--listen ADDR] [--run-on-start] [--lock-file PATH] [--history N] [--ready-check-every D]

Runs 'syncer apply' on the config's schedule (cron: 5 fields, optional
seconds, CRON_TZ=, @hourly...). A run still going when the next is due makes
that one skip; a panic in a run's own goroutine is logged and the next runs
as usual (one in a goroutine it started ends the process). The
config file is read afresh for every run: a broken edit fails that run loudly
and changes nothing. The schedule itself is read once, at start-up.

It holds the apply lock while it runs, so a second serve or an apply on the
same config on this host exits 5.

HTTP: /healthz (up), /readyz (a read with the credentials works: checked at
start, every 5 min, and every 30 s while failing (--ready-check-every); a run
that fails for every space turns it unready), /metrics (Prometheus), /report
(the last run's JSON report). Pages: / (the last run's report), /runs (the
last --history runs, 50 by default, with a chart of their changes and
durations, each linking to its report at /runs/ID). The history is kept in
state.location (a folder or gs://), so it survives a restart.
SIGTERM or Ctrl-C: no new run starts, a running one stops as apply does,
then exit 0.

Examples:
  syncer serve --config config.yaml --listen :8080
  syncer serve --config config.yaml --run-on-start`,
		run: runServe,
	}
}

func runServe(ctx context.Context, out cmdIO, args []string) int {
	var f runFlags
	fs := newFlags(serveCommand(), out)
	f.register(fs)
	listen := fs.String("listen", ":8080", "address for the pages (/, /runs), /healthz, /readyz, /metrics and /report")
	keep := fs.Int("history", history.DefaultKeep, fmt.Sprintf("runs the history in state.location keeps, with their reports (0: none; at most %d)", history.MaxKeep))
	runOnStart := fs.Bool("run-on-start", false, "also run once at start-up (or set run_on_start in the config)")
	checkEvery := fs.Duration("ready-check-every", 30*time.Second, "how often /readyz re-checks a read while unready (ten times less often while ready)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	level, err := logging.ParseLevel(f.logLevel)
	if err != nil {
		fmt.Fprintln(out.stderr, err)
		return exitInvalid
	}
	log := logging.New(out.stderr, level)
	refuse := func(code int, format string, args ...any) int {
		log.Error(fmt.Sprintf(format, args...))
		return code
	}
	switch {
	case f.pushgateway != "":
		return refuse(exitInvalid, "serve: --pushgateway is for one-shot runs; serve exposes /metrics for Prometheus to scrape")
	case f.detailed:
		return refuse(exitInvalid, "serve: --detailed-exitcode is for plan and apply --dry-run")
	case f.planOut != "":
		return refuse(exitInvalid, "serve: --out saves a plan without applying it (syncer plan --out); serve applies")
	case f.allowRemovals >= 0:
		return refuse(exitInvalid, "serve: --allow-removals is a one-run consent; give it to one apply after reading its plan")
	case *keep < 0 || *keep > history.MaxKeep:
		return refuse(exitInvalid, "serve: --history %d: keep 0 to %d runs", *keep, history.MaxKeep)
	case *checkEvery < minReadyCheck:
		// Less would re-check, a read each time, in a loop that never waits.
		return refuse(exitInvalid, "serve: --ready-check-every %v: at least %v (30s by default)", *checkEvery, minReadyCheck)
	}
	if err := checkRunFlags(f); err != nil {
		return refuse(exitInvalid, "serve: %v", err)
	}
	if err := checkListen(*listen); err != nil {
		return refuse(exitInvalid, "serve: --listen %q: %v (want HOST:PORT or :PORT)", *listen, err)
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		return reportInputErrors(out, log, err)
	}
	if cfg.Schedule == "" {
		return refuse(exitInvalid, "%s: serve needs a schedule (e.g. schedule: \"*/30 * * * *\")", cfg.Path)
	}
	schedule, err := config.ParseSchedule(cfg.Schedule)
	if err != nil {
		return refuse(exitInvalid, "%s: schedule %q: %v", cfg.At("schedule"), cfg.Schedule, err)
	}
	// One serve per config and host, and no apply beside it: the host lock
	// is held for serve's lifetime. A local state folder's lock, which
	// other configs keeping their state there share, is taken by each run
	// (as a Cloud Storage one is), so they are not shut out between runs.
	unlock, err := acquireLock(f.lockFile, f.config)
	if err != nil {
		if errors.Is(err, errLockHeld) {
			return refuse(exitLocked, "%v", err)
		}
		return refuse(exitFailure, "%v", err)
	}
	defer unlock()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return refuse(exitFailure, "serve: %v", err)
	}

	m := metrics.New()
	last := &lastRun{}
	// The history lives with the rest of the state, where the config serve
	// started with keeps it.
	runs := &runHistory{cfg: cfg, keep: *keep, opts: authOptions(cfg, m)}
	seedRunTimes(ctx, runs, m, cfg.Limits.CallTimeout)
	health := newReadiness(*checkEvery)
	run := cron.FuncJob(func() {
		// The read check loads the sources too: never beside a run, whose
		// peak memory would hold them twice (README's figures are a run's).
		health.running.Lock()
		defer health.running.Unlock()
		id := newRunID()
		log := log.With("run_id", id)
		r := runOnce(ctx, out, runSettings{runID: id, flags: f, write: true, stateLock: true, metrics: m, calls: &metrics.Calls{}, log: log})
		var body []byte
		if r.plan != nil {
			var buf bytes.Buffer
			if report.JSON(&buf, *r.plan) == nil {
				body = buf.Bytes()
			}
		}
		last.set(r.run, r.plan, body)
		switch {
		case r.apiDown != nil:
			health.set(false, "the last run failed for every space: "+r.apiDown.Error())
		case r.code == exitOK:
			health.set(true, "") // a whole run worked, credentials included
		}
		recordRun(ctx, runs, r, log) // last: a slow state location delays nothing above
	})
	cl := cronLogger{log: log, metrics: m}
	job := scheduledJob(cl, run)
	scheduler := cron.New(cron.WithParser(cron.NewParser(cron.SecondOptional|cron.Minute|cron.Hour|cron.Dom|cron.Month|cron.Dow|cron.Descriptor)), cron.WithLogger(cl))
	scheduler.Schedule(schedule, job)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if ok, why := health.get(); !ok {
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	servePages(mux, last, runs, cfg.State.Location)
	mux.HandleFunc("GET /report", func(w http.ResponseWriter, r *http.Request) {
		run, _, body := last.get()
		if run == nil && runs.keep > 0 {
			// Just restarted: the newest run the history kept, as / shows.
			run, _, body = last.fromHistory(r.Context(), runs)
		}
		switch {
		case body == nil && run != nil && run.Why == "":
			http.Error(w, fmt.Sprintf("the last run (%s, %s): its report is not kept (too large for the history, or overwritten)", run.ID, run.Result), http.StatusNotFound)
			return
		case body == nil && run != nil:
			http.Error(w, fmt.Sprintf("the last run (%s, %s) made no report: %s", run.ID, run.Result, run.Why), http.StatusNotFound)
			return
		case body == nil:
			http.Error(w, "no run has finished yet", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: serveTimeouts.header, ReadTimeout: serveTimeouts.read,
		WriteTimeout: serveTimeouts.write, IdleTimeout: serveTimeouts.idle}
	go srv.Serve(ln)
	fmt.Fprintf(out.stdout, "serving on http://%s/ (schedule %q)\n", ln.Addr(), cfg.Schedule)
	log.Info("serving", "listen", ln.Addr().String(), "schedule", cfg.Schedule)

	var checkedSpace atomic.Value // the space the last whole check tried
	go health.watch(ctx, log, func(ctx context.Context) error {
		space, err := checkReadyOn(ctx, f, "")
		if space != "" {
			checkedSpace.Store(space)
		}
		return err
	}, func(ctx context.Context) error {
		space, _ := checkedSpace.Load().(string)
		if space == "" {
			return errors.New("no space known to read without loading the sources")
		}
		_, err := checkReadyOn(ctx, f, space)
		return err
	})
	var startup sync.WaitGroup
	if *runOnStart || cfg.RunOnStart {
		startup.Add(1)
		go func() {
			defer startup.Done()
			// After the first read check, so that /readyz is told at once
			// and the check does not load the sources beside the run.
			select {
			case <-health.checked:
			case <-ctx.Done():
				return
			}
			job.Run()
		}()
	}
	scheduler.Start()

	<-ctx.Done()
	log.Info("stopping: no new run starts; a running one finishes its calls in flight")
	stopped := scheduler.Stop()
	all := make(chan struct{})
	go func() {
		<-stopped.Done()
		startup.Wait() // the start-up run is not the scheduler's
		close(all)
	}()
	select {
	case <-all:
	case <-time.After(30 * time.Second):
		log.Error("a run did not stop within 30 s")
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown", "error", err.Error())
	}
	return exitOK
}

// scheduledJob wraps a run for the scheduler: a run still going makes the
// next one skip, and a panic in the run is logged. Recover is inside
// SkipIfStillRunning: outside it, a panic unwound past the wrapper's
// token (robfig/cron gives it back without a defer), and every later run
// was skipped as "still going".
func scheduledJob(cl cronLogger, run cron.Job) cron.Job {
	return cron.NewChain(cron.SkipIfStillRunning(cl), cron.Recover(cl)).Then(run)
}

// minReadyCheck is the shortest --ready-check-every.
const minReadyCheck = 100 * time.Millisecond

// serveTimeouts: no connection is held longer than a page takes (the
// history's pages read Cloud Storage for up to historyTimeout), nor by a
// client that sends its request slowly or never.
var serveTimeouts = struct{ header, read, write, idle time.Duration }{
	header: 10 * time.Second, read: time.Minute, write: historyTimeout + 30*time.Second, idle: 2 * time.Minute}

// checkReady proves the config's credentials with one harmless read,
// within one call's deadline. The config is read afresh, as runs do.
func checkReady(ctx context.Context, f runFlags) error {
	_, err := checkReadyOn(ctx, f, "")
	return err
}

// checkReadyOn is checkReady on the given space, without loading the
// sources (the memory they take is a run's: a check during a run names
// the space the last whole check tried), or on the sources' first space
// when none is given. It returns the space it tried (read or not), or ""
// when it got no space to try.
func checkReadyOn(ctx context.Context, f runFlags, space string) (string, error) {
	cfg, err := config.Load(f.config)
	if err != nil {
		return "", fmt.Errorf("config invalid: %w", err)
	}
	if err := setEndpoint(cfg, f.endpoint); err != nil {
		return "", err
	}
	desired := membership.Desired{Spaces: []membership.DesiredSpace{{Name: space}}}
	if space == "" {
		if desired, err = source.Load(cfg.Sources); err != nil {
			return "", fmt.Errorf("sources invalid: %w", err)
		}
	}
	need := need(cfg, false)
	need.Directory = false
	ctx, cancel := context.WithTimeout(ctx, cfg.Limits.CallTimeout)
	defer cancel()
	creds, err := credentials(ctx, cfg, need, authOptions(cfg, nil))
	if err != nil {
		return "", err
	}
	if len(desired.Spaces) == 0 {
		return "", nil
	}
	_, err = tryRead(ctx, cfg, creds, desired)
	return desired.Spaces[0].Name, err
}

// readiness is serve's /readyz: ready once a read with the credentials
// worked, unready when a run fails for an API-wide reason, and re-checked on
// its own timer (often while unready) rather than at the next scheduled run.
type readiness struct {
	// unreadyEvery and readyEvery are how often the read is re-checked.
	unreadyEvery, readyEvery time.Duration

	mu    sync.Mutex
	ready bool
	why   string
	sets  uint64 // how many times set was called: a light read answered after a run's verdict must not undo it
	poke  chan struct{}

	// running is held by a run: a check due meanwhile waits for its end
	// (the run's outcome sets readiness too). checked is closed once the
	// first check has been made.
	running     sync.Mutex
	checked     chan struct{}
	checkedOnce sync.Once
}

// newReadiness re-checks every `every` while unready, ten times less often
// while ready.
func newReadiness(every time.Duration) *readiness {
	ready := 10 * every
	if every > math.MaxInt64/10 {
		ready = math.MaxInt64 // 10 × a long interval would wrap negative: a timer that fires at once
	}
	return &readiness{unreadyEvery: every, readyEvery: ready,
		why: "waiting for a read with the configured credentials to work", poke: make(chan struct{}, 1), checked: make(chan struct{})}
}

func (r *readiness) get() (bool, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ready, r.why
}

func (r *readiness) set(ready bool, why string) {
	r.mu.Lock()
	changed := r.ready != ready
	r.ready, r.why = ready, why
	r.sets++
	r.mu.Unlock()
	if changed && !ready {
		select {
		case r.poke <- struct{}{}: // re-check on the short interval from now
		default:
		}
	}
}

// watch checks at once, then every recheckUnready while unready and every
// recheckReady while ready, until ctx ends. A check due while a run is
// going waits for its end; meanwhile, if unready, light (one read that
// does not load the sources) is tried: a read that works makes serve
// ready, one that fails says nothing (the run's outcome will).
func (r *readiness) watch(ctx context.Context, log *slog.Logger, check, light func(context.Context) error) {
	for {
		if !r.running.TryLock() {
			r.mu.Lock()
			ok, sets := r.ready, r.sets
			r.mu.Unlock()
			if !ok && light != nil && light(ctx) == nil {
				// Only if nothing (the run's end) has set readiness
				// since the read was sent: its answer is older.
				r.mu.Lock()
				if r.sets == sets {
					r.ready, r.why = true, ""
					r.sets++
					log.Info("ready: a read with the configured credentials worked (during a run)")
				}
				r.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(r.unreadyEvery):
			}
			continue
		}
		err := check(ctx)
		r.running.Unlock()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.set(false, "the read check failed: "+err.Error())
			log.Warn("not ready: the read check failed", "error", err.Error(), "next_check", r.unreadyEvery.String())
		} else {
			if ok, _ := r.get(); !ok {
				log.Info("ready: a read with the configured credentials worked")
			}
			r.set(true, "")
		}
		r.checkedOnce.Do(func() { close(r.checked) })
		wait := r.readyEvery
		if ok, _ := r.get(); !ok {
			wait = r.unreadyEvery
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-r.poke:
			timer.Stop()
			// A run just failed: give it the short interval before checking.
			select {
			case <-ctx.Done():
				return
			case <-time.After(r.unreadyEvery):
			}
		case <-timer.C:
		}
	}
}

// cronLogger routes robfig/cron's messages to slog and counts skipped runs.
type cronLogger struct {
	log     *slog.Logger
	metrics *metrics.Metrics
}

func (l cronLogger) Info(msg string, kv ...any) {
	if msg == "skip" {
		l.metrics.Runs.WithLabelValues("skipped").Inc()
		l.log.Warn("the previous run is still going; this one is skipped")
		return
	}
	l.log.Debug("cron: "+msg, kv...)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "error", fmt.Sprint(err))...)
}

// checkListen refuses an address net.Listen can never take: what is
// wrong with the flag is exit 3; a port in use is found when listening.
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := net.LookupPort("tcp", port); err != nil { // a number to 65535, or a service's name
		return fmt.Errorf("port %q: %v", port, err)
	}
	return nil
}
