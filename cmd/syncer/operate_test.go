package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
)

func TestLockRefusesASecondApply(t *testing.T) {
	_, cfg := setup(t, 1, emulator.Options{}, "")
	lock := filepath.Join(t.TempDir(), "syncer.lock")
	unlock, err := acquireLock(lock, cfg) // a first apply holding it
	if err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "apply", "--config", cfg, "--lock-file", lock)
	if code != exitLocked || !strings.Contains(logText(errOut), "another syncer run for this config holds") {
		t.Errorf("exit %d: %s", code, errOut)
	}
	if code, _, _ := runCLI(t, "plan", "--config", cfg, "--lock-file", lock); code != exitOK {
		t.Errorf("plan is read-only and needs no lock: exit %d", code)
	}
	unlock()
	if code, _, errOut := runCLI(t, "apply", "--config", cfg, "--lock-file", lock); code != exitOK {
		t.Errorf("after release: exit %d %s", code, errOut)
	}
}

func TestReportFile(t *testing.T) {
	_, cfg := setup(t, 2, emulator.Options{}, "")
	dir := t.TempDir()
	summary := filepath.Join(dir, "step-summary")
	os.WriteFile(summary, []byte("earlier step\n"), 0o644)
	t.Setenv("GITHUB_STEP_SUMMARY", summary)
	for _, tc := range []struct{ file, want string }{
		{"r.json", `"format_version": "1"`}, {"r.md", "## Chat membership plan"}, {"r.txt", "Plan: 2 to add"}, {summary, "earlier step\n## Chat membership plan"},
	} {
		path := tc.file
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		if code, _, errOut := runCLI(t, "plan", "--config", cfg, "--report-file", path); code != exitOK {
			t.Fatalf("exit %d %s", code, errOut)
		}
		data, _ := os.ReadFile(path)
		if !strings.Contains(string(data), tc.want) {
			t.Errorf("%s lacks %q:\n%s", tc.file, tc.want, data)
		}
	}
}

// pushgateway keeps what was pushed per metric name, with POST's add semantics.
type pushgateway struct {
	mu      sync.Mutex
	metrics map[string]string // name → last pushed sample line
	methods []string
}

func (p *pushgateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.methods = append(p.methods, r.Method+" "+r.URL.Path)
	body, _ := io.ReadAll(r.Body)
	// The client pushes the protobuf delimited format; the names are enough here.
	for _, name := range []string{"syncer_last_success_timestamp_seconds", "syncer_last_run_timestamp_seconds", "syncer_runs_total"} {
		if strings.Contains(string(body), name) {
			p.metrics[name] = r.Method
		} else if r.Method == http.MethodPut {
			delete(p.metrics, name)
		}
	}
	w.WriteHeader(http.StatusOK)
}

func TestPushgatewayKeepsTheLastSuccess(t *testing.T) {
	gw := &pushgateway{metrics: map[string]string{}}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	_, cfg := setup(t, 1, emulator.Options{}, "max_attempts: 1")
	if code, _, _ := runCLI(t, "apply", "--config", cfg, "--pushgateway", srv.URL); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if gw.metrics["syncer_last_success_timestamp_seconds"] == "" {
		t.Fatalf("a successful run did not push its success time: %v", gw.metrics)
	}
	delete(gw.metrics, "syncer_last_success_timestamp_seconds")
	// A failing run (a space that does not exist) pushes, but not a success time.
	data, _ := os.ReadFile(filepath.Join(filepath.Dir(cfg), "members.csv"))
	os.WriteFile(filepath.Join(filepath.Dir(cfg), "members.csv"), append(data, "spaces/GONE,u0@example.com,\n"...), 0o644)
	if code, _, _ := runCLI(t, "apply", "--config", cfg, "--pushgateway", srv.URL); code != exitFailure {
		t.Fatalf("exit %d", code)
	}
	if gw.metrics["syncer_last_success_timestamp_seconds"] != "" || gw.metrics["syncer_last_run_timestamp_seconds"] == "" {
		t.Errorf("failed run pushed %v; want the run time but no success time", gw.metrics)
	}
	for _, m := range gw.methods {
		if !strings.HasPrefix(m, "POST /metrics/job/syncer") {
			t.Errorf("pushed with %s; add semantics need POST", m)
		}
	}
}

