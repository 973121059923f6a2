package source

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// A source touched (or renamed into place with the same bytes) while a run
// holds a million rows in memory is checked a piece at a time: the check
// must not hold a second copy of the whole file.
func TestChangedComparesTheBytesWithoutReadingTheWholeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "members.csv")
	data := append([]byte("space,member\n"), bytes.Repeat([]byte("spaces/S,someone@example.com\n"), 1<<20)...) // 30 MB
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	st := Stamp([]Spec{{Path: path}})
	sum := sha256.Sum256(data)
	st[0].sum = &sum
	later := time.Now().Add(time.Minute)
	os.Chtimes(path, later, later) // touched: the same bytes
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	changed := st.Changed()
	runtime.ReadMemStats(&after)
	if changed != nil {
		t.Fatalf("the same bytes: %q", changed)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Errorf("checking a %d MB file allocated %d MB", len(data)>>20, n>>20)
	}
}
