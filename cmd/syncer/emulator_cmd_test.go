package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startEmulator runs `syncer emulator` with args and returns its URL.
func startEmulator(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"emulator", "--listen", "127.0.0.1:0"}, args...)...)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := regexp.MustCompile(`listening on (\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				return
			}
		}
	}()
	select {
	case url := <-found:
		return url
	case <-time.After(120 * time.Second):
		t.Fatal("the emulator did not start")
	}
	return ""
}

func TestEmulatorSeededConvergedPlansNothing(t *testing.T) {
	binary(t) // built from this folder, before moving
	t.Chdir("../..")
	url := startEmulator(t, "--seed-converged", "testdata/members.yaml", "--seed-converged", "testdata/hr.csv")
	// The demo's files, copied: the run's state (identity cache, lock) goes
	// beside the config, and two suites run in one checkout must not share
	// testdata/syncer-state.
	dir := t.TempDir()
	for _, name := range []string{"config.yaml", "members.yaml", "hr.csv"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := runCLI(t, "plan", "--config", filepath.Join(dir, "config.yaml"), "--endpoint", url, "--detailed-exitcode")
	if code != exitOK || !strings.Contains(out, "Plan: 0 to add, 0 to change, 0 to remove.") {
		t.Errorf("exit %d\n%s\n%s", code, out, logText(errOut))
	}
}

// The quota modes from the command line: token buckets with another app
// using 30% of each project quota, whose calls the stats count.
func TestEmulatorQuotaModes(t *testing.T) {
	url := startEmulator(t, "--seed", "../../testdata/seed.yaml", "--quota-bucket", "--quota-burst", "5", "--other-app", "0.3")
	time.Sleep(200 * time.Millisecond) // 30% of 3,000 reads a minute alone: 3 calls in 200 ms
	resp, err := http.Get(url + "emulator/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		OtherAppCalls int `json:"other_app_calls"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.OtherAppCalls == 0 {
		t.Errorf("stats: other app calls %d (%v), want some", st.OtherAppCalls, err)
	}
	for _, bad := range [][]string{{"--other-app", "1"}, {"--other-app", "-0.1"}, {"--quota-bucket", "--quota-burst", "0"}} {
		if code, _, stderr := runCLI(t, append([]string{"emulator", "--listen", "127.0.0.1:0"}, bad...)...); code != exitInvalid {
			t.Errorf("%v: exit %d, want %d (%s)", bad, code, exitInvalid, stderr)
		}
	}
}
