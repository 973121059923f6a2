//go:build unix

package state

import (
	"os"
	"path/filepath"
	"testing"
)

// A state folder anyone can write is refused, sticky bit or not: the
// sticky bit (as on /tmp) stops others deleting our files, not planting
// theirs (an identity cache mapping a wanted address to another ID).
func TestCheckDirRefusesFoldersAnyoneCanWrite(t *testing.T) {
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o700, true}, {0o755, true}, {0o777, false}, {0o777 | os.ModeSticky, false}} {
		dir := filepath.Join(t.TempDir(), "state")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, tc.mode); err != nil {
			t.Fatal(err)
		}
		if err := CheckDir(dir); (err == nil) != tc.ok {
			t.Errorf("mode %v: CheckDir says %v; want ok %v", tc.mode, err, tc.ok)
		}
	}
}
