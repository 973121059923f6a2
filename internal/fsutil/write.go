package fsutil

import (
	"io"
	"os"
	"path/filepath"
	"strings"
)

// WriteAtomic replaces path with data, with mode perm, so a reader (or a
// crash) sees the old file or the new one, never a part: it writes a
// temporary file in the same folder, syncs it and renames it over path.
// The temporary file has perm from its creation, so a secret is never
// readable by others even for a moment.
func WriteAtomic(path string, data []byte, perm os.FileMode) error {
	return writeAtomic(path, writeAll(data), perm, true)
}

// WriteAtomicLazy is WriteAtomic without the fsyncs: readers still see the
// old file or the new one, but after a crash the new one may be empty. For
// a cache, whose loss costs only lookups, the fsyncs cost more than they
// save (tens of milliseconds a run).
func WriteAtomicLazy(path string, data []byte, perm os.FileMode) error {
	return writeAtomic(path, writeAll(data), perm, false)
}

// WriteAtomicFrom is WriteAtomic (durable) or WriteAtomicLazy for a file
// that fill writes as it goes, so that the whole of it need never be in
// memory. If fill fails, path is left as it was.
func WriteAtomicFrom(path string, fill func(io.Writer) error, perm os.FileMode, durable bool) error {
	return writeAtomic(path, fill, perm, durable)
}

func writeAll(data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}
}

func writeAtomic(path string, fill func(io.Writer) error, perm os.FileMode, durable bool) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, tempPrefix(path)+"*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := fill(tmp); err != nil {
		tmp.Close()
		return err
	}
	if durable {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); durable && err == nil {
		d.Sync() // the rename itself survives a crash
		d.Close()
	} else if err == nil {
		d.Close()
	}
	return nil
}

// tempPrefix begins the names of path's temporary files.
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp-" }

// RemoveLeftovers removes the temporary files a writer of path killed
// mid-write (SIGKILL, an OOM kill) left beside it. Only for a caller that
// keeps every other writer of path out (a lock): a live writer's file
// would go too.
func RemoveLeftovers(path string) {
	dir, prefix := filepath.Dir(path), tempPrefix(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), prefix) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
