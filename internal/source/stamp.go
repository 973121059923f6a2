package source

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/syncer-dev/syncer/internal/fsutil"
	"github.com/syncer-dev/syncer/internal/membership"
)

// Stamps are the sources' files as a run read them: which file, how long,
// when last written, and the SHA-256 of the bytes read. An export still
// being written when the run read it (or cut short since) reads as a
// shorter list, a cut address as another person; a file whose bytes
// changed between the read and the first write says so, and the run that
// would remove from it stops.
type Stamps []stamp

type stamp struct {
	path string
	info os.FileInfo        // nil: not there when stamped (there when read: changed)
	sum  *[sha256.Size]byte // of the bytes read (LoadStamped); nil: not read
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

// LoadStamped is LoadWithWarnings that stamps each source's file before
// it is read and keeps the SHA-256 of the bytes it read: a file written
// again with the same bytes (renamed into place, touched) is no change.
func LoadStamped(specs []Spec) (membership.Desired, []string, Stamps, error) {
	st := Stamp(specs)
	at := map[string]int{}
	for i, s := range st {
		at[s.path] = i
	}
	d, warnings, err := loadAll(specs, func(path string, data []byte) {
		if i, ok := at[path]; ok {
			sum := sha256.Sum256(data)
			st[i].sum = &sum
		}
	})
	return d, warnings, st, err
}

// Changed names every source whose file is no longer what was read:
// another length, another time written, or another file put in its place
// (an export written under another name and renamed there), unless its
// bytes are the ones read. A file found the same is stamped afresh.
func (st Stamps) Changed() []string {
	var out []string
	for i := range st {
		s := &st[i]
		now, err := os.Stat(s.path)
		var why string
		switch {
		case s.info == nil:
			// Not there when stamped: read a moment later, it may have
			// been created half-written (an export that removes the old
			// file first). Still not there, reading it reported why.
			if err == nil {
				why = fmt.Sprintf("%s was written at %s, %d bytes (it was not there when the run began reading it)", s.path, now.ModTime().UTC().Format(time.RFC3339), now.Size())
			}
		case err != nil:
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			out = append(out, fmt.Sprintf("%s can no longer be read (%v)", s.path, err))
			continue
		case !os.SameFile(s.info, now):
			why = s.path + " was replaced by another file"
		case now.Size() != s.info.Size() || !now.ModTime().Equal(s.info.ModTime()):
			why = fmt.Sprintf("%s was written at %s, %d bytes (it was %d when read)", s.path, now.ModTime().UTC().Format(time.RFC3339), now.Size(), s.info.Size())
		}
		if why == "" {
			continue
		}
		if s.sum != nil {
			// Hashed a piece at a time: the run holds the desired state
			// (a million rows) and must not hold the file a second time.
			if sum, err := fsutil.SHA256File(s.path, maxSourceSize); err == nil && sum == *s.sum {
				s.info = now // the same bytes: no change, and no need to read it again
				continue
			}
		}
		out = append(out, why)
	}
	return out
}
