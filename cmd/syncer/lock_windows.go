//go:build windows

package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// lockFile opens path, refusing a symlink, and locks it (LockFileEx). The
// byte locked lies far past the file's text, so the holder's note stays
// readable to whoever finds it held.
func lockFile(path string) (*os.File, error) {
	if st, err := os.Lstat(path); err == nil && st.Mode()&os.ModeSymlink != 0 {
		return nil, fmt.Errorf("lock %s is a symlink; refusing to follow it (remove it, or set --lock-file)", path)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("can't create the lock file %s: %w", path, unwrapPathError(err))
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("lock %s is not a regular file; refusing to use it", path)
	}
	far := &windows.Overlapped{OffsetHigh: 0x7fffffff}
	err = windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, far)
	switch {
	case errors.Is(err, windows.ERROR_LOCK_VIOLATION), errors.Is(err, windows.ERROR_IO_PENDING):
		err = heldError(path, f)
		f.Close()
		return nil, err
	case err != nil:
		f.Close()
		return nil, fmt.Errorf("can't lock %s: %w", path, err)
	}
	return f, nil
}

// releaseLockFile gives the lock back, then removes an owned lock file if
// it is still the one locked. Windows refuses to remove a file another
// process has open, so a run that took it meanwhile keeps it.
func releaseLockFile(path string, f *os.File, owned bool) {
	st, statErr := f.Stat()
	f.Close()
	if now, err := os.Lstat(path); owned && statErr == nil && err == nil && os.SameFile(st, now) {
		os.Remove(path)
	}
}

// lockFolderName is the lock folder under the temp folder, which Windows
// keeps per user.
func lockFolderName() string { return "syncer" }

// sharedDirProblem: the per-user temp folder's access list is the user's.
func sharedDirProblem(os.FileInfo) string { return "" }
