//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// flock is syscall.Flock (a test makes it fail).
var flock = syscall.Flock

// lockFile opens path without following a symlink and locks it (flock).
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("lock %s is a symlink; refusing to follow it (remove it, or set --lock-file)", path)
		}
		return nil, fmt.Errorf("can't create the lock file %s: %w", path, unwrapPathError(err))
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("lock %s is not a regular file; refusing to use it", path)
	}
	if err := flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			err = heldError(path, f)
		} else {
			// Not held: the file system can't lock (NFS without its
			// lock service, ENOLCK), which no retry mends.
			err = fmt.Errorf("can't lock %s: %w", path, err)
		}
		f.Close()
		return nil, err
	}
	return f, nil
}

// releaseLockFile removes an owned lock file while still holding it (a run
// that opened it meanwhile finds it replaced and takes it again), then
// gives the lock back.
func releaseLockFile(path string, f *os.File, owned bool) {
	if now, err := os.Lstat(path); owned && err == nil && sameFile(f, now) {
		os.Remove(path)
	}
	f.Close()
}

// lockFolderName is this user's lock folder under the shared temp folder.
func lockFolderName() string { return fmt.Sprintf("syncer-%d", os.Getuid()) }

// sharedDirProblem says why another user could plant files in a folder.
func sharedDirProblem(st os.FileInfo) string {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Getuid() {
		return "belongs to another user"
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Sprintf("can be written by others (mode %#o)", st.Mode().Perm())
	}
	return ""
}
