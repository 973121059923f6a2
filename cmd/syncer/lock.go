package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/syncer-dev/syncer/internal/config"
)

// errLockHeld means another run holds the lock: exit 5. Any other lock
// error (the file can't be created or opened safely) is exit 1.
var errLockHeld = errors.New("lock held")

// acquireLock takes an exclusive, non-blocking file lock so a second apply
// on this host refuses to start. The kernel drops the lock if the process
// dies, so a killed run never leaves a stale lock behind. The file is opened
// without following symlinks, in a folder only this user can write, and is
// keyed by the config's resolved path, so the same config reached through a
// symlinked folder takes the same lock.
//
// A lock file in the default folder is removed when the lock is given back,
// so runs leave nothing behind. Removing a lock file races with a run that
// opened it just before: that run could lock the removed file while a third
// creates a new one. So a lock counts only if the path still names the file
// that was locked; otherwise it is taken again on the new file.
func acquireLock(path, configPath string) (func(), error) {
	owned := path == ""
	if owned {
		var err error
		if path, err = defaultLockPath(configPath); err != nil {
			return nil, err
		}
	}
	return takeLock(path, owned, lockFile)
}

// stateLockName is the run lock in a local state folder.
const stateLockName = "apply.lock"

// acquireStateLock also locks the config's local state folder: the host
// lock's folder depends on the session ($XDG_RUNTIME_DIR is set in a
// login, not under cron; systemd gives a unit a /tmp of its own), and two
// runs that share the rails' state must never write at once, however
// they were started. Nothing to lock for a state in Cloud Storage (its
// lock object spans hosts) or a config that doesn't load (the run stops
// on it before any call); nor where the state folder can't be made or
// written, or is not private: the run says so where it would keep its
// state (a sync run stops before any write), and the host lock holds.
func acquireStateLock(configPath, hostLock string) (func(), error) {
	cfg, err := config.Load(configPath)
	if err != nil {
		return func() {}, nil
	}
	return lockStateFolder(cfg, hostLock)
}

// lockStateFolder is acquireStateLock for a config already loaded. The
// folder may be shared by several configs, so a held lock says so.
// hostLock is the --lock-file this run holds already (or ""): when it is
// the folder's lock itself, that lock is taken.
func lockStateFolder(cfg *config.Config, hostLock string) (func(), error) {
	none := func() {}
	if cfg.State.InCloudStorage() {
		return none, nil
	}
	dir := cfg.State.Location
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return none, nil
	}
	// The folder may be a link to one (the state code follows it too);
	// the folder it names must be a private one.
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return none, nil
	}
	if problem := sharedDirProblem(st); problem != "" {
		// Root running by hand in the syncer user's folder, say: the
		// host lock holds, but runs started elsewhere are not kept out.
		return none, &lockSkipped{fmt.Sprintf("state folder %s %s: its run lock is not taken, so a run started elsewhere (cron, a unit) is not kept out; run as the folder's user", dir, problem)}
	}
	path := filepath.Join(dir, stateLockName)
	if hostLock != "" {
		held, err1 := os.Lstat(hostLock)
		here, err2 := os.Lstat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, here) {
			return none, nil // --lock-file names it: taken already, by this run
		}
	}
	unlock, err := takeLock(path, true, lockFile)
	if err != nil && (errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)) {
		return none, nil
	}
	if errors.Is(err, errLockHeld) {
		// Every config whose state.location is this folder shares it:
		// the holder may run another config.
		err = fmt.Errorf("%w: %s", errLockHeld, strings.Replace(strings.TrimPrefix(err.Error(), errLockHeld.Error()+": "),
			"another syncer run for this config", "another syncer run keeping its state in "+dir+" (this config or another)", 1))
	}
	return unlock, err
}

// lockSkipped is a state folder's lock not taken, with why: the run goes
// on under its host lock, and says so.
type lockSkipped struct{ why string }

func (e *lockSkipped) Error() string { return e.why }

// acquireLocks takes the host lock, then the state folder's. A
// *lockSkipped error comes with a working unlock: say it, and go on.
func acquireLocks(path, configPath string) (func(), error) {
	unlock, err := acquireLock(path, configPath)
	if err != nil {
		return nil, err
	}
	unlockState, err := acquireStateLock(configPath, path)
	var skipped *lockSkipped
	if err != nil && !errors.As(err, &skipped) {
		unlock()
		return nil, err
	}
	return func() { unlockState(); unlock() }, err
}

// takeLock locks path with lock, until the locked file is the one path
// names; owned lock files are removed on release.
func takeLock(path string, owned bool, lock func(string) (*os.File, error)) (func(), error) {
	for attempt := 0; ; attempt++ {
		f, err := lock(path)
		if err != nil {
			return nil, err
		}
		if now, err := os.Lstat(path); err != nil || !sameFile(f, now) {
			f.Close() // removed or replaced since it was opened: lock the one there now
			if attempt < 10 {
				continue
			}
			return nil, fmt.Errorf("lock %s keeps being replaced while it is taken; is another program removing it?", path)
		}
		f.Truncate(0)
		host, _ := os.Hostname()
		fmt.Fprintf(f, "pid %d on %s since %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
		return func() { releaseLockFile(path, f, owned) }, nil
	}
}

func sameFile(f *os.File, other os.FileInfo) bool {
	st, err := f.Stat()
	return err == nil && os.SameFile(st, other)
}

// defaultLockPath is one lock per config, named by its resolved path.
func defaultLockPath(configPath string) (string, error) {
	dir, err := lockDir()
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(configPath)
	if err != nil {
		return "", fmt.Errorf("lock: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(dir, "syncer-"+hex.EncodeToString(sum[:8])+".lock"), nil
}

// lockDir is $XDG_RUNTIME_DIR when it is set and private, else a folder of
// this user's under the temp folder, created 0700. A folder another user
// could write to (and so plant links in) is refused.
func lockDir() (string, error) {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		if err := checkPrivateDir(d); err == nil {
			return d, nil
		}
	}
	d := filepath.Join(os.TempDir(), lockFolderName())
	if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("can't create the lock folder %s: %w", d, unwrapPathError(err))
	}
	if err := checkPrivateDir(d); err != nil {
		return "", err
	}
	return d, nil
}

func checkPrivateDir(d string) error {
	st, err := os.Lstat(d)
	if err != nil {
		return fmt.Errorf("lock folder %s: %w", d, unwrapPathError(err))
	}
	if !st.IsDir() {
		return fmt.Errorf("lock folder %s is not a folder (a symlink?); remove it or set --lock-file", d)
	}
	if problem := sharedDirProblem(st); problem != "" {
		return fmt.Errorf("lock folder %s %s; remove it or set --lock-file", d, problem)
	}
	return nil
}

// heldError says who holds a lock, from what they wrote in it.
func heldError(path string, f *os.File) error {
	owner := make([]byte, 200)
	n, _ := f.ReadAt(owner, 0)
	return fmt.Errorf("%w: another syncer run for this config holds %s (%s); not starting a second one",
		errLockHeld, path, strings.TrimSpace(string(owner[:n])))
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
