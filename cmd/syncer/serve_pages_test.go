package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
	"github.com/syncer-dev/syncer/internal/state/gcstest"
)

// hostileLabel would run if a page took it for markup.
const hostileLabel = `<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">Eng`

// pagesWorld is a config whose source names two spaces, one with a
// hostile label, and whose state is in a folder or in Cloud Storage
// (fake-gcs-server). members rewrites the source with the first n people.
type pagesWorld struct {
	t   *testing.T
	cfg string
	em  *emulator.Server
}

func newPagesWorld(t *testing.T, inCloud bool) *pagesWorld {
	t.Helper()
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S1", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}, {Name: "spaces/S2"}}}
	for i := 0; i < 16; i++ {
		seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(100 + i), Email: fmt.Sprintf("u%d@example.com", i)})
	}
	em, url := emulatortest.Start(t, seed, emulator.Options{})
	dir := t.TempDir()
	location := "state"
	if inCloud {
		fake := gcstest.Start(t, "syncer-state")
		t.Setenv("STORAGE_EMULATOR_HOST", fake.Host)
		location = "gs://syncer-state/prod"
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: members.yaml}]\napi: {endpoint: %q}\nstate: {location: %q}\nschedule: \"@daily\"\n", url, location)), 0o644); err != nil {
		t.Fatal(err)
	}
	w := &pagesWorld{t: t, cfg: cfg, em: em}
	w.members(3)
	return w
}

func (w *pagesWorld) members(n int) {
	var b strings.Builder
	fmt.Fprintf(&b, "spaces:\n  - space: spaces/S1\n    label: %q\n    members:\n", hostileLabel)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "      - u%d@example.com\n", i)
	}
	fmt.Fprintf(&b, "  - space: spaces/S2\n    label: Sales\n    members:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "      - {user: u%d@example.com, role: manager}\n", i+6)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(w.cfg), "members.yaml"), []byte(b.String()), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// served is a serve running in this process.
type served struct {
	base           string
	stdout, stderr *lockedBuffer
	stop           func() int
}

func startServe(t *testing.T, cfg string, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--config", cfg, "--listen", "127.0.0.1:0"}, args...), s.stdout, s.stderr)
	}()
	s.stop = func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop within 30 s")
			return -1
		}
	}
	for deadline := time.Now().Add(10 * time.Second); s.base == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := regexp.MustCompile(`serving on (http://\S+)/`).FindStringSubmatch(s.stdout.String()); m != nil {
			s.base = m[1]
		}
	}
	if s.base == "" {
		s.stop()
		t.Fatalf("serve did not start:\n%s%s", s.stdout, logText(s.stderr.String()))
	}
	return s
}

// runIDs are the runs /runs lists, newest first.
func runIDs(t *testing.T, base string) []string {
	t.Helper()
	code, body := get(t, base+"/runs")
	if code != 200 {
		t.Fatalf("/runs %d:\n%s", code, body)
	}
	var ids []string
	for _, m := range regexp.MustCompile(`href="/runs/([0-9a-f]+)"`).FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// runs starts serve once for each size, each making one run at start-up
// with the source of that many people, and returns the runs, newest first.
func (w *pagesWorld) runs(t *testing.T, sizes ...int) []string {
	t.Helper()
	var ids []string
	for i, n := range sizes {
		w.members(n)
		s := startServe(t, w.cfg, "--run-on-start")
		for deadline := time.Now().Add(20 * time.Second); len(ids) <= i && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			ids = runIDs(t, s.base)
		}
		if code := s.stop(); code != exitOK || len(ids) != i+1 {
			t.Fatalf("serve %d: exit %d, %d runs listed:\n%s", i+1, code, len(ids), logText(s.stderr.String()))
		}
	}
	return ids
}

func TestServePagesAndHistory(t *testing.T) {
	for _, inCloud := range []bool{false, true} {
		t.Run(map[bool]string{false: "folder", true: "gs"}[inCloud], func(t *testing.T) {
			w := newPagesWorld(t, inCloud)
			ids := w.runs(t, 3, 5, 5)

			// A restart with no run: the history and the last run's page
			// come from the state location.
			s := startServe(t, w.cfg)
			defer s.stop()
			if after := runIDs(t, s.base); strings.Join(after, " ") != strings.Join(ids, " ") {
				t.Errorf("after a restart /runs lists %v, want %v", after, ids)
			}
			_, runs := get(t, s.base+"/runs")
			for _, want := range []string{`<g class="run result-success">`, "<td>6</td><td>3</td><td>0</td>", "<td>4</td><td>2</td><td>0</td>", "<td>0</td><td>0</td><td>0</td>"} {
				if !strings.Contains(runs, want) {
					t.Errorf("/runs lacks %q", want)
				}
			}
			if n := strings.Count(runs, `<g class="run `); n != 3 {
				t.Errorf("the chart has %d runs, want 3", n)
			}
			// /report before / : the JSON of the same run.
			if code, body := get(t, s.base+"/report"); code != 200 || !strings.Contains(body, `"summary"`) {
				t.Errorf("/report after a restart: %d\n%.500s", code, body)
			}
			code, last := get(t, s.base+"/")
			if code != 200 || !strings.Contains(last, "<code>"+ids[0]+"</code>") || !strings.Contains(last, "Chat membership sync") {
				t.Errorf("/ is not the last run's page (%s): %d\n%.2000s", ids[0], code, last)
			}
			for _, id := range ids {
				code, page := get(t, s.base+"/runs/"+id)
				if code != 200 || !strings.Contains(page, "<code>"+id+"</code>") {
					t.Errorf("/runs/%s: %d", id, code)
				}
				if strings.Contains(page, "<script>window") || !strings.Contains(page, "&lt;script&gt;window.__pwned") {
					t.Errorf("/runs/%s shows the label as markup", id)
				}
			}
			_, first := get(t, s.base+"/runs/"+ids[2])
			if !strings.Contains(first, "membership writes") || !strings.Contains(first, "300 a minute") || !strings.Contains(first, "<code>syncer apply</code>") {
				t.Errorf("the first run's page lacks its calls against the quota")
			}
			if code, _ := get(t, s.base+"/runs/0123456789ab"); code != 404 {
				t.Errorf("an unknown run: %d", code)
			}
			resp, err := httpGet(s.base + "/runs")
			if err != nil {
				t.Fatal(err)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Errorf("page headers: %v", resp.Header)
			}
		})
	}
}

