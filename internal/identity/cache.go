package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/state"
)

// Cache is a persistent email → ID map with an expiry, so scheduled runs skip
// lookups. A corrupt file or entry is dropped and rebuilt, never trusted.
// A big tenant's cache is a million entries, read on every run: they are
// kept as one sorted table whose strings point into the document as read
// (about 50 bytes an entry beside the document, where a map of entries
// took over 200), found by binary search.
type Cache struct {
	ready   chan struct{} // closed once the document is read
	store   state.Store
	name    string
	version string // the document's version when read ("": none)
	ttl     time.Duration
	now     func() time.Time
	mu      sync.Mutex
	items   []cacheItem // sorted by email
	// directoryUsers is how many users the last whole Directory pass saw,
	// for estimating the next one's cost.
	directoryUsers int
	// listsShowEmails: the last run's lists showed every person's email,
	// so the next need not start a Directory pass before they are read.
	listsShowEmails bool
	dirty           bool
	// resolved yields, in email order, what a run resolved (see Resolved):
	// about resolvedN entries.
	resolved  Entries
	resolvedN int
}

// Entries yields addresses with their users, in email order, until yield
// returns false.
type Entries func(yield func(email string, p membership.Principal, suspended bool) bool)

// cacheItem is one entry as read.
type cacheItem struct {
	email     string
	principal membership.Principal
	expires   int64 // Unix seconds
	suspended bool
	dropped   bool // found stale this run
}

// CacheEntry is one cached resolution.
type CacheEntry struct {
	Principal membership.Principal `json:"principal"`
	Suspended bool                 `json:"suspended,omitempty"`
	Expires   time.Time            `json:"expires"`
}

// cacheFile is the document: version 2 lists entries as small records
// (an expiry in Unix seconds parses ten times faster than a timestamp);
// version 1, a map of timestamps, is still read.
type cacheFile struct {
	Version         int             `json:"version"`
	DirectoryUsers  int             `json:"directory_users,omitempty"`
	ListsShowEmails bool            `json:"lists_show_emails,omitempty"`
	Entries         json.RawMessage `json:"entries"`
}

type cacheRecord struct {
	Email     string               `json:"e"`
	Principal membership.Principal `json:"p"`
	Expires   int64                `json:"x"`
	Suspended bool                 `json:"s,omitempty"`
}

// OpenCache reads the cache document name from a state store (a local
// folder, or Cloud Storage, so a stateless runner keeps it too). A missing
// document is an empty cache; one that can't be read or is corrupt is
// reported through warn, and the run starts empty: a cache saves calls, it
// decides nothing. A corrupt one is replaced.
//
// The document is read in the background, while the run's first lists are
// in flight; the cache's methods wait for it.
func OpenCache(ctx context.Context, store state.Store, name string, ttl time.Duration, now func() time.Time, warn func(string)) *Cache {
	c := &Cache{store: store, name: name, ttl: ttl, now: now, ready: make(chan struct{})}
	go func() {
		defer close(c.ready)
		c.load(ctx, warn)
	}()
	return c
}

func (c *Cache) load(ctx context.Context, warn func(string)) {
	store, name := c.store, c.name
	where := store.Where() + "/" + name
	data, version, err := store.Read(ctx, name)
	if err != nil {
		if !errors.Is(err, state.ErrNotExist) {
			warn(fmt.Sprintf("identity cache %s unreadable (%v); starting empty", where, err))
			c.version = "?" // never overwrite what could not be read
		}
		return
	}
	c.version = version
	items, head, fast := readCacheFast(data)
	if !fast {
		var err error
		var v int
		if items, head, v, err = readCacheJSON(data); err != nil {
			warn(fmt.Sprintf("identity cache %s is corrupt; starting empty", where))
			c.dirty = true
			return
		}
		c.dirty = v == 1 // rewritten as version 2
	}
	c.directoryUsers, c.listsShowEmails = max(0, head.users), head.listsShowEmails
	kept := items[:0]
	for _, it := range items {
		id := it.principal.ID()
		if !strings.HasPrefix(string(it.principal), "users/") || id == "" || strings.Contains(id, "@") || it.expires == 0 {
			c.dirty = true // a corrupt entry: drop it
			continue
		}
		kept = append(kept, it)
	}
	if !slices.IsSortedFunc(kept, byEmail) {
		slices.SortStableFunc(kept, byEmail)
	}
	// One entry an address (the last, where a hand-edited file repeats one).
	unique := kept[:0]
	for i, it := range kept {
		if i+1 < len(kept) && kept[i+1].email == it.email {
			continue
		}
		unique = append(unique, it)
	}
	c.items = slices.Clip(unique)
}

func byEmail(a, b cacheItem) int { return strings.Compare(a.email, b.email) }

