package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
)

// setup writes a config and a CSV putting users u0..u{n-1} into spaces/S,
// and seeds an emulator where only the owner is in it.
func setup(t *testing.T, n int, opts emulator.Options, limits string) (*emulator.Server, string) {
	t.Helper()
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}}}
	var csv strings.Builder
	csv.WriteString("space,member,role\n")
	for i := 0; i < n; i++ {
		seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(100 + i), Email: fmt.Sprintf("u%d@example.com", i)})
		fmt.Fprintf(&csv, "spaces/S,u%d@example.com,\n", i)
	}
	em, url := emulatortest.Start(t, seed, opts)
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("members.csv", csv.String())
	cfg := filepath.Join(dir, "config.yaml")
	write("config.yaml", fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q}\nlimits: {%s}\n", url, limits))
	return em, cfg
}

type jsonReport struct {
	Applied    bool           `json:"applied"`
	Summary    map[string]int `json:"summary"`
	Complete   bool           `json:"complete"`
	Incomplete []string       `json:"incomplete"`
}

func parseReport(t *testing.T, stdout string) jsonReport {
	t.Helper()
	var r jsonReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("stdout is not one JSON report: %v\n%s", err, stdout)
	}
	return r
}

func TestExitCodes(t *testing.T) {
	em, cfg := setup(t, 5, emulator.Options{}, "max_attempts: 2")
	if code, out, errOut := runCLI(t, "plan", "--config", cfg, "--detailed-exitcode"); code != exitChanges || !strings.Contains(out, "Plan: 5 to add") {
		t.Errorf("plan with changes pending: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "apply", "--config", cfg, "--dry-run", "--output", "json"); code != exitOK || parseReport(t, out).Applied {
		t.Errorf("apply --dry-run: exit %d\n%s%s", code, out, errOut)
	}
	if em.Stats().Writes != 0 {
		t.Fatalf("plan and --dry-run wrote %d times", em.Stats().Writes)
	}
	code, out, errOut := runCLI(t, "apply", "--config", cfg, "--output", "json")
	if r := parseReport(t, out); code != exitOK || !r.Applied || r.Summary["applied"] != 5 || r.Summary["failed"] != 0 {
		t.Errorf("apply: exit %d, %+v\n%s", code, r, errOut)
	}
	if code, out, _ := runCLI(t, "plan", "--config", cfg, "--detailed-exitcode"); code != exitOK {
		t.Errorf("plan after apply: exit %d\n%s", code, out)
	}
}

func TestExitCodeInvalidSourceSendsNothing(t *testing.T) {
	em, cfg := setup(t, 1, emulator.Options{}, "")
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "members.csv"), []byte("space,member,role\nspaces/S,u0@example,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"plan", "apply"} {
		code, _, errOut := runCLI(t, cmd, "--config", cfg)
		checkJSONLogs(t, errOut)
		if code != exitInvalid || !strings.Contains(logText(errOut), `members.csv:2:10: member "u0@example": malformed email`) ||
			!strings.Contains(logText(errOut), "line=2") {
			t.Errorf("%s: exit %d\n%s", cmd, code, errOut)
		}
	}
	if n := em.Stats().Total(); n != 0 {
		t.Errorf("the emulator received %d requests", n)
	}
}

func TestExitCodeRuntimeFailures(t *testing.T) {
	_, cfg := setup(t, 1, emulator.Options{}, "max_attempts: 1")
	data, _ := os.ReadFile(filepath.Join(filepath.Dir(cfg), "members.csv"))
	os.WriteFile(filepath.Join(filepath.Dir(cfg), "members.csv"), append(data, "spaces/GONE,u0@example.com,\n"...), 0o644)
	code, out, errOut := runCLI(t, "apply", "--config", cfg)
	report := finalReport(out)
	if code != exitFailure || !strings.HasPrefix(report, "INCOMPLETE") || !strings.Contains(report, "spaces/GONE: not read: 404 NOT_FOUND") || !strings.Contains(report, "Applied: 1 applied") {
		t.Errorf("a space that can't be read: exit %d\n%s%s", code, out, errOut)
	}
}

