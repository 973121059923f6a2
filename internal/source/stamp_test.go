package source_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/source"
)

// An export written by removing the old file and creating the new one:
// stamped in between, the file was not there; read a moment later, it was
// there half-written. A file that appeared after its stamp changed since.
func TestAStampOfAMissingFileSeesItAppear(t *testing.T) {
	path := filepath.Join(t.TempDir(), "members.csv")
	st := source.Stamp([]source.Spec{{Path: path}})
	if got := st.Changed(); len(got) != 0 {
		t.Fatalf("still missing: changed %q; want nothing (reading it reports why)", got)
	}
	if err := os.WriteFile(path, []byte("space,member\nspaces/S,bob@example.co"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := st.Changed()
	if len(got) != 1 || !strings.Contains(got[0], "members.csv") {
		t.Errorf("changed %q; want members.csv named: it was not there when stamped, so what was read is not what was stamped", got)
	}
}
