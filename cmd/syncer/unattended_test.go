package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/auth"
	"github.com/syncer-dev/syncer/internal/auth/authtest"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
)

// manySpaces seeds n spaces with an owner each and writes a source that
// adds one user to each, under a config with extra YAML lines.
func manySpaces(t *testing.T, n int, opts emulator.Options, extra string) (*emulator.Server, string) {
	t.Helper()
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "new@example.com"}}}
	var csv strings.Builder
	csv.WriteString("space,member\n")
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("spaces/M%03d", i)
		seed.Spaces = append(seed.Spaces, emulator.SeedSpace{Name: name, Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}})
		fmt.Fprintf(&csv, "%s,new@example.com\n", name)
	}
	em, url := emulatortest.Start(t, seed, opts)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "members.csv"), []byte(csv.String()), 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q}\n%s", url, extra)), 0o644)
	return em, cfg
}

// withKey returns config lines for a service-account key whose token
// endpoint is ts.
func withKey(t *testing.T, ts *authtest.TokenServer, limits string) string {
	key, _ := ts.ServiceAccountKey(t, t.TempDir())
	return fmt.Sprintf("auth: {mode: service-account, credentials_file: %q, subject: admin@example.com}\nidentity: {directory: false}\nlimits: {%s}\n", key, limits)
}

func TestRefusedCredentialsStopTheRunAtOnce(t *testing.T) {
	ts := authtest.Start(t)
	ts.Refuse(401, `{"error":"unauthorized_client","error_description":"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."}`)
	em, cfg := manySpaces(t, 100, emulator.Options{}, withKey(t, ts, ""))
	start := time.Now()
	code, out, errOut := runCLI(t, "apply", "--config", cfg)
	elapsed := time.Since(start)
	_, forms := ts.Requests()
	logs := logText(errOut)
	if code != exitFailure || !strings.HasPrefix(finalReport(out), "INCOMPLETE") || !strings.Contains(out, "authentication refused: 401 unauthorized_client") {
		t.Errorf("exit %d\n%s", code, out)
	}
	if n := strings.Count(logs, "domain-wide delegation is not granted"); n == 0 {
		t.Errorf("the logs never name the likely cause:\n%s", logs)
	}
	if strings.Count(logs, "stopping the run") != 1 || !strings.Contains(logs, "ERROR run finished") {
		t.Errorf("want one stop message and a failed run at ERROR:\n%s", logs)
	}
	if len(forms) != 1 || em.Stats().Total() != 0 || elapsed > 5*time.Second {
		t.Errorf("%d token requests, %d API requests, %v; want 1, 0 and well under 5 s", len(forms), em.Stats().Total(), elapsed)
	}
	t.Logf("100 spaces, token endpoint answering 401: %d token request, %v, exit %d", len(forms), elapsed.Round(time.Millisecond), code)
}

func TestHangingTokenEndpointEndsTheRun(t *testing.T) {
	ts := authtest.Start(t)
	ts.Hang()
	_, cfg := manySpaces(t, 5, emulator.Options{}, withKey(t, ts, "call_timeout: 1s"))
	start := time.Now()
	code, out, errOut := runCLI(t, "plan", "--config", cfg, "--detailed-exitcode")
	elapsed := time.Since(start)
	if code != exitFailure || !strings.Contains(out, "no access token after 3 tries") {
		t.Errorf("exit %d\n%s\n%s", code, out, logText(errOut))
	}
	if elapsed > 10*time.Second {
		t.Errorf("a hanging token endpoint held the run %v with a 1 s call timeout", elapsed)
	}
	t.Logf("token endpoint that never answers, call_timeout 1s: the run ended by itself after %v", elapsed.Round(time.Millisecond))
}

// runBinary starts the built syncer and returns it with its stdout.
func runBinary(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stdout, &stderr
}

// stopWithSIGTERM sends SIGTERM and returns the exit code and how long the
// process took to end.
func stopWithSIGTERM(t *testing.T, cmd *exec.Cmd) (int, time.Duration) {
	t.Helper()
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return code, time.Since(sent)
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("still running 20 s after SIGTERM")
	}
	return 0, 0
}

func TestSIGTERMWhileWaitingForAToken(t *testing.T) {
	ts := authtest.Start(t)
	ts.Hang()
	_, cfg := manySpaces(t, 5, emulator.Options{}, withKey(t, ts, "call_timeout: 30s"))
	cmd, stdout, stderr := runBinary(t, "plan", "--config", cfg, "--detailed-exitcode")
	time.Sleep(time.Second)
	code, took := stopWithSIGTERM(t, cmd)
	if code != exitFailure || took > 10*time.Second || !strings.Contains(stdout.String(), "stopped while reading the spaces (interrupted by SIGTERM)") {
		t.Errorf("exit %d after %v\n%s\n%s", code, took, stdout, logText(stderr.String()))
	}
	t.Logf("token endpoint that never answers, SIGTERM: exit %d %v later", code, took.Round(time.Millisecond))
}

