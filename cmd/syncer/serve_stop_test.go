package main

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/logging"
	"github.com/syncer-dev/syncer/internal/metrics"
	"github.com/syncer-dev/syncer/internal/state/gcstest"
)

// serve, told to stop, ends within 10 s (a scheduler or Kubernetes kills
// it then) even when its Cloud Storage state stops answering: recording
// the stopped run in the history took up to its minute, and serve waited
// 30 s for it.
func TestServeStopsWithinTenSecondsWhenCloudStorageHangs(t *testing.T) {
	seed, csv := slowWorld(40)
	c := newCloudRun(t, seed, emulator.Options{LatencyMin: 100 * time.Millisecond, LatencyMax: 120 * time.Millisecond}, csv,
		"limits: {concurrency: 1}\nschedule: \"@every 1h\"\nrun_on_start: true\n")
	cmd, _, stderr := c.start("serve", "--listen", "127.0.0.1:0")
	waitFor(t, "the run's lock", func() bool { return strings.Contains(c.object("lock"), `"run_id"`) })
	waitFor(t, "a write", func() bool { return c.em.Stats().Writes > 2 })
	c.gcs.Inject(gcstest.Fault{Hang: true, Method: http.MethodGet})
	code, took := stopWithSIGTERM(t, cmd)
	if code != exitOK || took > 10*time.Second {
		t.Errorf("serve exited %d %v after SIGTERM; want 0 within 10 s\n%s", code, took.Round(time.Second), logText(stderr.String()))
	}
	t.Logf("serve, its Cloud Storage hung, SIGTERM: exit %d %v later", code, took.Round(time.Millisecond))
}

// A run that panics is logged and the next one runs (README, Serve mode):
// with Recover outside SkipIfStillRunning, the panic took the "still
// running" token with it, and every later run was skipped.
func TestServeRunsAgainAfterARunPanics(t *testing.T) {
	var logs lockedBuffer
	cl := cronLogger{log: logging.NewJSON(&logs, slog.LevelDebug), metrics: metrics.New()}
	runs := 0
	job := scheduledJob(cl, cron.FuncJob(func() {
		runs++
		if runs == 1 {
			panic("a bug in a run")
		}
	}))
	job.Run()
	job.Run()
	job.Run()
	if runs != 3 {
		t.Errorf("%d runs of 3 went ahead after the first panicked\n%s", runs, logs.String())
	}
	if !strings.Contains(logs.String(), "a bug in a run") {
		t.Errorf("the panic was not logged\n%s", logs.String())
	}
}
