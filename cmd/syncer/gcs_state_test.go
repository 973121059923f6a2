package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/auth"
	"github.com/syncer-dev/syncer/internal/auth/authtest"
	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/membership"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
	"github.com/syncer-dev/syncer/internal/state/gcstest"
)

// cloudRun is a stateless runner: every run gets a fresh folder (no disk
// shared with the run before) and keeps its state in gs://syncer-state/prod
// on fake-gcs-server, reached through STORAGE_EMULATOR_HOST.
type cloudRun struct {
	t    *testing.T
	em   *emulator.Server
	url  string
	gcs  *gcstest.Server
	csv  string // the source
	conf string // extra config lines
}

func newCloudRun(t *testing.T, seed *emulator.Seed, opts emulator.Options, csv, conf string) *cloudRun {
	t.Helper()
	em, url := emulatortest.Start(t, seed, opts)
	return &cloudRun{t: t, em: em, url: url, gcs: gcstest.Start(t, "syncer-state"), csv: csv, conf: conf}
}

// config writes a fresh folder with the config and the source.
func (c *cloudRun) config() string {
	dir := c.t.TempDir()
	os.WriteFile(filepath.Join(dir, "members.csv"), []byte(c.csv), 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q}\nstate: {location: \"gs://syncer-state/prod\"}\n%s", c.url, c.conf)), 0o644)
	return cfg
}

// start runs the binary in a fresh folder, with its own lock file (as on
// another machine: only the Cloud Storage lock is shared).
func (c *cloudRun) start(args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cfg := c.config()
	args = append(args, "--config", cfg, "--lock-file", filepath.Join(filepath.Dir(cfg), "host.lock"))
	cmd := exec.Command(binary(c.t), args...)
	cmd.Env = append(os.Environ(), "STORAGE_EMULATOR_HOST="+c.gcs.Host)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	return cmd, &stdout, &stderr
}

func (c *cloudRun) run(args ...string) (int, string, string) {
	cmd, stdout, stderr := c.start(args...)
	err := cmd.Wait()
	// The run's folder goes with its machine: the next run shares no disk
	// with it (its source is not here to be compared with).
	os.RemoveAll(filepath.Dir(cmd.Args[slices.Index(cmd.Args, "--config")+1]))
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return code, stdout.String(), logText(stderr.String())
}

func (c *cloudRun) object(name string) string {
	o, err := c.gcs.GetObject("syncer-state", "prod/"+name)
	if err != nil {
		return ""
	}
	return string(o.Content)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 20 s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func slowWorld(n int) (*emulator.Seed, string) {
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}}}
	csv := "space,member\nspaces/S,boss@example.com\n"
	for i := 0; i < n; i++ {
		seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(100 + i), Email: fmt.Sprintf("u%d@example.com", i)})
		csv += fmt.Sprintf("spaces/S,u%d@example.com\n", i)
	}
	return seed, csv
}

func TestCloudStorageLockOneApplyAtATime(t *testing.T) {
	seed, csv := slowWorld(20)
	c := newCloudRun(t, seed, emulator.Options{LatencyMin: 50 * time.Millisecond, LatencyMax: 60 * time.Millisecond}, csv, "limits: {concurrency: 2}\n")
	first, stdout, stderr := c.start("apply", "--output", "json")
	waitFor(t, "the first apply's lock", func() bool { return strings.Contains(c.object("lock"), `"run_id"`) })
	// A Cloud Scheduler retry, or someone's manual execution, meanwhile.
	code, _, logs := c.run("apply")
	if code != exitLocked || !strings.Contains(logs, "gs://syncer-state/prod/lock") || !strings.Contains(logs, "lease ends") {
		t.Errorf("second apply: exit %d\n%s", code, logs)
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("first apply: %v\n%s%s", err, stdout, logText(stderr.String()))
	}
	if st := c.em.Stats(); st.Writes != 20 || st.Count("members.create") != 20 {
		t.Errorf("%d writes, %v: want each of the 20 creates once", st.Writes, st.Requests)
	}
	if c.object("lock") != "" {
		t.Error("the lock was not released")
	}
	// plan takes no lock: it runs beside an apply.
	if code, _, logs := c.run("plan"); code != exitOK {
		t.Errorf("plan: exit %d\n%s", code, logs)
	}
}

