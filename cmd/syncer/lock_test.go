package main

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
)

func TestApplyLeavesNoLockFile(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	_, cfg := setup(t, 2, emulator.Options{}, "")
	path, err := defaultLockPath(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "apply", "--config", cfg); code != exitOK {
		t.Fatalf("exit %d\n%s", code, logText(errOut))
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lock file is still there after the run: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 0 {
		t.Errorf("the lock folder holds %d files after the run", len(entries))
	}
	// A lock the user names is theirs: it stays.
	named := filepath.Join(t.TempDir(), "mine.lock")
	if code, _, errOut := runCLI(t, "apply", "--config", cfg, "--lock-file", named); code != exitOK {
		t.Fatalf("exit %d\n%s", code, logText(errOut))
	}
	if _, err := os.Stat(named); err != nil {
		t.Errorf("--lock-file was removed: %v", err)
	}
}

// A run that opened the lock file just before its holder removed it, and
// locked it just after, holds a lock on a file nobody else will open: it
// must take the lock again on the file the path names now.
func TestALockOnARemovedFileIsTakenAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	calls := 0
	unlock, err := takeLock(path, true, func(p string) (*os.File, error) {
		f, err := lockFile(p)
		if calls++; calls == 1 && err == nil {
			// Meanwhile the holder removes it and a third run makes a new one.
			os.Remove(p)
			os.WriteFile(p, nil, 0o600)
		}
		return f, err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if calls != 2 {
		t.Errorf("the lock was taken %d times; want a second take on the new file", calls)
	}
	if _, err := lockFile(path); !errors.Is(err, errLockHeld) {
		t.Errorf("the file the path names is not locked: %v", err)
	}
}

// Removing the lock file on release must not let two runs hold the lock:
// one that opened the file just before it was removed must not keep a lock
// on the removed file while another locks a new one.
func TestLockExcludesWhileFilesComeAndGo(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cfg, nil, 0o600)
	var holders, most, taken atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				unlock, err := acquireLock("", cfg)
				if errors.Is(err, errLockHeld) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				n := holders.Add(1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				taken.Add(1)
				holders.Add(-1)
				unlock()
			}
		}()
	}
	wg.Wait()
	if most.Load() != 1 || taken.Load() == 0 {
		t.Errorf("at most %d held the lock at once (%d takes)", most.Load(), taken.Load())
	}
}
