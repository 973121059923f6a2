package main

import (
	"context"
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
