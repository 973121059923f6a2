// Package fsutil reads input files defensively. A batch job is handed paths
// it does not control, so it must never hang on a named pipe, read a device
// forever or load a runaway file whole. Errors never name the path: callers
// already prefix the file name to every message.
package fsutil

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"syscall"
)

// ErrNotRegular is returned, wrapped, for directories, pipes, devices and
// sockets.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is returned, wrapped, for files over the caller's limit.
var ErrTooLarge = errors.New("file too large")

// ReadFile reads the regular file at path, following symlinks, and refuses
// anything else or anything longer than limit bytes.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, size, err := openRegular(path, limit)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAtMost(f, size, limit)
}

// SHA256File is the SHA-256 of the regular file at path, refused as
// ReadFile refuses, read a piece at a time: a state folder's writer checks
// the version of a document of tens of megabytes (an identity cache) while
// it holds the new one in memory, and must not hold the old one too.
func SHA256File(path string, limit int64) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, _, err := openRegular(path, limit)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, limit+1))
	if err != nil {
		return sum, withoutPath(err)
	}
	if n > limit {
		return sum, fmt.Errorf("%w: over the %s limit", ErrTooLarge, size(limit))
	}
	h.Sum(sum[:0])
	return sum, nil
}

// openRegular opens the regular file at path, following symlinks, and
// refuses anything else or anything longer than limit bytes; it returns
// the size the file claims.
func openRegular(path string, limit int64) (*os.File, int64, error) {
	// Stat first so a socket or pipe gets a clear error rather than
	// whatever open makes of it.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, 0, withoutPath(err)
	}
	if err := checkRegular(fi); err != nil {
		return nil, 0, err
	}
	// O_NONBLOCK: if a pipe replaces the file after the Stat, opening it
	// must not wait for a writer; the Stat of the open file then refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, withoutPath(err)
	}
	if fi, err = f.Stat(); err != nil {
		f.Close()
		return nil, 0, withoutPath(err)
	}
	if err := checkRegular(fi); err != nil {
		f.Close()
		return nil, 0, err
	}
	if fi.Size() > limit {
		f.Close()
		return nil, 0, fmt.Errorf("%w: %s, over the %s limit", ErrTooLarge, size(fi.Size()), size(limit))
	}
	return f, fi.Size(), nil
}

// ReadAtMost reads r whole into a buffer sized once from sizeHint (what
// the file or object says it holds), but through a LimitReader rather than
// trusting that size: a file can grow while it is read, some (in /proc)
// report a size of 0, and a server may send more than it said. More than
// limit bytes is ErrTooLarge.
func ReadAtMost(r io.Reader, sizeHint, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(max(0, min(sizeHint, limit))) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(r, limit+1)); err != nil {
		return nil, withoutPath(err)
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("%w: over the %s limit", ErrTooLarge, size(limit))
	}
	return buf.Bytes(), nil
}

func checkRegular(fi fs.FileInfo) error {
	if fi.Mode().IsRegular() {
		return nil
	}
	return fmt.Errorf("%w (%s)", ErrNotRegular, kind(fi.Mode()))
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.String()
}

// withoutPath drops the path an *fs.PathError repeats; errors.Is still sees
// the cause (fs.ErrNotExist, fs.ErrPermission).
func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// size prints a byte count the way limits are written: 256 MiB, 1 MiB, 10
// bytes. Fractions round up, so a file just over a limit never prints as
// equal to it.
func size(n int64) string {
	const mib = 1 << 20
	switch {
	case n >= mib && n%mib == 0:
		return fmt.Sprintf("%d MiB", n/mib)
	case n >= mib:
		return fmt.Sprintf("%.1f MiB", math.Ceil(float64(n)*10/mib)/10)
	}
	return fmt.Sprintf("%d bytes", n)
}
