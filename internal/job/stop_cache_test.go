package job_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/identity"
	"github.com/syncer-dev/syncer/internal/job"
	"github.com/syncer-dev/syncer/internal/state"
)

// hangingStore holds no documents, and a write waits until its context
// ends: a Cloud Storage bucket that stopped answering, or a state folder
// whose write lock another process holds.
type hangingStore struct {
	writes  atomic.Int32
	writing func() // called as a write starts
}

func (s *hangingStore) Read(context.Context, string) ([]byte, string, error) {
	return nil, "", state.ErrNotExist
}

func (s *hangingStore) Write(ctx context.Context, _ string, _ []byte, _ string) (string, error) {
	s.writes.Add(1)
	if s.writing != nil {
		s.writing()
	}
	<-ctx.Done()
	return "", ctx.Err()
}

func (s *hangingStore) Where() string { return "hanging" }

// A run stopped by SIGTERM ends within seconds, as the README promises (a
// Cloud Run job is killed 10 s after SIGTERM, holding its lock object): the
// identity cache it saves, which only spares lookups, does not get a whole
// call_timeout (30 s) from a store that doesn't answer, whether the signal
// came before the save or during it.
func TestAStoppedRunDoesNotWaitLongToSaveTheIdentityCache(t *testing.T) {
	for _, during := range []bool{false, true} {
		t.Run(map[bool]string{false: "stopped while reading", true: "stopped while saving"}[during], func(t *testing.T) {
			f := newFixture(t, world(30, 4), emulator.Options{}, desiredCSV(30, 4))
			f.resolve = true
			store := &hangingStore{}
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			var stopped atomic.Int64
			stop := func() {
				stopped.Store(time.Now().UnixNano())
				cancel(errors.New("interrupted by SIGTERM"))
			}
			f.tweak = func(j *job.Job) {
				j.Resolver.Cache = identity.OpenCache(context.Background(), store, "identity-cache.json", time.Hour, time.Now, func(string) {})
				if during {
					store.writing = stop
				} else {
					j.Logger = slog.New(&cancelOnPlanned{n: 1, cancel: stop})
				}
			}
			res, err := f.run(t, ctx, true)
			if err != nil {
				t.Fatal(err)
			}
			if stopped.Load() == 0 || store.writes.Load() == 0 {
				t.Fatalf("stopped %v, cache writes %d: the test shows nothing", stopped.Load() != 0, store.writes.Load())
			}
			if !during && !res.Interrupted {
				t.Fatal("the run was not stopped while reading: the test shows nothing")
			}
			if took := time.Since(time.Unix(0, stopped.Load())); took > 5*time.Second {
				t.Errorf("the run ended %v after it was stopped; want a few seconds at most", took.Round(time.Second))
			}
		})
	}
}
