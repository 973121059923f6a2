package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
)

// A run that stops before it makes a plan (its removals state can't be
// read, say) still writes --report-file, saying why: the report a cron
// line or a pipeline keeps must not stay the last run's, complete and
// successful, while this one could not see anything.
func TestAReportFileSaysWhyNoPlanWasMade(t *testing.T) {
	em, cfg := setup(t, 2, emulator.Options{}, "")
	dir := filepath.Dir(cfg)
	data, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, append(data, "policy: sync\nstate: {location: st}\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "report.json")
	if code, _, errOut := runCLI(t, "apply", "--config", cfg, "--allow-removals", "10", "--report-file", report); code != exitOK {
		t.Fatalf("first run: exit %d\n%s", code, logText(errOut))
	}
	// The state is cut short (a disk that filled, a hand edit).
	state := filepath.Join(dir, "st", "removals.json")
	if err := os.Truncate(state, 10); err != nil {
		t.Fatal(err)
	}
	writes := em.Stats().Writes
	code, _, errOut := runCLI(t, "apply", "--config", cfg, "--report-file", report)
	if code != exitFailure || em.Stats().Writes != writes {
		t.Fatalf("exit %d, %d writes; want exit 1 and none\n%s", code, em.Stats().Writes-writes, logText(errOut))
	}
	var r jsonReport
	data, _ = os.ReadFile(report)
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("report file: %v\n%s", err, data)
	}
	if r.Complete || !strings.Contains(strings.Join(r.Incomplete, "\n"), "removals.json") {
		t.Errorf("the report file says complete %v, incomplete %q; want it to say the removals state could not be read", r.Complete, r.Incomplete)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// A run whose changes were applied and whose report could not be written
// to stdout (a full disk under `> out.txt`, /dev/full) fails, but the
// report file keeps what it did: not "no plan was made" over 2 creates.
func TestAReportFileKeepsWhatWasAppliedWhenStdoutFails(t *testing.T) {
	em, cfg := setup(t, 2, emulator.Options{}, "")
	report := filepath.Join(filepath.Dir(cfg), "report.json")
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"apply", "--config", cfg, "--report-file", report}, failingWriter{}, &stderr)
	if code != exitFailure || em.Stats().Writes != 2 {
		t.Fatalf("exit %d, %d writes; want exit 1 after 2 writes\n%s", code, em.Stats().Writes, logText(stderr.String()))
	}
	var r jsonReport
	data, _ := os.ReadFile(report)
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("report file: %v\n%s", err, data)
	}
	if !r.Applied || r.Summary["applied"] != 2 || r.Complete || !strings.Contains(strings.Join(r.Incomplete, "\n"), "no space left") {
		t.Errorf("the report file says applied %v, summary %v, complete %v, incomplete %q; want the 2 creates applied and why the run failed", r.Applied, r.Summary, r.Complete, r.Incomplete)
	}
}

// apply --plan too: a run that stopped before it applied anything (a
// damaged plan file here) writes --report-file, saying so, rather than
// leaving the last run's complete report in place.
func TestAReportFileSaysWhyAPlanFileWasNotApplied(t *testing.T) {
	em, cfg, plan := reviewed(t)
	report := filepath.Join(filepath.Dir(cfg), "report.json")
	if code, _, errOut := runCLI(t, "plan", "--config", cfg, "--out", plan, "--report-file", report); code != exitOK {
		t.Fatalf("plan: exit %d\n%s", code, logText(errOut))
	}
	data, _ := os.ReadFile(plan)
	os.WriteFile(plan, data[:len(data)/2], 0o600) // cut short
	code, _, errOut := runCLI(t, "apply", "--config", cfg, "--plan", plan, "--report-file", report)
	if code != exitInvalid || em.Stats().Writes != 0 {
		t.Fatalf("exit %d, %d writes; want exit 3 and none\n%s", code, em.Stats().Writes, logText(errOut))
	}
	var r jsonReport
	data, _ = os.ReadFile(report)
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("report file: %v\n%s", err, data)
	}
	if r.Complete || !strings.Contains(strings.Join(r.Incomplete, "\n"), "not applied") {
		t.Errorf("the report file says complete %v, incomplete %q; want it to say the plan was not applied", r.Complete, r.Incomplete)
	}
}

