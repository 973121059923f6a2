//go:build unix

package source

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A source that is a pipe or a device must be refused, promptly, with the
// file named once.
func TestLoadRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.csv")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	zero := filepath.Join(dir, "zero.csv")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Load([]Spec{{Path: fifo}, {Path: zero}, {Path: dir, Format: "csv"}})
		done <- err
	}()
	select {
	case err := <-done:
		want := fifo + ": can't read source: not a regular file (a named pipe)\n" +
			zero + ": can't read source: not a regular file (a device)\n" +
			dir + ": can't read source: not a regular file (a directory)"
		if err == nil || err.Error() != want {
			t.Errorf("err =\n%v\nwant\n%s", err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Load still blocked after 5s")
	}
}