func TestCloudStorageLockOfACrashedRunIsTakenOver(t *testing.T) {
	seed, csv := slowWorld(3)
	c := newCloudRun(t, seed, emulator.Options{}, csv, "")
	ended := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	c.gcs.Put("syncer-state", "prod/lock", `{"run_id":"dead","host":"gone","pid":1,"started":"2026-01-01T00:00:00Z","lease_seconds":3630,"lease_ends":"`+ended+`"}`)
	code, _, logs := c.run("apply")
	if code != exitOK || !strings.Contains(logs, "took over the run lock of run dead on gone") || c.em.Stats().Writes != 3 {
		t.Errorf("exit %d, %d writes\n%s", code, c.em.Stats().Writes, logs)
	}
	// A live lock (lease not ended) is never taken over.
	live := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	c.gcs.Put("syncer-state", "prod/lock", `{"run_id":"alive","host":"h","pid":1,"started":"2026-01-01T00:00:00Z","lease_seconds":3630,"lease_ends":"`+live+`"}`)
	if code, _, logs := c.run("apply"); code != exitLocked || !strings.Contains(logs, "run alive on h") {
		t.Errorf("live lock: exit %d\n%s", code, logs)
	}
}

func TestCloudStorageLostLockStopsBeforeTheNextWrite(t *testing.T) {
	seed, csv := slowWorld(30)
	// One write at a time, 40 ms each: the run takes over a second.
	c := newCloudRun(t, seed, emulator.Options{LatencyMin: 40 * time.Millisecond, LatencyMax: 40 * time.Millisecond}, csv, "limits: {concurrency: 1}\n")
	cmd, stdout, stderr := c.start("apply", "--output", "json")
	waitFor(t, "a few writes", func() bool { return c.em.Stats().Writes >= 3 })
	c.gcs.Delete(t, "syncer-state", "prod/lock") // someone "cleans up" the bucket
	at := c.em.Stats().Writes
	err := cmd.Wait()
	final := c.em.Stats().Writes
	logs := logText(stderr.String())
	if err == nil || final-at > 1 || final >= 30 {
		t.Errorf("exit %v: %d writes when the lock went, %d at the end (one may have been in flight)\n%s", err, at, final, logs)
	}
	if !strings.Contains(logs, "lock is gone") || !strings.Contains(logs, "was deleted") {
		t.Errorf("the log doesn't say the lock was lost:\n%s", logs)
	}
	if r := parseReport(t, stdout.String()); r.Summary["failed"]+r.Summary["skipped"] == 0 {
		t.Errorf("the report shows no change left undone: %v", r.Summary)
	}
}

// The lock check before a write has its own deadline and retries, apart
// from the write's: one check that hangs once costs a retry, not the run.
func TestCloudStorageSlowLockCheckIsRetried(t *testing.T) {
	seed, csv := slowWorld(5)
	c := newCloudRun(t, seed, emulator.Options{}, csv, "limits: {concurrency: 1, call_timeout: 1s}\n")
	c.gcs.Inject(gcstest.Fault{Hang: true, Match: "prod/lock", Method: http.MethodGet, Times: 1})
	code, _, logs := c.run("apply")
	if code != exitOK || c.em.Stats().Writes != 5 {
		t.Errorf("exit %d, %d writes (want 0 and 5)\n%s", code, c.em.Stats().Writes, logs)
	}
}

func TestCloudStorageStateAcrossRunsThatShareNoDisk(t *testing.T) {
	seed, csv := slowWorld(10)
	for _, u := range seed.Users[1:] {
		seed.Spaces[0].Members = append(seed.Spaces[0].Members, emulator.SeedMember{User: u.Email})
	}
	c := newCloudRun(t, seed, emulator.Options{}, csv, "policy: sync\nsafety: {removal_grace: 2}\n")
	// Run 1 adopts the space (nothing to remove) and records the totals.
	if code, _, logs := c.run("apply"); code != exitOK || !strings.Contains(logs, "first run with policy sync") {
		t.Fatalf("run 1: exit %d\n%s", code, logs)
	}
	if !strings.Contains(c.object("removals.json"), `"totals"`) {
		t.Fatalf("no removals state in the bucket: %q", c.object("removals.json"))
	}
	// Run 2, on another machine: the export arrives cut in half. The
	// shrink rail remembers run 1.
	full := c.csv
	lines := strings.SplitAfter(full, "\n")
	c.csv = strings.Join(lines[:7], "")
	if code, out, logs := c.run("apply"); code != exitBlocked || !strings.Contains(out, "shrank from 11 to 6") || c.em.Stats().Writes != 0 {
		t.Fatalf("run 2: exit %d, %d writes\n%s\n%s", code, c.em.Stats().Writes, out, logs)
	}
	// Run 3: one person really left. Grace 2: pending first...
	c.csv = strings.Replace(full, "spaces/S,u9@example.com\n", "", 1)
	if code, out, _ := c.run("apply"); code != exitOK || !strings.Contains(out, "removal pending (1 of 2 runs)") || c.em.Stats().Writes != 0 {
		t.Fatalf("run 3: exit %d\n%s", code, out)
	}
	// ...then, a run later on yet another machine, removed.
	if code, out, _ := c.run("apply"); code != exitOK || c.em.Stats().Count("members.delete") != 1 {
		t.Fatalf("run 4: exit %d\n%s", code, out)
	}
}