func TestAuthNoneRefusedAgainstGoogle(t *testing.T) {
	_, cfg := setup(t, 1, emulator.Options{}, "")
	code, _, errOut := runCLI(t, "plan", "--config", cfg, "--endpoint", "https://chat.googleapis.com/")
	if code != exitInvalid || !strings.Contains(logText(errOut), "auth.mode none works only against an emulator") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the syncer once for tests that need a real process.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "syncer-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "syncer")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// startApply runs `syncer apply` as a process and waits until the emulator saw some writes.
func startApply(t *testing.T, em *emulator.Server, cfg string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(binary(t), "apply", "--config", cfg, "--output", "json")
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if !testing.Verbose() {
		cmd.Stderr = nil
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for em.Stats().Writes < 3 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("apply made no writes in 20 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cmd, &stdout
}

func TestSIGTERMStopsCleanlyWithAPartialReport(t *testing.T) {
	// SIGHUP: the terminal of a run started by hand was closed.
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) { stopsCleanly(t, sig) })
	}
}

func stopsCleanly(t *testing.T, sig syscall.Signal) {
	// 120 writes a minute: the run would take a minute and a half. Calls
	// take a second: a second hang-up comes while those in flight finish.
	em, cfg := setup(t, 200, emulator.Options{LatencyMin: time.Second, LatencyMax: time.Second}, "project_writes_per_minute: 120, concurrency: 4")
	cmd, stdout := startApply(t, em, cfg)
	sent := time.Now()
	cmd.Process.Signal(sig)
	if sig == syscall.SIGHUP {
		// A hang-up may come twice: the second must not kill the run
		// that is stopping.
		time.Sleep(20 * time.Millisecond)
		cmd.Process.Signal(sig)
	}
	err := cmd.Wait()
	elapsed := time.Since(sent)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitFailure {
		t.Fatalf("exit after %v: %v, want code %d", sig, err, exitFailure)
	}
	if elapsed > 10*time.Second {
		t.Errorf("took %v to stop; the promise is 10 s", elapsed)
	}
	r := parseReport(t, stdout.String())
	writes := em.Stats().Writes
	if !r.Applied || r.Summary["applied"] != writes || r.Summary["skipped"] != 200-writes {
		t.Errorf("partial report %+v; the emulator saw %d writes", r, writes)
	}
	time.Sleep(300 * time.Millisecond)
	if em.Stats().Writes != writes {
		t.Error("writes continued after the process exited")
	}
}

func TestSIGKILLThenRerunConverges(t *testing.T) {
	em, cfg := setup(t, 200, emulator.Options{}, "project_writes_per_minute: 120, concurrency: 4")
	cmd, _ := startApply(t, em, cfg)
	cmd.Process.Kill()
	cmd.Wait()
	time.Sleep(200 * time.Millisecond) // a request already received may still complete server-side
	done := em.Stats().Writes

	code, out, _ := runCLI(t, "plan", "--config", cfg, "--output", "json")
	if r := parseReport(t, out); code != exitOK || r.Summary["create"] != 200-done {
		t.Fatalf("plan after kill: exit %d, %d creates; want %d (200 minus the %d done)", code, r.Summary["create"], 200-done, done)
	}
	os.WriteFile(cfg, bytes.Replace(must(os.ReadFile(cfg)), []byte("project_writes_per_minute: 120"), []byte("project_writes_per_minute: 100000"), 1), 0o644)
	if code, out, errOut := runCLI(t, "apply", "--config", cfg); code != exitOK {
		t.Fatalf("rerun: exit %d\n%s%s", code, out, errOut)
	}
	st := em.Stats()
	if len(st.Creates) != 200 {
		t.Errorf("%d members created, want 200", len(st.Creates))
	}
	for k, n := range st.Creates {
		if n != 1 {
			t.Errorf("%s created %d times", k, n)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