func TestSIGTERMDuringReadsPrintsAnIncompletePlan(t *testing.T) {
	// 40 spaces at 400 ms a call and 4 calls in flight: reads take 4 s.
	for _, args := range [][]string{{"plan", "--detailed-exitcode"}, {"apply"}} {
		t.Run(args[0], func(t *testing.T) {
			em, cfg := manySpaces(t, 40, emulator.Options{LatencyMin: 400 * time.Millisecond, LatencyMax: 400 * time.Millisecond}, "limits: {concurrency: 4}\n")
			cmd := exec.Command(binary(t), append(args, "--config", cfg, "--output", "json", "--log-level", "debug")...)
			stdout, stderr := &bytes.Buffer{}, &lockedBuffer{} // stderr is read while the process writes it
			cmd.Stdout, cmd.Stderr = stdout, stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Signal once a space is planned, not after a fixed time: the
			// first needs the process started, its list and the Directory's
			// answer for new@ (two 400 ms calls in a row), which a loaded
			// machine pushed past a 1.5 s sleep about one run in fifteen.
			// The bound is for a hang.
			for deadline := time.Now().Add(20 * time.Second); !strings.Contains(stderr.String(), `"message":"space planned"`); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("no space planned in 20 s:\n%s", logText(stderr.String()))
				}
			}
			code, took := stopWithSIGTERM(t, cmd)
			var r struct {
				Complete   bool             `json:"complete"`
				Incomplete []string         `json:"incomplete"`
				Summary    map[string]int   `json:"summary"`
				Spaces     []map[string]any `json:"spaces"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
				t.Fatalf("stdout is not one JSON report: %v\n%s", err, stdout)
			}
			listed := 0
			for _, sp := range r.Spaces {
				if sp["listed"] == true {
					listed++
				}
			}
			// Spaces read before the signal are planned (new@ is really
			// missing from each); the others are not read, and the run says so.
			if code != exitFailure || took > 10*time.Second || r.Complete || listed == 0 || listed == 40 || r.Summary["create"] != listed ||
				!strings.Contains(strings.Join(r.Incomplete, "\n"), "stopped while reading the spaces (interrupted by SIGTERM)") {
				t.Errorf("exit %d after %v, %d spaces listed\n%s\n%s", code, took, listed, stdout, logText(stderr.String()))
			}
			if args[0] == "apply" && em.Stats().Writes != r.Summary["applied"] {
				t.Errorf("report says %d applied, the emulator saw %d writes", r.Summary["applied"], em.Stats().Writes)
			}
		})
	}
}

func TestPushgatewayThatNeverAnswers(t *testing.T) {
	var pushes atomic.Int32
	release := make(chan struct{})
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pushes.Add(1)
		io.Copy(io.Discard, r.Body) // the server notices a client leaving only once the body is read
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer gw.Close()
	defer close(release)
	_, cfg := setup(t, 3, emulator.Options{}, "")
	start := time.Now()
	code, out, errOut := runCLI(t, "apply", "--config", cfg, "--pushgateway", gw.URL)
	elapsed := time.Since(start)
	if code != exitFailure || !strings.Contains(out, "Applied: 3 applied") || !strings.Contains(logText(errOut), "metrics not pushed") || pushes.Load() != 1 {
		t.Errorf("exit %d after %v\n%s\n%s", code, elapsed, out, logText(errOut))
	}
	if elapsed > 8*time.Second {
		t.Errorf("a Pushgateway that never answers held the run %v", elapsed)
	}
	t.Logf("Pushgateway that never answers: the run ended after %v", elapsed.Round(time.Millisecond))
}

// A Pushgateway behind basic auth is given with its password in the URL:
// the password never reaches a log line or an error.
func TestPushgatewayPasswordStaysOutOfTheLogs(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	addr := closed.Listener.Addr().String()
	closed.Close() // nothing listens there now
	_, cfg := setup(t, 1, emulator.Options{}, "")
	for _, gw := range []string{"http://user:s3cretpw@" + addr + "/", "ftp://user:s3cretpw@" + addr + "/"} {
		code, out, errOut := runCLI(t, "apply", "--config", cfg, "--pushgateway", gw)
		if code == exitOK || strings.Contains(out+errOut, "s3cretpw") || !strings.Contains(errOut, "user:xxxxx@") {
			t.Errorf("--pushgateway %s: exit %d\n%s\n%s", gw, code, out, errOut)
		}
	}
}

func TestLoopingPageTokensStopThatList(t *testing.T) {
	em, cfg := manySpaces(t, 3, emulator.Options{}, "identity: {directory: false}\n")
	em.SetMisbehaviour("members.list", emulator.Misbehaviour{LoopPages: true})
	start := time.Now()
	code, out, errOut := runCLI(t, "plan", "--config", cfg)
	if code != exitFailure || !strings.Contains(out, "3 of 3 spaces could not be read") || !strings.Contains(out, "page token it had already returned") {
		t.Errorf("exit %d\n%s\n%s", code, out, logText(errOut))
	}
	if n := em.Stats().Count("members.list"); n != 6 || time.Since(start) > 5*time.Second {
		t.Errorf("%d list calls in %v; want 2 a space, then stop", n, time.Since(start))
	}
}

func TestLoopingDirectoryListFallsBack(t *testing.T) {
	em, cfg := manySpaces(t, 3, emulator.Options{HideEmails: true}, "")
	em.SetMisbehaviour("directory.users.list", emulator.Misbehaviour{LoopPages: true})
	// Past 100 unknown emails the resolver pages the Directory; force that
	// with many desired users.
	data, _ := os.ReadFile(filepath.Join(filepath.Dir(cfg), "members.csv"))
	var more strings.Builder
	for i := 0; i < 120; i++ {
		fmt.Fprintf(&more, "spaces/M000,x%d@example.com\n", i)
	}
	os.WriteFile(filepath.Join(filepath.Dir(cfg), "members.csv"), append(data, more.String()...), 0o644)
	// Each of the pass's queries stops after two pages; membership reads then answer for
	// every address, so the plan is still sure of itself.
	code, out, errOut := runCLI(t, "plan", "--config", cfg, "--output", "json")
	if code != exitOK || !strings.Contains(out, "page token it had already returned") || em.Stats().Count("directory.users.list") > 2*64 ||
		em.Stats().Count("members.get") != 120 {
		t.Errorf("exit %d, %d Directory pages\n%s\n%s", code, em.Stats().Count("directory.users.list"), out, logText(errOut))
	}
}

func TestNoSpaceReadIsNeverAllGood(t *testing.T) {
	em, cfg := manySpaces(t, 20, emulator.Options{}, "limits: {max_attempts: 2}\nidentity: {directory: false}\n")
	em.SetMisbehaviour("*", emulator.Misbehaviour{Status: 500})
	for _, args := range [][]string{{"plan"}, {"plan", "--detailed-exitcode"}, {"apply"}} {
		code, out, _ := runCLI(t, append(args, "--config", cfg)...)
		if code != exitFailure || !strings.HasPrefix(finalReport(out), "INCOMPLETE") || !strings.Contains(out, "20 of 20 spaces could not be read") || strings.Contains(out, "already as desired") {
			t.Errorf("%v: exit %d\n%s", args, code, out)
		}
	}
	if em.Stats().Writes != 0 {
		t.Errorf("%d writes", em.Stats().Writes)
	}
}

func TestUnresolvedIdentitiesMakeAnIncompletePlan(t *testing.T) {
	em, cfg := setup(t, 3, emulator.Options{HideEmails: true}, "max_attempts: 2")
	// u0..u2 are not in spaces/S; make the Directory and membership reads fail.
	em.SetMisbehaviour("directory.users.get", emulator.Misbehaviour{Status: 500})
	em.SetMisbehaviour("directory.users.list", emulator.Misbehaviour{Status: 500})
	em.SetMisbehaviour("members.get", emulator.Misbehaviour{Status: 503})
	code, out, errOut := runCLI(t, "plan", "--config", cfg, "--output", "json", "--detailed-exitcode")
	if code != exitFailure || !strings.Contains(out, "3 addresses could not be resolved") || !strings.Contains(out, "u0@example.com (membership read in spaces/S: gave up after 2 attempts: 503") {
		t.Errorf("exit %d\n%s\n%s", code, out, logText(errOut))
	}
}

func TestReportFileInAMissingFolderIsRefusedFirst(t *testing.T) {
	em, cfg := setup(t, 2, emulator.Options{}, "")
	code, _, errOut := runCLI(t, "apply", "--config", cfg, "--report-file", filepath.Join(t.TempDir(), "no-such-folder", "report.json"))
	if code != exitInvalid || !strings.Contains(logText(errOut), "does not exist") || em.Stats().Total() != 0 {
		t.Errorf("exit %d, %d requests\n%s", code, em.Stats().Total(), errOut)
	}
}

func TestLockFileSafety(t *testing.T) {
	runtime := t.TempDir()
	os.Chmod(runtime, 0o700)
	t.Setenv("XDG_RUNTIME_DIR", runtime)
	_, cfg := setup(t, 1, emulator.Options{}, "")

	t.Run("a planted symlink is not followed", func(t *testing.T) {
		path, err := defaultLockPath(cfg)
		if err != nil {
			t.Fatal(err)
		}
		victim := filepath.Join(t.TempDir(), "precious")
		os.WriteFile(victim, []byte("keep me\n"), 0o600)
		os.Symlink(victim, path)
		defer os.Remove(path)
		code, _, errOut := runCLI(t, "apply", "--config", cfg)
		if data, _ := os.ReadFile(victim); string(data) != "keep me\n" || code != exitFailure || !strings.Contains(logText(errOut), "symlink") {
			t.Errorf("exit %d, victim now %q\n%s", code, data, errOut)
		}
	})
	t.Run("the same config through a symlinked folder takes the same lock", func(t *testing.T) {
		link := filepath.Join(t.TempDir(), "via-link")
		os.Symlink(filepath.Dir(cfg), link)
		unlock, err := acquireLock("", cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer unlock()
		if code, _, errOut := runCLI(t, "apply", "--config", filepath.Join(link, "config.yaml")); code != exitLocked {
			t.Errorf("exit %d\n%s", code, errOut)
		}
	})
	t.Run("a lock file that can't be created is exit 1", func(t *testing.T) {
		code, _, errOut := runCLI(t, "apply", "--config", cfg, "--lock-file", filepath.Join(t.TempDir(), "missing", "x.lock"))
		if code != exitFailure || !strings.Contains(logText(errOut), "can't create the lock file") {
			t.Errorf("exit %d\n%s", code, errOut)
		}
	})
	t.Run("a lock folder others can write is refused", func(t *testing.T) {
		open := t.TempDir()
		os.Chmod(open, 0o777)
		t.Setenv("XDG_RUNTIME_DIR", open)
		t.Setenv("TMPDIR", open) // the fallback folder is made inside it, 0700
		if _, err := acquireLock("", cfg); err != nil {
			t.Errorf("the fallback private folder was not used: %v", err)
		}
		if st, err := os.Stat(filepath.Join(open, fmt.Sprintf("syncer-%d", os.Getuid()))); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("fallback lock folder: %v %v", st, err)
		}
	})
}

func TestRunTimeoutCutShortIsAFailure(t *testing.T) {
	// 20 creates at one write a second cannot fit in a 3 s run.
	em, cfg := setup(t, 20, emulator.Options{}, "project_writes_per_minute: 60, call_timeout: 1s, run_timeout: 3s")
	start := time.Now()
	code, out, errOut := runCLI(t, "apply", "--config", cfg, "--output", "json")
	var r struct {
		Complete   bool           `json:"complete"`
		Incomplete []string       `json:"incomplete"`
		Summary    map[string]int `json:"summary"`
	}
	json.Unmarshal([]byte(out), &r)
	if code != exitFailure || r.Complete || !strings.Contains(strings.Join(r.Incomplete, " "), "stopped during apply") ||
		r.Summary["applied"] != em.Stats().Writes || r.Summary["applied"] == 20 || !strings.Contains(logText(errOut), "ERROR run finished") {
		t.Errorf("exit %d after %v: %+v\n%s", code, time.Since(start), r, logText(errOut))
	}
}

// A first run starts the Directory pass before any list answers (lists
// without emails need it). Where the lists carry every email, a Directory
// scope that domain-wide delegation does not grant must not stop the run:
// the early page was a guess, and nothing needed the Directory.
func TestRefusedDirectoryScopeSparesARunThatNeedsNoDirectory(t *testing.T) {
	ts := authtest.Start(t)
	ts.RefuseScope(auth.ScopeDirectoryRead, 401, `{"error":"unauthorized_client","error_description":"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."}`)
	seed, csv, least := emulatortest.World{Spaces: 10, MembersPerSpace: 50, Spread: emulatortest.SpreadEven}.Build()
	em, url := emulatortest.Start(t, seed, emulator.Options{})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "members.csv"), []byte(csv), 0o644)
	key, _ := ts.ServiceAccountKey(t, t.TempDir())
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q}\nauth: {mode: service-account, credentials_file: %q, subject: admin@example.com}\n", url, key)), 0o644)
	code, out, errOut := runCLI(t, "plan", "--config", cfg, "--log-level", "debug")
	if code != exitOK || strings.Contains(errOut, "stopping the run") {
		t.Fatalf("exit %d\n%s\n%s", code, out, logText(errOut))
	}
	directoryTokens := 0
	claims, _ := ts.Requests()
	for _, c := range claims {
		if s, _ := c["scope"].(string); strings.Contains(s, auth.ScopeDirectoryRead) {
			directoryTokens++
		}
	}
	if directoryTokens == 0 {
		t.Error("no Directory token was asked for: the test no longer tries the early pass")
	}
	if !strings.Contains(errOut, "nothing needs it yet") {
		t.Errorf("the refused early pass is not logged:\n%s", logText(errOut))
	}
	if got := em.Stats().Count("members.list"); got != least.ListPages {
		t.Errorf("%d list calls, want %d", got, least.ListPages)
	}
}
