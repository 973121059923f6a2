package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
)

// A file the run writes named one it reads: --lock-file config.yaml
// overwrote the config with "pid ..." before reading it, --report-file
// hr.csv replaced the source with the report, --out members.yaml with the
// plan. Each is refused before anything is written or sent (exit 3).
func TestOutputsNeverOverwriteInputs(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "owner@example.com"}, {ID: "2", Email: "new@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/A", Members: []emulator.SeedMember{{User: "owner@example.com", Role: "owner"}}}},
	}
	em, url := emulatortest.Start(t, seed, emulator.Options{})
	dir := t.TempDir()
	files := map[string]string{
		"a.csv":                  "space,member\nspaces/A,owner@example.com\nspaces/A,new@example.com\n",
		"config.yaml":            "sources: [{path: a.csv}]\napi: {endpoint: \"" + url + "\"}\nstate: {location: st}\n",
		"st/removals.json":       `{"version":1}`,
		"st/identity-cache.json": `{}`,
	}
	os.Mkdir(filepath.Join(dir, "st"), 0o700)
	for name, text := range files {
		os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600)
	}
	cfg := filepath.Join(dir, "config.yaml")
	t.Chdir(dir)
	for _, args := range [][]string{
		{"apply", "--config", cfg, "--lock-file", "config.yaml"},
		{"apply", "--config", cfg, "--lock-file", "a.csv"},
		{"apply", "--config", cfg, "--report-file", "a.csv"},
		{"plan", "--config", cfg, "--report-file", "./config.yaml"},
		{"plan", "--config", cfg, "--out", "a.csv"},
		{"apply", "--dry-run", "--config", cfg, "--out", filepath.Join(dir, "a.csv")},
		// The state folder's documents: the rails' totals and grace, the
		// identity cache.
		{"apply", "--config", cfg, "--report-file", "st/removals.json"},
		{"plan", "--config", cfg, "--out", filepath.Join(dir, "st", "identity-cache.json")},
		// Two outputs in one file: the report would ruin the plan.
		{"plan", "--config", cfg, "--out", "p.json", "--report-file", "./p.json"},
	} {
		code, _, errOut := runCLI(t, args...)
		if code != exitInvalid || !strings.Contains(errOut, "overwrite") {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, exitInvalid, errOut)
		}
		for name, text := range files {
			if got, _ := os.ReadFile(filepath.Join(dir, name)); string(got) != text {
				t.Fatalf("%v: %s was overwritten:\n%s", args, name, got)
			}
		}
	}
	if em.Stats().Writes != 0 || len(em.Stats().Requests) != 0 {
		t.Errorf("calls were made: %v", em.Stats().Requests)
	}
}

// serve takes plan's and apply's flags; --out (save the plan without
// applying it) was taken too, and every scheduled apply wrote a plan
// file of changes it had just made.
func TestServeRefusesOut(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.csv"), []byte("space,member\nspaces/A,owner@example.com\n"), 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte("sources: [{path: a.csv}]\napi: {endpoint: \"http://127.0.0.1:9/\"}\nschedule: \"@every 1h\"\n"), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // else it serves
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0", "--out", filepath.Join(dir, "plan.json")}, &stdout, &stderr)
	if code != exitInvalid || !strings.Contains(stderr.String(), "--out") || ctx.Err() != nil {
		t.Errorf("exit %d, want %d at once\n%s", code, exitInvalid, stderr.String())
	}
}

// The state folder's documents are outputs' targets to refuse before they
// are there too: a first run under policy sync with --report-file
// st/removals.json wrote the removals state, then the report over it
// (exit 0), and every run after that stopped on a state it can't read.
// The folder reached through a link is the same folder.
func TestOutputsNeverNameStateDocumentsNotYetWritten(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "st"), 0o700)
	os.Symlink(filepath.Join(dir, "st"), filepath.Join(dir, "link"))
	os.WriteFile(filepath.Join(dir, "a.csv"), []byte("space,member\nspaces/A,owner@example.com\n"), 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte("sources: [{path: a.csv}]\napi: {endpoint: \"http://127.0.0.1:9/\"}\npolicy: sync\nstate: {location: link}\n"), 0o644)
	t.Chdir(dir)
	for _, args := range [][]string{
		{"apply", "--config", cfg, "--report-file", "st/removals.json"},
		{"apply", "--config", cfg, "--report-file", "link/removals.json"},
		{"plan", "--config", cfg, "--out", filepath.Join(dir, "st", "identity-cache.json")},
		{"apply", "--config", cfg, "--lock-file", "st/runs.json"},
		// The folder's write lock: held as the run's lock, every state
		// write waited 30 s for it and failed (removals made, unrecorded).
		{"apply", "--config", cfg, "--lock-file", "st/.write-lock"},
	} {
		code, _, errOut := runCLI(t, args...)
		if code != exitInvalid || !strings.Contains(errOut, "overwrite") {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, exitInvalid, logText(errOut))
		}
		if left, _ := os.ReadDir(filepath.Join(dir, "st")); len(left) > 0 {
			t.Fatalf("%v: the state folder has %v", args, left)
		}
	}
	// An identity.cache_file elsewhere, not yet written, is as much the
	// cache: the report written over it, every run started without it.
	cfg2 := filepath.Join(dir, "config2.yaml")
	os.WriteFile(cfg2, []byte("sources: [{path: a.csv}]\napi: {endpoint: \"http://127.0.0.1:9/\"}\nidentity: {cache_file: c.json}\n"), 0o644)
	if code, _, errOut := runCLI(t, "plan", "--config", cfg2, "--report-file", "c.json"); code != exitInvalid || !strings.Contains(errOut, "overwrite") {
		t.Errorf("--report-file c.json, the cache file: exit %d, want %d\n%s", code, exitInvalid, logText(errOut))
	}
}