func TestServeHistoryFlag(t *testing.T) {
	w := newPagesWorld(t, false)
	if code, _, errOut := runCLI(t, "serve", "--config", w.cfg, "--history", "5000"); code != exitInvalid || !strings.Contains(logText(errOut), "--history 5000") {
		t.Errorf("--history 5000: exit %d %s", code, errOut)
	}
	s := startServe(t, w.cfg, "--history", "0", "--run-on-start")
	defer s.stop()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if code, _ := get(t, s.base+"/report"); code == 200 {
			break
		}
	}
	if code, body := get(t, s.base+"/"); code != 200 || !strings.Contains(body, "Chat membership sync") {
		t.Errorf("/ with no history: %d", code)
	}
	if code, body := get(t, s.base+"/runs"); code != 200 || !strings.Contains(body, "none are kept: serve runs with <code>--history 0</code>") || strings.Contains(body, "could not be read") {
		t.Errorf("/runs with no history: %d %s", code, body)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(w.cfg), "state", "runs.json")); !os.IsNotExist(err) {
		t.Errorf("--history 0 wrote a history: %v", err)
	}
}

// httpGet is a GET whose headers are all the caller wants.
func httpGet(url string) (*http.Response, error) {
	resp, err := http.Get(url)
	if err == nil {
		resp.Body.Close()
	}
	return resp, err
}

// /report is the last run's report: after a run that made none (a broken
// config edit), it says so, rather than serving an earlier run's report
// that reads as the last one (complete, applied).
func TestServeReportIsTheLastRunsOrNone(t *testing.T) {
	w := newPagesWorld(t, false)
	data, _ := os.ReadFile(w.cfg)
	every := strings.Replace(string(data), `"@daily"`, `"* * * * * *"`, 1)
	os.WriteFile(w.cfg, []byte(every), 0o644)
	s := startServe(t, w.cfg, "--run-on-start")
	defer s.stop()
	code := 0
	for deadline := time.Now().Add(20 * time.Second); code != 200 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		code, _ = get(t, s.base+"/report")
	}
	if code != 200 {
		t.Fatalf("/report %d after the first run", code)
	}
	os.WriteFile(w.cfg, []byte(every+"policy: mirror\n"), 0o644)
	var body string
	for deadline := time.Now().Add(20 * time.Second); code == 200 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		code, body = get(t, s.base+"/report")
	}
	if code == 200 || !strings.Contains(body, "invalid") || !strings.Contains(body, "mirror") {
		t.Errorf("/report after a run that made no report: %d\n%.300s", code, body)
	}
}

// After a restart, /report is the last run's, as before it: a last run
// that made no report (a broken source) is a 404 saying why, not an
// earlier run's report taken for the last one.
func TestServeReportAfterARestartIsTheLastRuns(t *testing.T) {
	w := newPagesWorld(t, false)
	w.runs(t, 3)
	os.WriteFile(filepath.Join(filepath.Dir(w.cfg), "members.yaml"), []byte("spaces: [\n"), 0o644)
	s := startServe(t, w.cfg, "--run-on-start")
	var code int
	var live, runs string
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(runs, "invalid YAML") && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		code, live = get(t, s.base+"/report")
		_, runs = get(t, s.base+"/runs")
	}
	s.stop()
	m := regexp.MustCompile(`the last run \(([0-9a-f]+), invalid\)`).FindStringSubmatch(live)
	if code != 404 || m == nil || !strings.Contains(runs, "invalid YAML") {
		t.Fatalf("the broken run: /report %d\n%.300s", code, live)
	}
	ids := []string{m[1]}

	s = startServe(t, w.cfg)
	defer s.stop()
	if code, body := get(t, s.base+"/report"); code != 404 || !strings.Contains(body, ids[0]) {
		t.Errorf("/report after a restart whose last run (%s) made no report: %d\n%.300s", ids[0], code, body)
	}
	if code, page := get(t, s.base+"/"); code != 200 || !strings.Contains(page, "invalid YAML") {
		t.Errorf("/ after a restart does not show the last run %s: %d\n%s", ids[0], code, page)
	}
}
