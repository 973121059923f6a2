package identity

import (
	"math"
	"slices"
	"strings"

	"github.com/syncer-dev/syncer/internal/membership"
)

// cacheTable is the cache's entries, sorted by email. A big tenant's cache
// is a million entries, read on every run and held through it: an entry is
// 16 bytes, its email and principal kept end to end in one string (40-50
// bytes for a 23-character address and an ID of 15-21 digits). Entries of
// two strings pointing into the document as read took 48 bytes and kept
// the whole document (72 bytes an entry) alive beside them: 120 MB for a
// million, where this takes about 60.
type cacheTable struct {
	arena string
	items []cacheItem
	// tooLong counts the document's entries left out for their size
	// (tableBuilder.add): tidy has the document rewritten without them.
	tooLong int
}

// cacheItem is one entry.
type cacheItem struct {
	off       uint32 // arena[off:off+elen] is the email, the principal follows
	elen      uint16
	plen      uint16
	expires   uint32 // Unix seconds (0: none, a corrupt entry)
	suspended bool
	// alias: the address is not its user's primary one (an alias, or an
	// alias domain's spelling), so a list showing the user under another
	// address does not contradict it.
	alias   bool
	dropped bool // found stale this run
}

func (t *cacheTable) email(it *cacheItem) string {
	return t.arena[it.off : it.off+uint32(it.elen)]
}

func (t *cacheTable) principal(it *cacheItem) membership.Principal {
	at := it.off + uint32(it.elen)
	return membership.Principal(t.arena[at : at+uint32(it.plen)])
}

func (t *cacheTable) compare(a, b cacheItem) int { return strings.Compare(t.email(&a), t.email(&b)) }

// find is the place of email's entry in items, if there is one.
func (t *cacheTable) find(email string) (int, bool) {
	return slices.BinarySearchFunc(t.items, email, func(it cacheItem, e string) int { return strings.Compare(t.email(&it), e) })
}

// tidy drops what the document should not have held (entries that are not
// a user's, or have no expiry) and repeats (the last stands, where a
// hand-edited file names an address twice; an expired one was left out as
// it was read, and says nothing), and sorts the rest. It
// reports whether the document held anything it should not have.
func (t *cacheTable) tidy() (dropped bool) {
	dropped = t.tooLong > 0
	kept := t.items[:0]
	for _, it := range t.items {
		p := t.principal(&it)
		id := p.ID()
		if !strings.HasPrefix(string(p), "users/") || id == "" || strings.Contains(id, "@") || it.expires == 0 {
			dropped = true
			continue
		}
		kept = append(kept, it)
	}
	if !slices.IsSortedFunc(kept, t.compare) {
		slices.SortStableFunc(kept, t.compare)
	}
	unique := kept[:0]
	for i, it := range kept {
		if i+1 < len(kept) && t.compare(kept[i+1], it) == 0 {
			continue
		}
		unique = append(unique, it)
	}
	t.items = slices.Clip(unique)
	return dropped
}

// tableBuilder makes a cacheTable, copying what it is given: nothing in
// the table points into the document it was read from.
type tableBuilder struct {
	arena   strings.Builder
	items   []cacheItem
	tooLong int
	// now: entries that expired by then are left out. With the default
	// day's trust and a run every half hour, one run a day finds every
	// entry expired (the pass that refreshed them gave them one expiry):
	// kept, they would be tens of megabytes held all run for nothing.
	// (Should the clock go back before the cache is saved, what expired
	// in between is not written back: it costs lookups, nothing else.)
	now int64
}

// newTableBuilder makes room for about entries entries and bytes of their
// strings, leaving out those expired at now (Unix seconds; 0 keeps all).
func newTableBuilder(entries, bytes int, now int64) *tableBuilder {
	b := &tableBuilder{items: make([]cacheItem, 0, entries), now: now}
	b.arena.Grow(bytes)
	return b
}

// add appends an entry, unless it has expired. One too long to keep (an
// email or principal over 64 KB, an arena over 4 GB: never from this
// program) is left out too, and counted. An entry with no expiry is kept
// for tidy, which drops it; either way the document is rewritten. An
// expiry past 2106 is kept as 2106.
func (b *tableBuilder) add(email, principal []byte, expires int64, suspended, alias bool) {
	off := b.arena.Len()
	if 0 < expires && expires <= b.now {
		return
	}
	if len(email) > math.MaxUint16 || len(principal) > math.MaxUint16 || off+len(email)+len(principal) > math.MaxUint32 {
		b.tooLong++
		return
	}
	b.arena.Write(email)
	b.arena.Write(principal)
	b.items = append(b.items, cacheItem{off: uint32(off), elen: uint16(len(email)), plen: uint16(len(principal)),
		expires: uint32(min(max(expires, 0), math.MaxUint32)), suspended: suspended, alias: alias})
}

// clampExpiry brings every expiry past limit (Unix seconds) down to it,
// and says how many it changed.
func (t *cacheTable) clampExpiry(limit int64) int {
	limit = min(max(limit, 0), math.MaxUint32)
	n := 0
	for i := range t.items {
		if int64(t.items[i].expires) > limit {
			t.items[i].expires, n = uint32(limit), n+1
		}
	}
	return n
}

func (b *tableBuilder) table() cacheTable {
	arena, items := b.arena.String(), slices.Clip(b.items)
	// Room made for entries that were left out would be held all run.
	if len(arena) < b.arena.Cap()*3/4 {
		arena = strings.Clone(arena)
	}
	if len(b.items) < cap(b.items)*3/4 {
		items = slices.Clone(items)
	}
	return cacheTable{arena: arena, items: items, tooLong: b.tooLong}
}
