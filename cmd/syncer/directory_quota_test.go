package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
)

// A Directory whose quota refuses every call (another app taking all of
// it): past two of the quota's windows of nothing but refusals the run
// asks it no more, the lookups left fail, and the run ends (exit 1, the
// plan incomplete, nobody removed for want of a lookup) rather than wait
// out its deadline.
func TestADirectoryThatRefusesEveryCallIsGivenUp(t *testing.T) {
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}}}
	space := emulator.SeedSpace{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}
	for i := 0; i < 40; i++ {
		email := fmt.Sprintf("u%d@example.com", i)
		seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(100 + i), Email: email})
		space.Members = append(space.Members, emulator.SeedMember{User: email})
	}
	seed.Spaces = []emulator.SeedSpace{space}
	em, url := emulatortest.Start(t, seed, emulator.Options{HideEmails: true})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "members.csv"), []byte("space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,u0@example.com,\n"), 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q}\npolicy: sync\nlimits: {max_attempts: 1000, quota_window: 100ms, call_timeout: 2s, run_timeout: 40s}\n", url)), 0o644)
	for _, m := range []string{"directory.users.get", "directory.users.list"} {
		em.SetMisbehaviour(m, emulator.Misbehaviour{Status: 403, Reason: "quotaExceeded"})
	}
	start := time.Now()
	code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "50")
	took := time.Since(start)
	calls := em.Stats().Count("directory.users.get") + em.Stats().Count("directory.users.list")
	logs := logText(errOut)
	if !strings.Contains(logs, "refused every call for its quota") || strings.Contains(logs, "run_timeout") || calls > 30 {
		t.Errorf("exit %d, %d Directory calls in %v; want the Directory given up after a few, the run not waiting out its deadline\n%s", code, calls, took, logs)
	}
	// Members listed without an email are looked up by ID before removal;
	// with the Directory given up, those lookups failed: they are kept,
	// and the plan is incomplete (exit 1).
	if code != exitFailure || deletes(em) != 0 || r.Summary["protected"] != 39 {
		t.Errorf("exit %d, %d deletes, summary %v; want exit 1, none, the 39 kept\n%s", code, deletes(em), r.Summary, logs)
	}
	t.Logf("%d Directory calls, %v, summary %v", calls, took, r.Summary)
}

// The Admin SDK API not enabled: members listed without an email can't
// be looked up, so they are kept and the plan is incomplete, as for any
// Directory that fails (an answer of "not this caller's to see" would
// let them go, as without a Directory; this is no answer).
func TestADisabledDirectoryKeepsMembersListedWithoutEmails(t *testing.T) {
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}}}
	space := emulator.SeedSpace{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}
	for i := 0; i < 5; i++ {
		email := fmt.Sprintf("u%d@example.com", i)
		seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(100 + i), Email: email})
		space.Members = append(space.Members, emulator.SeedMember{User: email})
	}
	seed.Spaces = []emulator.SeedSpace{space}
	em, cfg := syncWorld(t, seed, emulator.Options{HideEmails: true}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,u0@example.com,\n", "")
	for _, m := range []string{"directory.users.get", "directory.users.list"} {
		em.SetMisbehaviour(m, emulator.Misbehaviour{ServiceDisabled: true})
	}
	code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "50")
	if code != exitFailure || deletes(em) != 0 || r.Summary["protected"] != 4 {
		t.Errorf("exit %d, %d deletes, summary %v; want exit 1, none, the 4 kept\n%s", code, deletes(em), r.Summary, logText(errOut))
	}
}