func TestJSONLogLines(t *testing.T) {
	_, cfg := setup(t, 2, emulator.Options{}, "")
	_, _, errOut := runCLI(t, "apply", "--config", cfg, "--log-level", "debug")
	sc := bufio.NewScanner(strings.NewReader(errOut))
	lines := 0
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Errorf("not a JSON log line: %s", sc.Text())
			continue
		}
		lines++
		for _, key := range []string{"severity", "message", "run_id", "time"} {
			if _, ok := line[key]; !ok {
				t.Errorf("log line lacks %q: %s", key, sc.Text())
			}
		}
		if _, ok := line["level"]; ok {
			t.Errorf("log line uses level, not severity: %s", sc.Text())
		}
	}
	if lines < 3 {
		t.Errorf("only %d log lines:\n%s", lines, errOut)
	}
}

// Two applies of one config whose host locks differ (one from a login
// session, $XDG_RUNTIME_DIR set; one from cron, without it; or a
// --lock-file of the systemd unit's) still exclude each other: the state
// folder they share holds a lock too. The holder's lock file is removed
// when it is done.
func TestTheStateFolderLocksRunsStartedApart(t *testing.T) {
	em, cfg := setup(t, 1, emulator.Options{}, "")
	unlock, err := acquireLocks(filepath.Join(t.TempDir(), "session.lock"), cfg) // a first apply, from another session
	if err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "apply", "--config", cfg, "--lock-file", filepath.Join(t.TempDir(), "cron.lock"))
	if code != exitLocked || !strings.Contains(logText(errOut), stateLockName) || em.Stats().Total() != 0 {
		t.Errorf("a second apply beside the first: exit %d, %d calls; want %d, none, the state folder's lock named\n%s", code, em.Stats().Total(), exitLocked, logText(errOut))
	}
	held := filepath.Join(filepath.Dir(cfg), "syncer-state", stateLockName)
	if _, err := os.Stat(held); err != nil {
		t.Errorf("no lock in the state folder while a run holds it: %v", err)
	}
	unlock()
	if code, _, errOut := runCLI(t, "apply", "--config", cfg); code != exitOK {
		t.Errorf("after the first is done: exit %d\n%s", code, logText(errOut))
	}
	if _, err := os.Stat(held); !os.IsNotExist(err) {
		t.Errorf("the state folder's lock file is left behind: %v", err)
	}
}

// A --lock-file that is the state folder's own lock (state.location
// /var/lib/syncer, --lock-file /var/lib/syncer/apply.lock) is one lock,
// taken once: the run must not find itself holding it.
func TestALockFileInTheStateFolderIsTakenOnce(t *testing.T) {
	em, cfg := setup(t, 1, emulator.Options{}, "")
	named := filepath.Join(filepath.Dir(cfg), "syncer-state", stateLockName)
	os.MkdirAll(filepath.Dir(named), 0o700)
	if code, _, errOut := runCLI(t, "apply", "--config", cfg, "--lock-file", named); code != exitOK || em.Stats().Writes != 1 {
		t.Errorf("apply --lock-file %s: exit %d, %d writes; want %d, 1\n%s", named, code, em.Stats().Writes, exitOK, logText(errOut))
	}
	// Still a lock: a second run beside one holding it exits 5.
	unlock, err := acquireLocks(named, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if code, _, errOut := runCLI(t, "apply", "--config", cfg); code != exitLocked {
		t.Errorf("an apply beside a run holding %s: exit %d, want %d\n%s", named, code, exitLocked, logText(errOut))
	}
}

// The state folder's lock held by a run of another config keeping its
// state there: exit 5 saying so, not blaming a run "for this config".
func TestAStateFolderHeldByAnotherConfigSaysSo(t *testing.T) {
	_, cfg := setup(t, 1, emulator.Options{}, "")
	data, _ := os.ReadFile(cfg)
	other := filepath.Join(filepath.Dir(cfg), "other.yaml")
	os.WriteFile(other, data, 0o644)
	unlock, err := acquireLocks("", other)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	code, _, errOut := runCLI(t, "apply", "--config", cfg)
	if log := logText(errOut); code != exitLocked || strings.Contains(log, "for this config") || !strings.Contains(log, "syncer-state") {
		t.Errorf("exit %d; want %d, the state folder named, no run 'for this config'\n%s", code, exitLocked, log)
	}
}

// A state folder that belongs to another user (root running by hand in
// the syncer user's folder): its lock is not taken, the run goes on under
// its host lock, and says so.
func TestAStateFolderOfAnotherUserIsSaidNotLocked(t *testing.T) {
	_, cfg := setup(t, 1, emulator.Options{}, "")
	dir := filepath.Join(filepath.Dir(cfg), "syncer-state")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Skipf("can't give the folder to another user here: %v", err)
	}
	code, _, errOut := runCLI(t, "apply", "--config", cfg)
	if code != exitOK || !strings.Contains(logText(errOut), "its run lock is not taken") {
		t.Errorf("exit %d; want 0 and the skipped lock said\n%s", code, logText(errOut))
	}
}
