package source

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// Stamps are the sources' files as they were when a run read them: which
// file, how long, when last written. An export still being written when
// the run read it (or cut short since) reads as a shorter list, a cut
// address as another person; a file that changed between the read and
// the first write says so, and the run that would remove from it stops.
type Stamps []stamp

type stamp struct {
	path string
	info os.FileInfo // nil: not there when stamped (there when read: changed)
}

// Stamp records each source's file before it is read.
func Stamp(specs []Spec) Stamps {
	out := make(Stamps, 0, len(specs))
	for _, s := range specs {
		fi, _ := os.Stat(s.Path)
		out = append(out, stamp{path: s.Path, info: fi})
	}
	return out
}

// Changed names every source whose file is no longer the one stamped:
// another length, another time written, or another file put in its place
// (an export written under another name and renamed there).
func (st Stamps) Changed() []string {
	var out []string
	for _, s := range st {
		now, err := os.Stat(s.path)
		switch {
		case s.info == nil:
			// Not there when stamped: read a moment later, it may have
			// been created half-written (an export that removes the old
			// file first). Still not there, reading it reported why.
			if err == nil {
				out = append(out, fmt.Sprintf("%s was written at %s, %d bytes (it was not there when the run began reading it)", s.path, now.ModTime().UTC().Format(time.RFC3339), now.Size()))
			}
		case err != nil:
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			out = append(out, fmt.Sprintf("%s can no longer be read (%v)", s.path, err))
		case !os.SameFile(s.info, now):
			out = append(out, s.path+" was replaced by another file")
		case now.Size() != s.info.Size() || !now.ModTime().Equal(s.info.ModTime()):
			out = append(out, fmt.Sprintf("%s was written at %s, %d bytes (it was %d when read)", s.path, now.ModTime().UTC().Format(time.RFC3339), now.Size(), s.info.Size()))
		}
	}
	return out
}