// An apply that finds the lock held (another run of this config, or of
// another config sharing its state folder: README, "started together, one
// exits 5 ... each time") writes --report-file too: the file a cron line
// keeps must not stay the last run's, complete and successful, while this
// config's runs change nothing.
func TestAReportFileSaysTheLockWasHeld(t *testing.T) {
	_, cfg := setup(t, 2, emulator.Options{}, "")
	dir := filepath.Dir(cfg)
	data, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, append(data, "state: {location: st}\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "report.json")
	if code, _, errOut := runCLI(t, "apply", "--config", cfg, "--report-file", report); code != exitOK {
		t.Fatalf("first run: exit %d\n%s", code, logText(errOut))
	}
	unlock, err := acquireLocks(filepath.Join(t.TempDir(), "session.lock"), cfg) // another run, from another session
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if code, _, errOut := runCLI(t, "apply", "--config", cfg, "--report-file", report); code != exitLocked {
		t.Fatalf("exit %d, want %d\n%s", code, exitLocked, logText(errOut))
	}
	var r jsonReport
	data, _ = os.ReadFile(report)
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("report file: %v\n%s", err, data)
	}
	if r.Complete || !strings.Contains(strings.Join(r.Incomplete, "\n"), "lock") {
		t.Errorf("the report file says complete %v, incomplete %q; want it to say the lock was held", r.Complete, r.Incomplete)
	}
}

// A command line refused before any call (a bad --output or --log-level, a
// --out folder that does not exist, --lock-file naming a source, apply's
// flags that don't go together) writes --report-file
// too, saying no plan was made, unless the report file is what is wrong:
// it must not stay the last run's, complete and successful.
func TestARefusedCommandLineWritesTheReportFile(t *testing.T) {
	_, cfg := setup(t, 2, emulator.Options{}, "")
	dir := filepath.Dir(cfg)
	report := filepath.Join(dir, "report.json")
	fresh := func() {
		t.Helper()
		if code, _, errOut := runCLI(t, "plan", "--config", cfg, "--report-file", report); code != exitOK {
			t.Fatalf("a sound run: exit %d\n%s", code, logText(errOut))
		}
	}
	for _, bad := range [][]string{
		{"plan", "--output", "yaml"},
		{"plan", "--out", filepath.Join(dir, "no-such-folder", "plan.json")},
		{"apply", "--lock-file", cfg},
		// Refused before the run's own checks: the command's flags
		// together, the log level.
		{"plan", "--log-level", "loud"},
		{"apply", "--detailed-exitcode"},
		{"apply", "--out", filepath.Join(dir, "plan.json")},
		{"apply", "--plan", filepath.Join(dir, "plan.json"), "--allow-removals", "1"},
		{"apply", "--allow-removals", "-2"},
	} {
		fresh()
		args := append(append([]string{}, bad...), "--config", cfg, "--report-file", report)
		if code, _, errOut := runCLI(t, args...); code != exitInvalid {
			t.Fatalf("%v: exit %d, want %d\n%s", bad, code, exitInvalid, logText(errOut))
		}
		var r jsonReport
		data, _ := os.ReadFile(report)
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatalf("%v: report file: %v\n%s", bad, err, data)
		}
		if r.Complete || !strings.Contains(strings.Join(r.Incomplete, "\n"), "no plan was made") {
			t.Errorf("%v: the report file says complete %v, incomplete %q; want no plan made", bad, r.Complete, r.Incomplete)
		}
	}
	// The report file itself the fault: a source, or another output.
	csv := filepath.Join(dir, "members.csv")
	before, _ := os.ReadFile(csv)
	if code, _, _ := runCLI(t, "plan", "--config", cfg, "--report-file", csv); code != exitInvalid {
		t.Fatalf("--report-file naming a source: exit %d, want %d", code, exitInvalid)
	}
	if after, _ := os.ReadFile(csv); !bytes.Equal(before, after) {
		t.Errorf("--report-file naming a source wrote it:\n%s", after)
	}
	fresh()
	before, _ = os.ReadFile(report)
	if code, _, _ := runCLI(t, "plan", "--config", cfg, "--report-file", report, "--out", report); code != exitInvalid {
		t.Fatalf("--report-file and --out alike: exit %d, want %d", code, exitInvalid)
	}
	if after, _ := os.ReadFile(report); !bytes.Equal(before, after) {
		t.Errorf("--report-file and --out alike: the report file was written")
	}
}
