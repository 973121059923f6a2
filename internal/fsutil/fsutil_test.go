//go:build unix

// Named pipes and /dev/zero are what this package guards against, and they
// exist only on Unix.

package fsutil

import (
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadFile(t *testing.T) {
	tests := []struct {
		name    string
		limit   int64
		setup   func(t *testing.T, dir string) string // returns the path to read
		want    string                                // content, when no error
		wantErr error
		wantMsg string
	}{
		{
			name:  "regular",
			limit: 10,
			setup: func(t *testing.T, dir string) string { return writeFile(t, dir, "a.csv", "space,m\n") },
			want:  "space,m\n",
		},
		{
			name:  "exactly the limit",
			limit: 4,
			setup: func(t *testing.T, dir string) string { return writeFile(t, dir, "a.csv", "abcd") },
			want:  "abcd",
		},
		{
			name:  "symlink to a regular file",
			limit: 10,
			setup: func(t *testing.T, dir string) string {
				return symlink(t, writeFile(t, dir, "a.csv", "x"), filepath.Join(dir, "link.csv"))
			},
			want: "x",
		},
		{
			name:  "named pipe",
			limit: 10,
			setup: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "fifo.csv")
				if err := syscall.Mkfifo(p, 0o600); err != nil {
					t.Skipf("mkfifo: %v", err)
				}
				return p
			},
			wantErr: ErrNotRegular,
			wantMsg: "not a regular file (a named pipe)",
		},
		{
			name:  "symlink to /dev/zero",
			limit: 10,
			setup: func(t *testing.T, dir string) string {
				return symlink(t, "/dev/zero", filepath.Join(dir, "zero.csv"))
			},
			wantErr: ErrNotRegular,
			wantMsg: "not a regular file (a device)",
		},
		{
			name:    "directory",
			limit:   10,
			setup:   func(t *testing.T, dir string) string { return dir },
			wantErr: ErrNotRegular,
			wantMsg: "not a regular file (a directory)",
		},
		{
			name:    "too big",
			limit:   1 << 20,
			setup:   func(t *testing.T, dir string) string { return writeFile(t, dir, "a.csv", strings.Repeat("x", 3<<19)) },
			wantErr: ErrTooLarge,
			wantMsg: "file too large: 1.5 MiB, over the 1 MiB limit",
		},
		{
			name:    "just over the limit",
			limit:   1 << 20,
			setup:   func(t *testing.T, dir string) string { return sparseFile(t, dir, 1<<20+1) },
			wantErr: ErrTooLarge,
			wantMsg: "file too large: 1.1 MiB, over the 1 MiB limit",
		},
		{
			// /proc files report a size of 0: only the limited read catches them.
			name:  "size that lies",
			limit: 10,
			setup: func(t *testing.T, dir string) string {
				if _, err := os.Stat("/proc/self/status"); err != nil {
					t.Skip("no /proc")
				}
				return "/proc/self/status"
			},
			wantErr: ErrTooLarge,
			wantMsg: "file too large: over the 10 bytes limit",
		},
		{
			name:    "missing",
			limit:   10,
			setup:   func(t *testing.T, dir string) string { return filepath.Join(dir, "nope.csv") },
			wantErr: fs.ErrNotExist,
			wantMsg: "no such file or directory",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.setup(t, t.TempDir())
			got, err := readWithin(t, path, tt.limit)
			// SHA256File refuses what ReadFile refuses, and hashes what it reads.
			sum, sumErr := SHA256File(path, tt.limit)
			if tt.wantErr == nil {
				if err != nil || string(got) != tt.want {
					t.Fatalf("ReadFile = %q, %v; want %q", got, err, tt.want)
				}
				if sumErr != nil || sum != sha256.Sum256([]byte(tt.want)) {
					t.Fatalf("SHA256File = %x, %v; want the SHA-256 of %q", sum, sumErr, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || err.Error() != tt.wantMsg {
				t.Fatalf("ReadFile error = %v; want %q (%v)", err, tt.wantMsg, tt.wantErr)
			}
			if !errors.Is(sumErr, tt.wantErr) || sumErr.Error() != tt.wantMsg {
				t.Fatalf("SHA256File error = %v; want %q (%v)", sumErr, tt.wantMsg, tt.wantErr)
			}
		})
	}
}

// readWithin fails the test instead of hanging if ReadFile blocks, as it
// would on a pipe opened without O_NONBLOCK.
func readWithin(t *testing.T, path string, limit int64) ([]byte, error) {
	t.Helper()
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := ReadFile(path, limit)
		done <- result{data, err}
	}()
	select {
	case r := <-done:
		return r.data, r.err
	case <-time.After(5 * time.Second):
		t.Fatalf("ReadFile(%s) still blocked after 5s", path)
		return nil, nil
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func symlink(t *testing.T, target, link string) string {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	return link
}

func sparseFile(t *testing.T, dir string, size int64) string {
	t.Helper()
	p := writeFile(t, dir, "big.csv", "")
	if err := os.Truncate(p, size); err != nil {
		t.Fatal(err)
	}
	return p
}
