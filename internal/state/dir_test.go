package state

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestDir(t *testing.T) {
	ctx := context.Background()
	d := &Dir{Path: filepath.Join(t.TempDir(), "state")}
	if _, _, err := d.Read(ctx, "removals.json"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("read before any write: %v", err)
	}
	v1, err := d.Write(ctx, "removals.json", []byte(`{"a":1}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Write(ctx, "removals.json", []byte(`{"a":2}`), ""); !errors.Is(err, ErrConflict) {
		t.Errorf("a second first write: %v", err)
	}
	data, v, err := d.Read(ctx, "removals.json")
	if err != nil || string(data) != `{"a":1}` || v != v1 {
		t.Fatalf("read %q %q %v", data, v, err)
	}
	v2, err := d.Write(ctx, "removals.json", []byte(`{"a":2}`), v1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Write(ctx, "removals.json", []byte(`{"a":3}`), v1); !errors.Is(err, ErrConflict) {
		t.Errorf("a write at a stale version: %v", err)
	}
	if data, v, _ := d.Read(ctx, "removals.json"); string(data) != `{"a":2}` || v != v2 {
		t.Errorf("after a refused write: %q", data)
	}
	for path, want := range map[string]os.FileMode{d.Path: 0o700, filepath.Join(d.Path, "removals.json"): 0o600} {
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %#o", path, st.Mode().Perm(), want)
		}
	}
	if _, _, err := d.Read(ctx, "../x"); err == nil {
		t.Error("a document name with a path was accepted")
	}
	os.WriteFile(filepath.Join(d.Path, "garbage.json"), []byte("x"), 0o644)
	os.Chmod(filepath.Join(d.Path, "garbage.json"), 0o000)
	if os.Getuid() != 0 {
		if _, _, err := d.Read(ctx, "garbage.json"); err == nil || errors.Is(err, ErrNotExist) {
			t.Errorf("an unreadable document read as %v; it must be an error, never \"no state\"", err)
		}
	}
}

// Writers that don't share a Dir (two processes on one folder: two configs,
// two serves) never both pass the version check: every increment made at
// the version read survives.
func TestDirWritersSharingAFolder(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state")
	const writers, each = 4, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &Dir{Path: path} // its own mutex, as in another process
			for done := 0; done < each; {
				data, v, err := d.Read(ctx, "n")
				n := 0
				switch {
				case errors.Is(err, ErrNotExist):
				case err != nil:
					errs <- err
					return
				default:
					n, _ = strconv.Atoi(string(data))
				}
				_, err = d.Write(ctx, "n", []byte(strconv.Itoa(n+1)), v)
				switch {
				case err == nil:
					done++
				case !errors.Is(err, ErrConflict):
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	data, _, _ := (&Dir{Path: path}).Read(ctx, "n")
	if string(data) != strconv.Itoa(writers*each) {
		t.Errorf("%s increments survived of %d", data, writers*each)
	}
}

// A document written as it is encoded is the same document, at the same
// version, as one written whole; a stale version is refused before encode
// runs; an encode that fails leaves the document as it was.
func TestDirWriteStream(t *testing.T) {
	ctx := context.Background()
	d := &Dir{Path: filepath.Join(t.TempDir(), "state")}
	doc := []byte(`{"entries":["` + strings.Repeat("x", 200_000) + `"]}`) // several buffers' worth
	encode := func(w io.Writer) error {
		for rest := doc; len(rest) > 0; rest = rest[min(len(rest), 1000):] {
			if _, err := w.Write(rest[:min(len(rest), 1000)]); err != nil {
				return err
			}
		}
		return nil
	}
	for _, lazy := range []bool{false, true} {
		name := "cache-" + strconv.FormatBool(lazy) + ".json"
		v1, err := d.WriteStream(ctx, name, encode, "", lazy)
		if err != nil {
			t.Fatal(err)
		}
		data, v, err := d.Read(ctx, name)
		if err != nil || !bytes.Equal(data, doc) || v != v1 || v1 != version(doc) {
			t.Fatalf("lazy %v: read %d bytes at %q (written %q, want %q): %v", lazy, len(data), v, v1, version(doc), err)
		}
		ran := false
		if _, err := d.WriteStream(ctx, name, func(io.Writer) error { ran = true; return nil }, "", lazy); !errors.Is(err, ErrConflict) || ran {
			t.Errorf("lazy %v: a write at a stale version: %v (encode ran: %v)", lazy, err, ran)
		}
		broken := errors.New("the encoder broke")
		if _, err := d.WriteStream(ctx, name, func(w io.Writer) error { w.Write([]byte("{")); return broken }, v1, lazy); !errors.Is(err, broken) {
			t.Errorf("lazy %v: a failed encode: %v", lazy, err)
		}
		if data, v, _ := d.Read(ctx, name); !bytes.Equal(data, doc) || v != v1 {
			t.Errorf("lazy %v: after a failed encode the document is %d bytes at %q", lazy, len(data), v)
		}
		if st, err := os.Stat(filepath.Join(d.Path, name)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("lazy %v: mode %v %v", lazy, st.Mode().Perm(), err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(d.Path, ".*.tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// A run killed while it wrote a document (SIGKILL, an OOM kill: the
// identity cache, up to 72 MB, is written at a run's memory peak) leaves
// its temporary file behind. Writers make theirs only under the folder's
// write lock, so the next writer of that document removes what a dead one
// left, and a folder killed runs write to does not fill up.
func TestDirRemovesWhatAKilledWriterLeft(t *testing.T) {
	ctx := context.Background()
	d := &Dir{Path: t.TempDir()}
	for _, write := range []struct {
		name  string
		write func(name string) error
	}{
		{"Write", func(name string) error { _, err := d.Write(ctx, name, []byte(`{}`), ""); return err }},
		{"WriteLazy", func(name string) error { _, err := d.WriteLazy(ctx, name, []byte(`{}`), ""); return err }},
		{"WriteStream", func(name string) error {
			_, err := d.WriteStream(ctx, name, func(w io.Writer) error { _, err := w.Write([]byte(`{}`)); return err }, "", true)
			return err
		}},
	} {
		t.Run(write.name, func(t *testing.T) {
			name := strings.ToLower(write.name) + ".json"
			left := filepath.Join(d.Path, "."+name+".tmp-123456")
			other := filepath.Join(d.Path, ".other.json.tmp-654321") // another document's: not this writer's to judge
			for _, p := range []string{left, other} {
				if err := os.WriteFile(p, bytes.Repeat([]byte("x"), 1000), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := write.write(name); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s, left by a killed writer, is still there (%v)", filepath.Base(left), err)
			}
			if _, err := os.Stat(other); err != nil {
				t.Errorf("another document's temporary file was touched: %v", err)
			}
			os.Remove(other)
		})
	}
}
