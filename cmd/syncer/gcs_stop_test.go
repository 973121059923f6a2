package main

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/state/gcstest"
)

// SIGTERM ends a run within 10 s (README; Cloud Run kills it then), a
// Cloud Storage state that stopped answering included: the lock's release
// took a whole call_timeout (30 s), and the run was killed holding it.
func TestCloudStorageHungStoppedRunEndsWithinTenSeconds(t *testing.T) {
	seed, csv := slowWorld(40)
	c := newCloudRun(t, seed, emulator.Options{LatencyMin: 100 * time.Millisecond, LatencyMax: 120 * time.Millisecond}, csv, "limits: {concurrency: 1}\n")
	cmd, _, stderr := c.start("apply")
	waitFor(t, "the run's lock", func() bool { return strings.Contains(c.object("lock"), `"run_id"`) })
	waitFor(t, "a write", func() bool { return c.em.Stats().Writes > 2 })
	// Reads hang (the lock's check before each write and before its
	// release); a hung upload would keep the fake from closing.
	c.gcs.Inject(gcstest.Fault{Hang: true, Method: http.MethodGet})
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run ended %v after SIGTERM; want 10 s at most\n%s", took.Round(time.Second), logText(stderr.String()))
	}
}
