package job

import (
	"os"
	"path/filepath"
	"testing"
)

// A config named by a relative path (syncer apply --config eng/config.yaml)
// has its sources' paths relative to the working directory: their totals
// must still be keyed relative to the config's folder, or the same config
// run from another directory (cron, CI) finds no total for its sources and
// has no shrink check.
func TestTotalsAreKeyedByTheConfigsFolderWhateverTheWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "eng"), 0o755)
	t.Chdir(dir)
	// Run from dir: --config eng/config.yaml.
	fromTop := relativeKeys(map[string]int{filepath.Join("eng", "members.csv"): 10}, "eng")
	// Run from dir/eng: --config config.yaml.
	t.Chdir(filepath.Join(dir, "eng"))
	fromInside := relativeKeys(map[string]int{"members.csv": 4}, ".")
	if fromTop["members.csv"] != 10 || fromInside["members.csv"] != 4 || len(fromTop) != 1 || len(fromInside) != 1 {
		t.Errorf("keys from the top %v, from inside %v; want members.csv both times", fromTop, fromInside)
	}
	// A state saved before, keyed relative to the working directory of
	// the run that saved it: taken as this source's total when it names
	// this run's source from here, and a key already right wins.
	t.Chdir(dir)
	now := map[string]int{filepath.Join("eng", "members.csv"): 4}
	got, renamed := prevKeys(map[string]int{"eng/members.csv": 10, "sales/members.csv": 3}, now, "eng")
	if got["members.csv"] != 10 || got["sales/members.csv"] != 3 || len(got) != 2 {
		t.Errorf("an old state's keys became %v, want members.csv: 10 and sales/members.csv: 3 kept", got)
	}
	if renamed["eng/members.csv"] != "members.csv" || len(renamed) != 1 {
		t.Errorf("renamed %v, want eng/members.csv to members.csv (for the state's row marks)", renamed)
	}
	got, renamed = prevKeys(map[string]int{"eng/members.csv": 10, "members.csv": 8}, now, "eng")
	if got["members.csv"] != 8 || len(got) != 1 || len(renamed) != 0 {
		t.Errorf("keys %v, renamed %v; want the key already right (members.csv: 8), nothing renamed", got, renamed)
	}
	abs := filepath.Join(dir, "eng", "members.csv")
	if got, renamed = prevKeys(map[string]int{abs: 10}, now, "eng"); got["members.csv"] != 10 || renamed[abs] != "members.csv" {
		t.Errorf("an absolute key: totals %v, renamed %v; want members.csv", got, renamed)
	}
}
