package identity

import (
	"hash/maphash"
	"maps"
	"math/bits"
	"slices"
	"strings"

	"github.com/syncer-dev/syncer/internal/membership"
)

// records is what the run knows of each address, one compact record per
// address, whatever asked about it. The sources' addresses (a million in a
// big tenant, once a pass needs them all) sit in a sorted table, their
// strings shared with the sources, found through an open-addressing index:
// with the IDs kept as bytes, an address costs about 35 bytes plus its ID,
// where a map of records costs over 100. The few others the run meets (the
// rules' people, the acting user, suspended users) are in a map.
type records struct {
	sorted []string // the sources' addresses, sorted (empty until built)
	table  []record // beside sorted
	// index maps a slot to a position in sorted + 1 (0: empty) in its
	// low posBits, and to a tag of the address's hash in the bits above:
	// a probe that meets another address mostly tells by its tag, not by
	// a look at its string (two more cache misses, and the sources'
	// addresses are often of one length). A power of two, at least twice
	// sorted.
	index   []uint32
	posBits uint
	seed    maphash.Seed
	others  map[string]record
	ids     []byte // the principals records name, end to end
	// expect is how many records are expected to be named into ids, for
	// its first allocation: the sources' addresses the cache doesn't hold.
	expect int
	// cache holds the principals of records found there (byCache): off
	// is the entry's place in its table. A second run of a big tenant
	// finds a million there, and a copy of their IDs would be 15 MB more.
	cache *Cache
}

// record is one address: whom it names, how that was found, and what else
// is known. Eight bytes.
type record struct {
	off   uint32 // the principal is ids[off:off+n], or the cache's entry off (byCache)
	n     uint16
	how   how
	flags flags
}

// how an address was resolved.
type how uint8

const (
	unknown how = iota
	byCache
	byDirectory
	byMemberGet
	byRule
)

var hows = [...]string{unknown: "", byCache: ByCache, byDirectory: ByDirectory, byMemberGet: ByMemberGet, byRule: ByRule}

func (h how) String() string { return hows[h] }

type flags uint8

const (
	wanted         flags = 1 << iota // a source names it
	suspended                        // the Directory says its user is suspended
	notInDirectory                   // the Directory answered it does not know it
	lookupFailed                     // no answer: Service.why has the reason
	handed                           // the pass left it to a users.get (handOff)
	alias                            // the Directory named it as an alias of its user, not the primary address
	unneeded                         // shown by a pass nobody wanted (yet), and no space took it from there
	uncovered                        // a pass's query stopped before showing it and left it to nobody: its pages are no evidence of its absence
)

// build makes the table of the sources' addresses (marked wanted),
// keeping what the map knew of them, and returns how many there are.
func (rs *records) build(desired membership.Desired) int {
	all := make([]string, 0, desired.Count())
	for _, sp := range desired.Spaces {
		for _, m := range sp.Members {
			if e := m.Principal.Email(); e != "" {
				all = append(all, e)
			}
		}
	}
	slices.Sort(all)
	all = slices.Compact(all)
	rs.sorted, rs.table, rs.expect = slices.Clip(all), make([]record, len(all)), len(all)
	rs.seed, rs.index = maphash.MakeSeed(), make([]uint32, 1<<bits.Len(uint(2*len(all))))
	rs.posBits = uint(bits.Len(uint(len(all))))
	mask := uint64(len(rs.index) - 1)
	for i, e := range rs.sorted {
		h := maphash.String(rs.seed, e)
		at := h & mask
		for rs.index[at] != 0 {
			at = (at + 1) & mask
		}
		rs.index[at] = uint32(i+1) | rs.tag(h)
	}
	for i, e := range rs.sorted {
		r, ok := rs.others[e]
		if ok {
			delete(rs.others, e)
		}
		r.flags |= wanted
		rs.table[i] = r
	}
	return len(rs.sorted)
}

