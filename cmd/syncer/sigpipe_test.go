package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
)

// A reader of the report that goes away (syncer apply | head, a log
// shipper that dies) does not kill an apply midway: Go ends a process
// writing to a broken pipe on stdout or stderr with SIGPIPE, which stopped
// the run as kill -9 does (no report, no lock released, a gs:// lock held
// until its lease ends). The writes go on; the report not written is a
// failure (exit 1).
func TestApplyOutlivesAClosedStdout(t *testing.T) {
	em, cfg := manySpaces(t, 20, emulator.Options{}, "report: {output: text}\n")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // nobody reads the report
	cmd := exec.Command(binary(t), "apply", "--config", cfg)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	err = cmd.Run()
	w.Close()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitFailure {
		t.Fatalf("apply with its stdout closed: %v; want exit 1\n%s", err, logText(stderr.String()))
	}
	if got := em.Stats().Writes; got != 20 {
		t.Errorf("%d writes of 20 were made", got)
	}
	if !strings.Contains(stderr.String(), "broken pipe") {
		t.Errorf("the log does not say the report could not be written\n%s", logText(stderr.String()))
	}
}
