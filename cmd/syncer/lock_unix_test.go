//go:build unix

package main

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A file system that can't lock (NFS without its lock service: ENOLCK) is
// no run holding the lock: exit 1 naming the cause, not exit 5 blaming a
// run that doesn't exist.
func TestALockTheFileSystemCantTakeIsNoHeldLock(t *testing.T) {
	defer func(f func(int, int) error) { flock = f }(flock)
	flock = func(int, int) error { return syscall.ENOLCK }
	_, err := lockFile(filepath.Join(t.TempDir(), "x.lock"))
	if err == nil || errors.Is(err, errLockHeld) || !strings.Contains(err.Error(), syscall.ENOLCK.Error()) {
		t.Errorf("flock answered ENOLCK: %v; want a failure naming it, not a held lock", err)
	}
}
