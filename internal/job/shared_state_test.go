package job_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/job"
	"github.com/syncer-dev/syncer/internal/state"
)

// Two configs in two folders share a state location, and each reads a
// members.csv beside it: their totals have one name. Each would compare
// its source with the other's total (a cut export passing as a small
// change, or a false stop). The second stops and says why; the first,
// whose total it is, goes on.
func TestTwoConfigsWhoseSourcesShareANameStop(t *testing.T) {
	shared := t.TempDir()
	allow := 1 // the first run's consent: each space's seed owner goes
	mk := func(name string, n int) *fixture {
		f := newFixture(t, world(n, 1), emulator.Options{}, desiredCSV(n, 1))
		f.syncing(t)
		// The configs are files on this machine (the fixture parses its
		// text), word for word alike (one template copied into two
		// folders): what tells them apart is their sources.
		if err := os.WriteFile(f.cfg.Path, []byte("# a team's config\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		f.tweak = func(j *job.Job) { j.State = &state.Dir{Path: shared}; j.AllowRemovals = allow }
		return f
	}
	eng, sales := mk("eng", 10), mk("sales", 9)
	res, err := eng.run(t, context.Background(), true)
	if err != nil || res.Blocked() {
		t.Fatalf("eng: %v, blocked %q", err, res.Plan.Blocked)
	}
	allow = -1
	res, err = sales.run(t, context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(res.Plan.Blocked, "\n"); !strings.Contains(got, "source members.csv: its last total was counted from another file") {
		t.Errorf("sales: blocked %q; want the shared name named", res.Plan.Blocked)
	}
	if res, err = eng.run(t, context.Background(), true); err != nil || res.Blocked() {
		t.Errorf("eng again: %v, blocked %q", err, res.Plan.Blocked)
	}
	// A checkout of eng's config elsewhere on this machine (its source
	// says the same): the same source, its total compared as usual.
	copyOfEng := mk("eng", 10)
	if res, err = copyOfEng.run(t, context.Background(), true); err != nil || res.Blocked() {
		t.Errorf("another checkout of eng: %v, blocked %q", err, res.Plan.Blocked)
	}
}

// Two configs in one folder (sharing its default state location) that
// read one members.csv count the same file: its total is the same
// source's, compared as usual, and neither run stops the other.
func TestTwoConfigsInOneFolderReadingOneSourceDoNotStop(t *testing.T) {
	f := newFixture(t, world(10, 1), emulator.Options{}, desiredCSV(10, 1))
	f.syncing(t)
	if err := os.WriteFile(f.cfg.Path, []byte("# the sync config\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := f.cfg
	other := filepath.Join(filepath.Dir(a.Path), "other.yaml")
	if err := os.WriteFile(other, []byte("# another config beside it\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := *a
	b.Path = other
	if res, err := f.run(t, context.Background(), true); err != nil || res.Blocked() {
		t.Fatalf("first config: %v, blocked %q", err, res.Plan.Blocked)
	}
	// One person leaves the file: a removal, which the rails check.
	if err := os.WriteFile(filepath.Join(filepath.Dir(a.Path), "members.csv"), []byte(desiredCSV(9, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	f.cfg = &b
	syncing := f.tweak
	f.tweak = func(j *job.Job) { syncing(j); j.AllowRemovals = -1 }
	res, err := f.run(t, context.Background(), true)
	if err != nil || res.Blocked() || res.Plan.Summary.Delete != 1 {
		t.Errorf("second config, same folder, same members.csv: %v, %d removed, blocked %q", err, res.Plan.Summary.Delete, res.Plan.Blocked)
	}
}