func (rs *records) find(email string) (int, bool) {
	if len(rs.index) == 0 {
		return 0, false
	}
	mask := uint64(len(rs.index) - 1)
	h := maphash.String(rs.seed, email)
	tag, pos := rs.tag(h), rs.posMask()
	for at := h & mask; ; at = (at + 1) & mask {
		v := rs.index[at]
		if v == 0 {
			return 0, false
		}
		if v&^pos == tag && rs.sorted[v&pos-1] == email {
			return int(v&pos - 1), true
		}
	}
}

// tag is the bits of an address's hash an index entry keeps above its
// position (none when the positions take all 32 bits). The slot comes
// from the hash's low bits, the tag from its high half.
func (rs *records) tag(h uint64) uint32 {
	if rs.posBits >= 32 {
		return 0
	}
	return uint32(h>>32) << rs.posBits
}

// posMask selects an index entry's position bits.
func (rs *records) posMask() uint32 {
	if rs.posBits >= 32 {
		return ^uint32(0)
	}
	return 1<<rs.posBits - 1
}

// get is email's record (the zero record when none).
func (rs *records) get(email string) record {
	if i, ok := rs.find(email); ok {
		return rs.table[i]
	}
	return rs.others[email]
}

// put stores email's record.
func (rs *records) put(email string, r record) {
	if i, ok := rs.find(email); ok {
		rs.table[i] = r
		return
	}
	if rs.others == nil {
		rs.others = map[string]record{}
	}
	rs.others[email] = r
}

// principal is whom r names ("" when unknown).
func (rs *records) principal(r record) membership.Principal {
	switch r.how {
	case unknown:
		return ""
	case byCache:
		return rs.cache.principalAt(int(r.off))
	}
	id := string(rs.ids[r.off : r.off+uint32(r.n&^userID)])
	if r.n&userID != 0 {
		return membership.User(id)
	}
	return membership.Principal(id)
}

// userID in record.n: the bytes are a users/{id}'s ID.
const userID = 1 << 15

// name records that r names p, found how: users/{id} is kept as its ID.
func (rs *records) name(r *record, p membership.Principal, h how) {
	s, user := string(p), uint16(0)
	if id, ok := strings.CutPrefix(s, "users/"); ok {
		s, user = id, userID
	}
	if len(s) >= userID {
		s = s[:userID-1] // never: IDs are a few dozen bytes
	}
	if rs.ids == nil {
		rs.ids = make([]byte, 0, 16*max(64, rs.expect)) // IDs are ~10-21 digits
	}
	r.off, r.n, r.how = uint32(len(rs.ids)), uint16(len(s))|user, h
	rs.ids = append(rs.ids, s...)
}

// nameCached records that r names the cache's entry at place at.
func (rs *records) nameCached(r *record, at int) {
	r.off, r.n, r.how = uint32(at), 0, byCache
}

// each calls fn for every record.
func (rs *records) each(fn func(email string, r record)) {
	for i, e := range rs.sorted {
		fn(e, rs.table[i])
	}
	for e, r := range rs.others {
		fn(e, r)
	}
}

// eachSorted calls fn for every record in email order, until fn returns false.
func (rs *records) eachSorted(fn func(email string, r record) bool) {
	others := slices.Sorted(maps.Keys(rs.others))
	i := 0
	for j, e := range rs.sorted {
		for ; i < len(others) && others[i] < e; i++ {
			if !fn(others[i], rs.others[others[i]]) {
				return
			}
		}
		if !fn(e, rs.table[j]) {
			return
		}
	}
	for ; i < len(others); i++ {
		if !fn(others[i], rs.others[others[i]]) {
			return
		}
	}
}

// wantedOutside returns the sources' addresses outside domain, sorted.
func (rs *records) wantedOutside(domain string) []string {
	var out []string
	for _, e := range rs.sorted {
		if _, d, _ := strings.Cut(e, "@"); d != domain {
			out = append(out, e)
		}
	}
	return out
}