// cacheHeader is what the document records beside its entries.
type cacheHeader struct {
	users           int // directory_users
	listsShowEmails bool
}

// readCacheFast reads the document exactly as encodeLocked writes it,
// with its strings pointing into one copy of the document; false for
// anything else (an older version, escapes), which encoding/json reads.
func readCacheFast(data []byte) (items []cacheItem, head cacheHeader, ok bool) {
	doc := string(data)
	rest, ok := strings.CutPrefix(doc, `{"version":2`)
	if !ok {
		return nil, cacheHeader{}, false
	}
	if r, found := strings.CutPrefix(rest, `,"directory_users":`); found {
		if head.users, rest, ok = cutInt(r); !ok {
			return nil, cacheHeader{}, false
		}
		head.users = max(0, head.users)
	}
	rest, head.listsShowEmails = strings.CutPrefix(rest, `,"lists_show_emails":true`)
	if rest, ok = strings.CutPrefix(rest, `,"entries":[`); !ok {
		return nil, cacheHeader{}, false
	}
	items = make([]cacheItem, 0, strings.Count(rest, `{"e":`))
	for !strings.HasPrefix(rest, "]}") {
		if len(items) > 0 {
			if rest, ok = strings.CutPrefix(rest, ","); !ok {
				return nil, cacheHeader{}, false
			}
		}
		var it cacheItem
		var p string
		var x int
		if rest, ok = strings.CutPrefix(rest, `{"e":`); !ok {
			return nil, cacheHeader{}, false
		}
		if it.email, rest, ok = cutString(rest); !ok {
			return nil, cacheHeader{}, false
		}
		if rest, ok = strings.CutPrefix(rest, `,"p":`); !ok {
			return nil, cacheHeader{}, false
		}
		if p, rest, ok = cutString(rest); !ok {
			return nil, cacheHeader{}, false
		}
		if rest, ok = strings.CutPrefix(rest, `,"x":`); !ok {
			return nil, cacheHeader{}, false
		}
		if x, rest, ok = cutInt(rest); !ok {
			return nil, cacheHeader{}, false
		}
		rest, it.suspended = strings.CutPrefix(rest, `,"s":true`)
		if rest, ok = strings.CutPrefix(rest, "}"); !ok {
			return nil, cacheHeader{}, false
		}
		it.principal, it.expires = membership.Principal(p), int64(x)
		items = append(items, it)
	}
	return items, head, rest == "]}"
}

