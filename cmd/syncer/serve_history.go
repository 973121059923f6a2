package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/syncer-dev/syncer/internal/auth"
	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/history"
	"github.com/syncer-dev/syncer/internal/metrics"
	"github.com/syncer-dev/syncer/internal/report"
)

// historyTimeout bounds what serve spends on the history for one run or
// one page: a few state calls, each with its own deadline.
const historyTimeout = time.Minute

// runHistory is serve's run history, in the state location of the config
// serve started with. The store is opened on first use, and again after a
// failure to open it (Cloud Storage credentials may come good later).
type runHistory struct {
	cfg  *config.Config
	keep int // 0: no history
	opts auth.Options

	mu      sync.Mutex
	history *history.History
}

func (r *runHistory) get(ctx context.Context) (*history.History, error) {
	if r.keep == 0 {
		return nil, errors.New("serve runs with --history 0: no history is kept")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.history != nil {
		return r.history, nil
	}
	// The store lives as long as serve: its credentials must not refresh
	// their token with the context of the request that first wanted it.
	store, err := openState(context.WithoutCancel(ctx), r.cfg, r.opts)
	if err != nil {
		return nil, fmt.Errorf("state location %s: %w", r.cfg.State.Location, err)
	}
	r.history = &history.History{Store: store, Keep: r.keep}
	return r.history, nil
}

// lastRun is the newest run serve knows, for its / page.
type lastRun struct {
	mu   sync.Mutex
	run  *report.Run
	plan *diff.Plan
	json []byte // the plan's JSON report, for /report
}

func (l *lastRun) set(run report.Run, plan *diff.Plan, json []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// A run that made no plan has no report: an earlier run's would be
	// taken for this one's.
	l.run, l.plan, l.json = &run, plan, json
}

func (l *lastRun) get() (*report.Run, *diff.Plan, []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.run, l.plan, l.json
}

// fromHistory makes the newest run the history kept the last run (serve
// just started), with its JSON report for /report.
func (l *lastRun) fromHistory(ctx context.Context, runs *runHistory) (*report.Run, *diff.Plan, []byte) {
	run, plan := newestKept(ctx, runs)
	if run == nil {
		return nil, nil, nil
	}
	var buf bytes.Buffer
	var body []byte
	if plan != nil && report.JSON(&buf, *plan) == nil {
		body = buf.Bytes()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.run == nil {
		// A run that ended while the history was read is newer: it stays.
		l.run, l.plan, l.json = run, plan, body
	}
	return l.run, l.plan, l.json
}

// pageNav links serve's pages to each other.
var pageNav = []report.Link{{Href: "/", Text: "Last run"}, {Href: "/runs", Text: "Runs"}, {Href: "/report", Text: "JSON report"}}

// pageHeaders are sent with every page: the pages' own policy (their
// style and script, nothing else, nothing from anywhere), as a header too.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", report.ContentSecurityPolicy())
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// servePages adds /, /runs and /runs/{id} to mux.
func servePages(mux *http.ServeMux, last *lastRun, runs *runHistory, where string) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		run, plan, _ := last.get()
		if run == nil && runs.keep > 0 {
			// Just started: the newest run the history kept.
			run, plan, _ = last.fromHistory(r.Context(), runs)
		}
		pageHeaders(w)
		if run == nil {
			report.Runs(w, report.RunsPage{Keep: runs.keep, Where: where, Nav: pageNav})
			return
		}
		if plan == nil {
			// A run that made no plan (invalid config, lock held): its line.
			report.Runs(w, report.RunsPage{Runs: []report.RunLine{report.LineOf(*run, nil)}, Keep: runs.keep, Where: where, Nav: pageNav})
			return
		}
		report.HTML(w, report.Page{Plan: *plan, Run: run, Nav: pageNav})
	})
	mux.HandleFunc("GET /runs", func(w http.ResponseWriter, r *http.Request) {
		page := report.RunsPage{Keep: runs.keep, Where: where, Nav: pageNav}
		ctx, cancel := context.WithTimeout(r.Context(), historyTimeout)
		defer cancel()
		status := http.StatusOK
		h, err := runs.get(ctx)
		var entries []history.Entry
		if err == nil {
			entries, err = h.Runs(ctx)
		}
		switch {
		case runs.keep == 0: // none kept, as configured: nothing went wrong
		case err != nil:
			page.Problem, status = err.Error(), http.StatusServiceUnavailable
		}
		for _, e := range entries {
			line := e.RunLine
			if e.Slot >= 0 {
				line.Report = "/runs/" + e.Run.ID
			}
			page.Runs = append(page.Runs, line)
		}
		pageHeaders(w)
		w.WriteHeader(status)
		report.Runs(w, page)
	})
	mux.HandleFunc("GET /runs/{id}", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), historyTimeout)
		defer cancel()
		h, err := runs.get(ctx)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		run, plan, err := h.Report(ctx, r.PathValue("id"))
		switch {
		case errors.Is(err, history.ErrNotKept):
			http.Error(w, "that run's report is not kept (the history keeps the last runs, within a byte cap)", http.StatusNotFound)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		pageHeaders(w)
		report.HTML(w, report.Page{Plan: plan, Run: &run, Nav: pageNav})
	})
}

