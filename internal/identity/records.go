package identity

import (
	"slices"
	"strings"

	"github.com/syncer-dev/syncer/internal/membership"
)

// records is what the run knows of each address, one compact record per
// address, whatever asked about it. The sources' addresses (a million in a
// big tenant, once a pass needs them all) sit in a sorted table found by
// binary search, their strings shared with the sources: with the IDs kept
// as bytes, an address costs about 30 bytes plus its ID, where a map of
// records costs over 100. The few others the run meets (the rules'
// people, the acting user, suspended users) are in a map.
type records struct {
	sorted []string // the sources' addresses, sorted (empty until built)
	table  []record // beside sorted
	others map[string]record
	ids    []byte // the principals records name, end to end
}

// record is one address: whom it names, how that was found, and what else
// is known. Eight bytes.
type record struct {
	off   uint32 // the principal is ids[off:off+n]
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
	rs.sorted, rs.table = slices.Clip(all), make([]record, len(all))
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
	return slices.BinarySearch(rs.sorted, email)
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
	if r.how == unknown {
		return ""
	}
	return membership.Principal(rs.ids[r.off : r.off+uint32(r.n)])
}

// name records that r names p, found how.
func (rs *records) name(r *record, p membership.Principal, h how) {
	if len(p) > 1<<16-1 {
		p = p[:1<<16-1] // never: IDs are a few dozen bytes
	}
	r.off, r.n, r.how = uint32(len(rs.ids)), uint16(len(p)), h
	rs.ids = append(rs.ids, p...)
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

// wantedIn returns the sources' addresses outside domain, sorted.
func (rs *records) wantedOutside(domain string) []string {
	var out []string
	for _, e := range rs.sorted {
		if _, d, _ := strings.Cut(e, "@"); d != domain {
			out = append(out, e)
		}
	}
	return out
}