// State that exists but can't be read fails the run before any write: it
// is never "no previous state", which would switch the rails off.
func TestCloudStorageUnreadableStateWritesNothing(t *testing.T) {
	seed, csv := slowWorld(3)
	c := newCloudRun(t, seed, emulator.Options{}, csv, "policy: sync\n")
	if code, _, logs := c.run("apply"); code != exitOK {
		t.Fatalf("first run: exit %d\n%s", code, logs)
	}
	c.csv += "spaces/S,u-late@example.com\n"
	seedWrites := c.em.Stats().Writes
	for _, status := range []int{403, 500} {
		c.gcs.Fail(status, "removals.json")
		code, _, logs := c.run("apply")
		if code != exitFailure || c.em.Stats().Writes != seedWrites || !strings.Contains(logs, "gs://syncer-state/prod/removals.json") || !strings.Contains(logs, "nothing was done") {
			t.Errorf("%d: exit %d, %d writes\n%s", status, code, c.em.Stats().Writes-seedWrites, logs)
		}
	}
	c.gcs.Fail(0, "")
}

// The identity cache follows the state: the second runner, with no disk
// of its own, asks the Directory nothing.
func TestCloudStorageIdentityCache(t *testing.T) {
	seed, csv := slowWorld(5)
	for _, u := range seed.Users[1:] {
		seed.Spaces[0].Members = append(seed.Spaces[0].Members, emulator.SeedMember{User: u.Email})
	}
	c := newCloudRun(t, seed, emulator.Options{HideEmails: true}, csv, "")
	if code, _, logs := c.run("plan"); code != exitOK {
		t.Fatalf("plan 1: exit %d\n%s", code, logs)
	}
	first := c.em.Stats().Count("directory.users.get") + c.em.Stats().Count("directory.users.list")
	if first == 0 || !strings.Contains(c.object("identity-cache.json"), "u3@example.com") {
		t.Fatalf("plan 1 made %d Directory calls, cache %q", first, c.object("identity-cache.json"))
	}
	if code, _, logs := c.run("plan"); code != exitOK {
		t.Fatalf("plan 2: exit %d\n%s", code, logs)
	}
	if n := c.em.Stats().Count("directory.users.get") + c.em.Stats().Count("directory.users.list"); n != first {
		t.Errorf("plan 2 asked the Directory %d more times", n-first)
	}
}

// Cloud Storage is reached as the service account itself, with the
// storage scope alone: the bucket knows nothing of the Workspace subject.
func TestStorageCredentialsAreNotDelegated(t *testing.T) {
	ts := authtest.Start(t)
	key, _ := ts.ServiceAccountKey(t, t.TempDir())
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "c.yaml"), []byte(fmt.Sprintf(
		"sources: [{path: a.csv}]\nauth: {mode: service-account, credentials_file: %q, subject: admin@example.com}\nstate: {location: \"gs://b-1/p\"}\n", key)))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := storageCredentials(context.Background(), cfg, authOptions(cfg, nil))
	if err != nil {
		t.Fatal(err)
	}
	bucket := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer bucket.Close()
	resp, err := creds.Client.Get(bucket.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	claims, _ := ts.Requests()
	if len(claims) != 1 || claims[0]["scope"] != auth.ScopeStorage || claims[0]["sub"] != nil {
		t.Errorf("token requests %v: want one, scope %s, no sub", claims, auth.ScopeStorage)
	}
	// mode none has no credentials: refused, unless an emulator is named.
	none, _ := config.Parse(filepath.Join(t.TempDir(), "c.yaml"), []byte("sources: [{path: a.csv}]\napi: {endpoint: \"http://127.0.0.1:1/\"}\nstate: {location: \"gs://b-1/p\"}\n"))
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	if err := checkOffline(none, membership.Desired{}, true); err == nil || !strings.Contains(err.Error(), "STORAGE_EMULATOR_HOST") {
		t.Errorf("mode none with gs:// state: %v", err)
	}
}
