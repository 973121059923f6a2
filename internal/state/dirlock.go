package state

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// writeLockName is the file a folder's writers lock while they check a
// document's version and replace it: two processes sharing a state folder
// (two configs, two serves) then never both pass the check and lose one's
// write. Its name starts with a dot: no document can be called that.
const writeLockName = ".write-lock"

// WriteLockName is the write lock's file in a local state folder: no other
// lock (an apply's --lock-file) may be it, or every write waits for it.
const WriteLockName = writeLockName

// lockWait bounds the wait for the write lock when the context has no
// deadline: writers hold it for one file's write.
const lockWait = 30 * time.Second

// lockFolder takes the folder's write lock, waiting while another process
// holds it, and returns its release.
func lockFolder(ctx context.Context, dir string) (func(), error) {
	path := filepath.Join(dir, writeLockName)
	f, err := openLockFile(path)
	if err != nil {
		return nil, fmt.Errorf("state folder %s: the write lock %s: %w", dir, path, err)
	}
	give := time.Now().Add(lockWait)
	if d, ok := ctx.Deadline(); ok && d.Before(give) {
		give = d
	}
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		ok, err := tryLock(f)
		switch {
		case err != nil:
			f.Close()
			return nil, fmt.Errorf("state folder %s: the write lock %s: %w", dir, path, err)
		case ok:
			return func() { f.Close() }, nil // closing gives the lock back
		case time.Now().After(give):
			f.Close()
			return nil, fmt.Errorf("state folder %s: another process has held the write lock %s for %v", dir, path, lockWait)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("state folder %s: waiting for the write lock: %w", dir, context.Cause(ctx))
		case <-time.After(wait):
		}
	}
}

// openLockFile opens (creating) the lock file, refusing anything but a
// regular file.
func openLockFile(path string) (*os.File, error) {
	if st, err := os.Lstat(path); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file; refusing to use it")
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|openNoFollow, 0o600)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("not a regular file; refusing to use it")
	}
	return f, nil
}
