package state

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/syncer-dev/syncer/internal/fsutil"
)

// maxDocument bounds a state document (the identity cache is the largest).
const maxDocument = 256 << 20

// Dir is a Store in a local folder: documents are files written
// atomically with mode 0600, in a folder created 0700; a document's version
// is the SHA-256 of its content.
type Dir struct {
	Path string
	mu   sync.Mutex // one writer at a time in this process; the folder's write lock (dirlock.go) covers others
}

var _ Store = (*Dir)(nil)

// Where is the folder.
func (d *Dir) Where() string { return d.Path }

func (d *Dir) file(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || name[0] == '.' {
		return "", fmt.Errorf("state document name %q", name)
	}
	return filepath.Join(d.Path, name), nil
}

// Read reads a document; a missing one is ErrNotExist.
func (d *Dir) Read(_ context.Context, name string) ([]byte, string, error) {
	path, err := d.file(name)
	if err != nil {
		return nil, "", err
	}
	data, err := fsutil.ReadFile(path, maxDocument)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", ErrNotExist
	}
	if err != nil {
		return nil, "", fmt.Errorf("state %s: %w", path, err)
	}
	return data, version(data), nil
}

// Write replaces a document if it is still at ifVersion.
func (d *Dir) Write(ctx context.Context, name string, data []byte, ifVersion string) (string, error) {
	return d.write(ctx, name, data, ifVersion, fsutil.WriteAtomic)
}

// WriteLazy is Write for a document whose loss costs little (a cache):
// atomic, without the fsyncs.
func (d *Dir) WriteLazy(ctx context.Context, name string, data []byte, ifVersion string) (string, error) {
	return d.write(ctx, name, data, ifVersion, fsutil.WriteAtomicLazy)
}

// WriteStream is Write (or, lazy, WriteLazy) for a document encode writes
// as it goes: into the new file through a buffer, and through the hash
// that gives its version.
func (d *Dir) WriteStream(ctx context.Context, name string, encode func(io.Writer) error, ifVersion string, lazy bool) (string, error) {
	var sum [sha256.Size]byte
	_, err := d.write(ctx, name, nil, ifVersion, func(path string, _ []byte, perm os.FileMode) error {
		h := sha256.New()
		fill := func(f io.Writer) error {
			w := bufio.NewWriterSize(io.MultiWriter(f, h), 64<<10)
			if err := encode(w); err != nil {
				return err
			}
			return w.Flush()
		}
		if err := fsutil.WriteAtomicFrom(path, fill, perm, !lazy); err != nil {
			return err
		}
		h.Sum(sum[:0])
		return nil
	})
	if err != nil {
		return "", err
	}
	return versionOf(sum), nil
}

func (d *Dir) write(ctx context.Context, name string, data []byte, ifVersion string, writeFile func(string, []byte, os.FileMode) error) (string, error) {
	path, err := d.file(name)
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return "", fmt.Errorf("state folder %s: %w", d.Path, err)
	}
	unlock, err := lockFolder(ctx, d.Path)
	if err != nil {
		return "", err
	}
	defer unlock()
	// Under the lock no other writer is halfway: a temporary file of this
	// document is a killed run's, which nothing else would ever remove.
	fsutil.RemoveLeftovers(path)
	// The current version is hashed from the file a piece at a time: an
	// identity cache of a million addresses is 72 MB, already held once
	// in its new form.
	current, err := fsutil.SHA256File(path, maxDocument)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if ifVersion != "" {
			return "", fmt.Errorf("%w: %s was deleted", ErrConflict, path)
		}
	case err != nil:
		return "", fmt.Errorf("state %s: %w", path, err)
	case versionOf(current) != ifVersion:
		return "", fmt.Errorf("%w: %s", ErrConflict, path)
	}
	if err := writeFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("state %s: %w", path, err)
	}
	return version(data), nil
}

// Probe checks, before a run writes anything anywhere, that documents can
// be written here: an apply under policy sync must not make its removals
// and then fail to record them.
func (d *Dir) Probe(context.Context) error {
	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return fmt.Errorf("state folder %s: %w", d.Path, err)
	}
	f, err := os.CreateTemp(d.Path, ".probe-*")
	if err != nil {
		return fmt.Errorf("state folder %s can't be written: %w", d.Path, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

func version(data []byte) string { return versionOf(sha256.Sum256(data)) }

// versionOf is the version of a document whose SHA-256 is sum.
func versionOf(sum [sha256.Size]byte) string { return hex.EncodeToString(sum[:12]) }

// CheckDir checks offline that a local location can hold state: a folder
// (or nothing yet) that is not a symlink to elsewhere and that others can't
// write.
func CheckDir(path string) error {
	st, err := os.Lstat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil // created 0700 on the first write
	case err != nil:
		return err
	case st.Mode()&os.ModeSymlink != 0:
		if st, err = os.Stat(path); err != nil {
			return err
		}
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a folder", path)
	}
	if st.Mode().Perm()&0o002 != 0 {
		// The sticky bit (as on /tmp) stops others deleting our files, not
		// planting theirs: an identity cache that maps a wanted address to
		// another ID, a removals state.
		return fmt.Errorf("%s can be written by anyone (mode %v); state must be private: chmod o-w %s, or set state.location to a folder only this user can write", path, st.Mode(), path)
	}
	return nil
}
