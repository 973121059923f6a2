package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robfig/cron/v3"

	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/logging"
	"github.com/syncer-dev/syncer/internal/metrics"
	"github.com/syncer-dev/syncer/internal/report"
	"github.com/syncer-dev/syncer/internal/source"
)

func serveCommand() command {
	return command{
		name:    "serve",
		summary: "stay up and apply on the config's schedule; serves health, metrics and the last report",
		usage: `Usage: syncer serve --config FILE [--listen ADDR] [--run-on-start] [--lock-file PATH]

Runs 'syncer apply' on the config's schedule (cron: 5 fields, optional
seconds, CRON_TZ=, @hourly...). A run still going when the next is due makes
that one skip; a panic in a run is logged and the next runs as usual. The
config file is read afresh for every run: a broken edit fails that run loudly
and changes nothing. The schedule itself is read once, at start-up.

It holds the apply lock while it runs, so a second serve or an apply on the
same config on this host exits 5.

HTTP: /healthz (up), /readyz (config loaded and a read with the credentials
worked), /metrics (Prometheus), /report (the last run's JSON report).
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
	listen := fs.String("listen", ":8080", "address for /healthz, /readyz, /metrics and /report")
	runOnStart := fs.Bool("run-on-start", false, "also run once at start-up (or set run_on_start in the config)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	level, err := logging.ParseLevel(f.logLevel)
	if err != nil {
		fmt.Fprintln(out.stderr, err)
		return exitInvalid
	}
	if f.pushgateway != "" {
		fmt.Fprintln(out.stderr, "serve: --pushgateway is for one-shot runs; serve exposes /metrics for Prometheus to scrape")
		return exitInvalid
	}
	log := logging.New(out.stderr, level)
	cfg, err := config.Load(f.config)
	if err != nil {
		return printInputErrors(out.stderr, err)
	}
	if cfg.Schedule == "" {
		fmt.Fprintf(out.stderr, "%s: serve needs a schedule (e.g. schedule: \"*/30 * * * *\")\n", cfg.Path)
		return exitInvalid
	}
	schedule, err := config.ParseSchedule(cfg.Schedule)
	if err != nil {
		fmt.Fprintf(out.stderr, "%s: schedule %q: %v\n", cfg.Path, cfg.Schedule, err)
		return exitInvalid
	}
	// One serve per config and host, and no apply beside it: the lock is
	// held for serve's lifetime.
	unlock, err := acquireLock(f.lockFile, f.config)
	if err != nil {
		fmt.Fprintln(out.stderr, err)
		return exitLocked
	}
	defer unlock()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(out.stderr, err)
		return exitFailure
	}

	m := metrics.New()
	var (
		ready      atomic.Bool
		mu         sync.Mutex
		lastReport []byte
	)
	run := cron.FuncJob(func() {
		plan, code := runOnce(ctx, out, runSettings{flags: f, write: true, metrics: m, log: log})
		if plan != nil {
			var buf bytes.Buffer
			if report.JSON(&buf, *plan) == nil {
				mu.Lock()
				lastReport = buf.Bytes()
				mu.Unlock()
			}
		}
		if code == exitOK {
			ready.Store(true) // a whole run worked, credentials included
		}
	})
	cl := cronLogger{log: log, metrics: m}
	job := cron.NewChain(cron.Recover(cl), cron.SkipIfStillRunning(cl)).Then(run)
	scheduler := cron.New(cron.WithParser(cron.NewParser(cron.SecondOptional|cron.Minute|cron.Hour|cron.Dom|cron.Month|cron.Dow|cron.Descriptor)), cron.WithLogger(cl))
	scheduler.Schedule(schedule, job)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready: waiting for a read with the configured credentials to work", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /report", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		body := lastReport
		mu.Unlock()
		if body == nil {
			http.Error(w, "no run has finished yet", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	fmt.Fprintf(out.stdout, "serving on http://%s/ (schedule %q)\n", ln.Addr(), cfg.Schedule)
	log.Info("serving", "listen", ln.Addr().String(), "schedule", cfg.Schedule)

	go func() {
		if err := checkReady(ctx, f, cfg); err != nil {
			log.Warn("not ready yet: the read check failed; the next run tries again", "error", err.Error())
			return
		}
		ready.Store(true)
	}()
	if *runOnStart || cfg.RunOnStart {
		go job.Run()
	}
	scheduler.Start()

	<-ctx.Done()
	log.Info("stopping: no new run starts; a running one finishes its calls in flight")
	stopped := scheduler.Stop()
	select {
	case <-stopped.Done():
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

// checkReady proves the config's credentials with one harmless read.
func checkReady(ctx context.Context, f runFlags, cfg *config.Config) error {
	if f.endpoint != "" {
		cfg.API.Endpoint = strings.TrimSuffix(f.endpoint, "/") + "/"
	}
	desired, err := source.Load(cfg.Sources)
	if err != nil {
		return err
	}
	need := need(cfg, false)
	need.Directory = false
	creds, err := credentials(ctx, cfg, need)
	if err != nil {
		return err
	}
	_, err = tryRead(ctx, cfg, creds, desired)
	return err
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
