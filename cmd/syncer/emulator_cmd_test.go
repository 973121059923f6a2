package main

import (
	"bufio"
	"os/exec"
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
	code, out, errOut := runCLI(t, "plan", "--config", "testdata/config.yaml", "--endpoint", url, "--detailed-exitcode")
	if code != exitOK || !strings.Contains(out, "Plan: 0 to add, 0 to change, 0 to remove.") {
		t.Errorf("exit %d\n%s\n%s", code, out, logText(errOut))
	}
}