// cutString cuts a JSON string without escapes from the front of s.
func cutString(s string) (value, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", s, false
	}
	end := strings.IndexAny(s[1:], `"\`)
	if end < 0 || s[1+end] != '"' {
		return "", s, false
	}
	return s[1 : 1+end], s[2+end:], true
}

// cutInt cuts a decimal integer from the front of s.
func cutInt(s string) (int, string, bool) {
	end := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || end == 0 && s[end] == '-') {
		end++
	}
	n, err := strconv.Atoi(s[:end])
	return n, s[end:], err == nil
}

// readCacheJSON reads any version encoding/json can: version 1 (a map of
// timestamps) and version 2 with escapes.
func readCacheJSON(data []byte) (_ []cacheItem, head cacheHeader, version int, _ error) {
	var f cacheFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, cacheHeader{}, 0, err
	}
	var items []cacheItem
	switch f.Version {
	case 1:
		entries := map[string]CacheEntry{}
		if err := json.Unmarshal(f.Entries, &entries); err != nil {
			return nil, cacheHeader{}, 0, err
		}
		for email, e := range entries {
			x := e.Expires.Unix()
			if e.Expires.IsZero() {
				x = 0
			}
			items = append(items, cacheItem{email: email, principal: e.Principal, expires: x, suspended: e.Suspended})
		}
	case 2:
		var records []cacheRecord
		if err := json.Unmarshal(f.Entries, &records); err != nil {
			return nil, cacheHeader{}, 0, err
		}
		for _, r := range records {
			items = append(items, cacheItem{email: r.Email, principal: r.Principal, expires: r.Expires, suspended: r.Suspended})
		}
	default:
		return nil, cacheHeader{}, 0, fmt.Errorf("version %d", f.Version)
	}
	return items, cacheHeader{users: f.DirectoryUsers, listsShowEmails: f.ListsShowEmails}, f.Version, nil
}

// find is email's item, if read and not dropped.
func (c *Cache) find(email string) (*cacheItem, bool) {
	i, ok := slices.BinarySearchFunc(c.items, email, func(it cacheItem, e string) int { return strings.Compare(it.email, e) })
	if !ok || c.items[i].dropped {
		return nil, false
	}
	return &c.items[i], true
}

// Get returns a fresh entry.
func (c *Cache) Get(email string) (CacheEntry, bool) {
	<-c.ready
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.find(email)
	if !ok || c.now().Unix() >= it.expires {
		return CacheEntry{}, false
	}
	return CacheEntry{Principal: it.principal, Suspended: it.suspended, Expires: time.Unix(it.expires, 0)}, true
}

// Resolved hands the cache, at the end of a run, what the run resolved
// at a call's cost, for Save to write beside (and over) what it read: a
// million Puts would build a second map of a million entries just to
// write them out. Get does not see them.
func (c *Cache) Resolved(n int, entries Entries) {
	<-c.ready
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > 0 { // a run that resolved everything from the cache leaves it as it is
		c.resolved, c.resolvedN, c.dirty = entries, n, true
	}
}

// DirectoryUsers is how many users the last whole Directory pass saw (0:
// none recorded).
func (c *Cache) DirectoryUsers() int {
	<-c.ready
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.directoryUsers
}

// SetDirectoryUsers records the size of a whole Directory pass.
func (c *Cache) SetDirectoryUsers(n int) {
	<-c.ready
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.directoryUsers != n {
		c.directoryUsers, c.dirty = n, true
	}
}

// ListsShowEmails reports whether the last run's lists showed every
// person's email.
func (c *Cache) ListsShowEmails() bool {
	<-c.ready
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.listsShowEmails
}

// SetListsShowEmails records whether this run's lists showed every
// person's email.
func (c *Cache) SetListsShowEmails(yes bool) {
	<-c.ready
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.listsShowEmails != yes {
		c.listsShowEmails, c.dirty = yes, true
	}
}

// Drop forgets an entry found stale.
func (c *Cache) Drop(email string) {
	<-c.ready
	c.mu.Lock()
	defer c.mu.Unlock()
	if it, ok := c.find(email); ok {
		it.dropped, c.dirty = true, true
	}
}

// Save writes the cache when it changed, on the condition that nobody
// wrote it since it was read (then the other run's entries stand).
func (c *Cache) Save(ctx context.Context) error {
	<-c.ready
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty || c.version == "?" {
		return nil
	}
	data := c.encodeLocked()
	write := c.store.Write
	if lazy, ok := c.store.(state.LazyWriter); ok {
		write = lazy.WriteLazy // a lost cache costs lookups, not correctness
	}
	version, err := write(ctx, c.name, data, c.version)
	if err != nil {
		return err
	}
	c.version, c.dirty = version, false
	return nil
}

// encodeLocked writes the document by hand, sorted by email: with a
// million entries, encoding/json's reflection and its copies of the whole
// document (the entries, then the file around them) cost seconds and
// hundreds of megabytes at the very end of a run. It is what json.Marshal
// of a cacheFile of cacheRecords gives, compacted.
func (c *Cache) encodeLocked() []byte {
	now := c.now().Unix()
	kept := make([]*cacheItem, 0, len(c.items))
	for i := range c.items {
		if it := &c.items[i]; !it.dropped && now < it.expires {
			kept = append(kept, it)
		}
	}
	b := make([]byte, 0, 64+(len(kept)+c.resolvedN)*72) // sized once: a million entries are 72 MB
	b = append(b, `{"version":2`...)
	if c.directoryUsers > 0 {
		b = append(b, `,"directory_users":`...)
		b = strconv.AppendInt(b, int64(c.directoryUsers), 10)
	}
	if c.listsShowEmails {
		b = append(b, `,"lists_show_emails":true`...)
	}
	b = append(b, `,"entries":[`...)
	first := true
	entry := func(email string, p membership.Principal, expires int64, suspended bool) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, `{"e":`...)
		b = appendJSONString(b, email)
		b = append(b, `,"p":`...)
		b = appendJSONString(b, string(p))
		b = append(b, `,"x":`...)
		b = strconv.AppendInt(b, expires, 10)
		if suspended {
			b = append(b, `,"s":true`...)
		}
		b = append(b, '}')
	}
	if c.resolved != nil {
		// Both in email order: merge them, the run's answers over what was read.
		expires := c.now().Add(c.ttl).Unix()
		c.resolved(func(email string, p membership.Principal, suspended bool) bool {
			for len(kept) > 0 && kept[0].email < email {
				entry(kept[0].email, kept[0].principal, kept[0].expires, kept[0].suspended)
				kept = kept[1:]
			}
			if len(kept) > 0 && kept[0].email == email {
				kept = kept[1:]
			}
			entry(email, p, expires, suspended)
			return true
		})
	}
	for _, it := range kept {
		entry(it.email, it.principal, it.expires, it.suspended)
	}
	return append(b, "]}"...)
}

// appendJSONString appends s as a JSON string, as encoding/json would
// (HTML characters escaped too).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= 0x80 {
			q, _ := json.Marshal(s) // rare: an address with such a character
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
