package membership

import (
	"math"
	"sync"
)

// Pos is a Location in twelve bytes, for the million desired members a big
// tenant's sources hold: a Location is 48 (two strings and two ints), and
// it was the largest part of a DesiredMember. The file and the rule an
// entry came from are interned: a run has a few source files and at most
// a few thousand rules, each named by a million entries.
type Pos struct {
	place uint32 // places.all[place-1]; 0: no file
	line  uint32
	col   uint32
}

// place is what Pos interns: a file and the rule an entry came from.
type place struct{ file, via string }

// places is the process's table of interned places. It only grows: a
// long-running serve holds each (file, rule) it has ever read once.
var places struct {
	sync.RWMutex
	ids map[place]uint32
	all []place
}

// At is l in compact form.
func At(l Location) Pos {
	if l.File == "" && l.Via == "" {
		return Pos{line: clamp(l.Line), col: clamp(l.Column)}
	}
	k := place{l.File, l.Via}
	places.RLock()
	id, ok := places.ids[k]
	places.RUnlock()
	if !ok {
		places.Lock()
		if id, ok = places.ids[k]; !ok {
			if places.ids == nil {
				places.ids = map[place]uint32{}
			}
			places.all = append(places.all, k)
			id = uint32(len(places.all))
			places.ids[k] = id
		}
		places.Unlock()
	}
	return Pos{place: id, line: clamp(l.Line), col: clamp(l.Column)}
}

func clamp(n int) uint32 { return uint32(min(max(n, 0), math.MaxUint32)) }

// Location is p in full.
func (p Pos) Location() Location {
	l := Location{Line: int(p.line), Column: int(p.col)}
	if p.place > 0 {
		places.RLock()
		k := places.all[p.place-1]
		places.RUnlock()
		l.File, l.Via = k.file, k.via
	}
	return l
}

// Via names the Directory rule the entry came from ("" for one a source
// names itself).
func (p Pos) Via() string { return p.Location().Via }

func (p Pos) String() string { return p.Location().String() }