// newestKept is the newest run the history kept, with its report when that
// is kept (else a nil plan).
func newestKept(ctx context.Context, runs *runHistory) (*report.Run, *diff.Plan) {
	ctx, cancel := context.WithTimeout(ctx, historyTimeout)
	defer cancel()
	h, err := runs.get(ctx)
	if err != nil {
		return nil, nil
	}
	entries, err := h.Runs(ctx)
	if err != nil {
		return nil, nil
	}
	if len(entries) == 0 {
		return nil, nil
	}
	// The newest run, as before the restart: one whose report is not
	// kept (it made none: an invalid config, a lock held) is its line,
	// not an earlier run's report taken for the last one.
	e := entries[0]
	if e.Slot >= 0 {
		if run, plan, err := h.Report(ctx, e.Run.ID); err == nil {
			return &run, &plan
		}
	}
	return &e.Run, nil
}

// recordRun adds a finished run to the history; the run goes on either
// way, so a failure is logged, not returned. Once serve is told to stop
// (ctx ends), it gets stoppedRelease from then at most: serve must end
// within 10 s of SIGTERM, and a run not recorded costs a line of history.
func recordRun(ctx context.Context, runs *runHistory, r runResult, log interface{ Warn(string, ...any) }) {
	if runs.keep == 0 {
		return
	}
	serving := ctx
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), historyTimeout)
	defer cancel()
	stop := context.AfterFunc(serving, func() { time.AfterFunc(stoppedRelease, cancel) })
	defer stop()
	h, err := runs.get(ctx)
	if err == nil {
		_, err = h.Record(ctx, r.run, r.plan)
	}
	if err != nil {
		log.Warn("run history: "+err.Error(), "kept_in", runs.cfg.State.Location)
	}
}

// seedRunTimes sets when the last run and the last successful run ended
// from the history, at start-up: otherwise they read 0 (1970) until the
// next run ends, and an alert on the last success's age fires after every
// restart. Within one read's deadline; without a history they stay 0.
func seedRunTimes(ctx context.Context, runs *runHistory, m *metrics.Metrics, timeout time.Duration) {
	if runs.keep == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	h, err := runs.get(ctx)
	if err != nil {
		return
	}
	entries, err := h.Runs(ctx)
	if err != nil {
		return
	}
	for i, e := range entries { // newest first
		ended := float64(e.Run.Started.Add(time.Duration(e.Run.Seconds * float64(time.Second))).Unix())
		if i == 0 {
			m.LastRun.Set(ended)
		}
		if e.Run.Result == "success" {
			m.LastSuccess.Set(ended)
			return
		}
	}
}
