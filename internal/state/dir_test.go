package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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
