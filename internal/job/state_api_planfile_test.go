package job_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/job"
)

// plan --out keeps the removals state that apply --plan saves (Result.Removals):
// it must record the API as the regular apply's save does, or apply --plan
// writes a state with no "api", taken by any world's next run "as before",
// and an emulator's apply saves over Google's state again.
func TestThePlanFilesRemovalsStateRecordsItsAPI(t *testing.T) {
	seed := world(2, 1)
	f := newFixture(t, seed, emulator.Options{}, "space,member,role\nspaces/S0,boss@example.com,owner\nspaces/S0,u0@example.com,\n")
	f.syncing(t)
	stateTweak := f.tweak
	f.tweak = func(j *job.Job) { stateTweak(j); j.KeepStates, j.SavesPlan = true, true }
	res, err := f.run(t, context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Removals == nil {
		t.Fatalf("no removals state kept for the plan file (blocked %q)", res.Plan.Blocked)
	}
	var saved struct{ API string }
	if err := json.Unmarshal(res.Removals, &saved); err != nil || saved.API != f.url {
		t.Errorf("the plan file's removals state says api %q (%v), want the emulator's %s:\n%s", saved.API, err, f.url, res.Removals)
	}
}
