package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestMain keeps the tests' leftovers out of the machine's folders: every
// default lock goes in a private folder of the test run's (never the
// user's own runtime folder), and that folder and the binary built for
// process tests are removed at the end.
func TestMain(m *testing.M) {
	runtime, err := os.MkdirTemp("", "syncer-test-runtime")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_RUNTIME_DIR", runtime)
	code := m.Run()
	os.RemoveAll(runtime)
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
