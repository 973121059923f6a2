package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/history"
	"github.com/syncer-dev/syncer/internal/report"
	"github.com/syncer-dev/syncer/internal/state"
)

// gatedStore holds every read of the history's index until open is closed,
// once entered is signalled: a slow state location (Cloud Storage).
type gatedStore struct {
	state.Store
	entered chan struct{}
	open    chan struct{}
}

func (s *gatedStore) Read(ctx context.Context, name string) ([]byte, string, error) {
	if name == history.Index {
		select {
		case s.entered <- struct{}{}:
		default:
		}
		<-s.open
	}
	return s.Store.Read(ctx, name)
}

// Just after a restart a page asks the history for the newest run it
// kept; a run that finishes while the history is being read is newer, and
// stays the last run: the pages and /report must not go back to the run
// before the restart until the next run ends (an hour, a day later).
func TestServeLastRunIsNotReplacedByTheHistoryReadBeforeIt(t *testing.T) {
	dir := &state.Dir{Path: t.TempDir()}
	old := report.Run{ID: "before-restart", Result: "success", Started: time.Now().Add(-time.Hour)}
	if _, err := (&history.History{Store: dir, Keep: 5}).Record(context.Background(), old, &diff.Plan{}); err != nil {
		t.Fatal(err)
	}
	store := &gatedStore{Store: dir, entered: make(chan struct{}, 1), open: make(chan struct{})}
	runs := &runHistory{keep: 5, history: &history.History{Store: store, Keep: 5}}
	last := &lastRun{}

	done := make(chan struct{})
	go func() {
		defer close(done)
		last.fromHistory(context.Background(), runs) // a page, just after the restart
	}()
	<-store.entered
	fresh := report.Run{ID: "after-restart", Result: "success", Started: time.Now()}
	last.set(fresh, &diff.Plan{}, []byte(`{"fresh":true}`)) // the first run ends meanwhile
	close(store.open)
	<-done

	run, _, body := last.get()
	if run == nil || run.ID != fresh.ID || string(body) != `{"fresh":true}` {
		id := "none"
		if run != nil {
			id = run.ID
		}
		t.Errorf("the last run is %s (report %q), want the run that ended after the restart, %s", id, body, fresh.ID)
	}
}

// After a restart, /metrics says when the last run and the last success
// ended, from the history, not 0 (1970) until the next run ends: an alert
// on time() - syncer_last_success_timestamp_seconds (README, Metrics)
// would otherwise fire after every restart, for up to a schedule's
// interval.
func TestServeRestartKeepsTheLastSuccessTime(t *testing.T) {
	w := newPagesWorld(t, false)
	before := time.Now().Unix()
	w.runs(t, 3)
	after := time.Now().Unix()

	s := startServe(t, w.cfg) // @daily: no run before the check
	defer s.stop()
	_, metrics := get(t, s.base+"/metrics")
	for _, series := range []string{"syncer_last_success_timestamp_seconds", "syncer_last_run_timestamp_seconds"} {
		v, _ := strconv.ParseFloat(metricValue(metrics, series), 64)
		if int64(v) < before || int64(v) > after {
			t.Errorf("%s after a restart is %v, want when the run before the restart ended (%d..%d)", series, v, before, after)
		}
	}
}
