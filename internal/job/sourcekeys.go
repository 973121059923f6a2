package job

// How the removals state names a run's sources: by their path relative to
// the config's folder, and which file each total was counted from.

import (
	"os"
	"path/filepath"

	"github.com/syncer-dev/syncer/internal/fsutil"
)

// relativeKeys names sources by their path relative to the config's
// folder, so the totals survive a checkout elsewhere (another CI runner, a
// fresh container): the same config's sources are the same sources. A
// path relative to the working directory (a config named by a relative
// path) is named the same way: the same config run from another folder is
// the same sources too.
func relativeKeys(totals map[string]int, base string) map[string]int {
	out := make(map[string]int, len(totals))
	for path, n := range totals {
		out[relativeKey(path, base)] = n
	}
	return out
}

func relativeKey(path, base string) string {
	abs, err1 := filepath.Abs(path)
	absBase, err2 := filepath.Abs(base)
	if err1 != nil || err2 != nil {
		return path
	}
	rel, err := filepath.Rel(absBase, abs)
	if err != nil {
		return path
	}
	return filepath.ToSlash(rel)
}

// prevKeys names a saved state's totals as relativeKeys names this run's
// (now, keyed as the sources were read): an absolute path (a state saved
// before totals were relative) relative to the config's folder, and a
// relative one that names one of this run's sources from the working
// directory (saved, before relativeKeys took such paths, by a run of this
// config named by a relative path) as that source, unless the state has
// that source under its own name already. It also returns the keys it
// renamed (old to new), for the state's other records of its sources.
func prevKeys(prev, now map[string]int, base string) (map[string]int, map[string]string) {
	mine := map[string]string{} // this run's sources, absolute, to their keys
	for path := range now {
		if abs, err := filepath.Abs(path); err == nil {
			mine[abs] = relativeKey(path, base)
		}
	}
	out := make(map[string]int, len(prev))
	names := map[string]string{}
	type move struct {
		from string
		n    int
	}
	moved := map[string]move{}
	for path, n := range prev {
		switch abs, err := filepath.Abs(filepath.FromSlash(path)); {
		case filepath.IsAbs(path):
			key := relativeKey(path, base)
			out[key] = n
			if key != path {
				names[path] = key
			}
		case err == nil && mine[abs] != "" && mine[abs] != path:
			moved[mine[abs]] = move{path, n}
		default:
			out[path] = n
		}
	}
	for key, m := range moved {
		if _, ok := out[key]; !ok {
			out[key] = m.n
			names[m.from] = key
		}
	}
	return out, names
}

// sourceFiles are this run's sources by their keys (relativeKeys) as
// absolute paths.
func sourceFiles(totals map[string]int, base string) map[string]string {
	out := make(map[string]string, len(totals))
	for path := range totals {
		if abs, err := filepath.Abs(path); err == nil {
			out[relativeKey(path, base)] = abs
		}
	}
	return out
}

// otherSource reports whether theirs, the file a total was counted from,
// is another source than mine: here, not mine, and saying something else
// (a copy saying the same, another checkout of the same repository on
// this machine, counts the same). One there that can't be read is taken
// for another: its total is not compared.
func otherSource(theirs, mine string) bool {
	st, err := os.Stat(theirs)
	if err != nil {
		return false
	}
	if me, err := os.Stat(mine); err == nil && os.SameFile(st, me) {
		return false
	}
	a, err1 := fsutil.SHA256File(theirs, maxSourceBytes)
	b, err2 := fsutil.SHA256File(mine, maxSourceBytes)
	return err1 != nil || err2 != nil || a != b
}

// maxSourceBytes bounds what otherSource reads (beyond any source a run
// loads).
const maxSourceBytes = 1 << 30
