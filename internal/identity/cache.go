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
type Cache struct {
	ready   chan struct{} // closed once the document is read
	store   state.Store
	name    string
	version string // the document's version when read ("": none)
	ttl     time.Duration
	now     func() time.Time
	mu      sync.Mutex
	items   map[string]CacheEntry
	// directoryUsers is how many users the last whole Directory pass saw,
	// for estimating the next one's cost.
	directoryUsers int
	dirty          bool
	// resolved yields, in email order, what a run resolved (see Resolved):
	// about resolvedN entries.
	resolved  Entries
	resolvedN int
}

// Entries yields addresses with their users, in email order, until yield
// returns false.
type Entries func(yield func(email string, p membership.Principal, suspended bool) bool)

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
	Version        int             `json:"version"`
	DirectoryUsers int             `json:"directory_users,omitempty"`
	Entries        json.RawMessage `json:"entries"`
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
	c := &Cache{store: store, name: name, ttl: ttl, now: now, items: map[string]CacheEntry{}, ready: make(chan struct{})}
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
	var f cacheFile
	entries, err := func() (map[string]CacheEntry, error) {
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, err
		}
		out := map[string]CacheEntry{}
		switch f.Version {
		case 1:
			c.dirty = true // rewritten as version 2
			return out, json.Unmarshal(f.Entries, &out)
		case 2:
			var records []cacheRecord
			if err := json.Unmarshal(f.Entries, &records); err != nil {
				return nil, err
			}
			for _, r := range records {
				out[r.Email] = CacheEntry{Principal: r.Principal, Suspended: r.Suspended, Expires: time.Unix(r.Expires, 0)}
			}
			return out, nil
		}
		return nil, fmt.Errorf("version %d", f.Version)
	}()
	if err != nil {
		warn(fmt.Sprintf("identity cache %s is corrupt; starting empty", where))
		c.dirty = true
		return
	}
	c.directoryUsers = max(0, f.DirectoryUsers)
	for email, e := range entries {
		id := e.Principal.ID()
		if !strings.HasPrefix(string(e.Principal), "users/") || id == "" || strings.Contains(id, "@") || e.Expires.IsZero() {
			c.dirty = true // a corrupt entry: drop it
			continue
		}
		c.items[email] = e
	}
	return
}

// Get returns a fresh entry.
func (c *Cache) Get(email string) (CacheEntry, bool) {
	<-c.ready
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[email]
	if !ok || !c.now().Before(e.Expires) {
		return CacheEntry{}, false
	}
	return e, true
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

// Drop forgets an entry found stale.
func (c *Cache) Drop(email string) {
	<-c.ready
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.items, email)
	c.dirty = true
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
	now := c.now()
	emails := make([]string, 0, len(c.items))
	for k, e := range c.items {
		if now.Before(e.Expires) {
			emails = append(emails, k)
		}
	}
	slices.Sort(emails)
	b := make([]byte, 0, 64+(len(emails)+c.resolvedN)*72) // sized once: a million entries are 72 MB
	b = append(b, `{"version":2`...)
	if c.directoryUsers > 0 {
		b = append(b, `,"directory_users":`...)
		b = strconv.AppendInt(b, int64(c.directoryUsers), 10)
	}
	b = append(b, `,"entries":[`...)
	first := true
	entry := func(email string, e CacheEntry) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, `{"e":`...)
		b = appendJSONString(b, email)
		b = append(b, `,"p":`...)
		b = appendJSONString(b, string(e.Principal))
		b = append(b, `,"x":`...)
		b = strconv.AppendInt(b, e.Expires.Unix(), 10)
		if e.Suspended {
			b = append(b, `,"s":true`...)
		}
		b = append(b, '}')
	}
	if c.resolved != nil {
		// Both in email order: merge them, the run's answers over what was read.
		expires := now.Add(c.ttl)
		c.resolved(func(email string, p membership.Principal, suspended bool) bool {
			for len(emails) > 0 && emails[0] < email {
				entry(emails[0], c.items[emails[0]])
				emails = emails[1:]
			}
			if len(emails) > 0 && emails[0] == email {
				emails = emails[1:]
			}
			entry(email, CacheEntry{Principal: p, Suspended: suspended, Expires: expires})
			return true
		})
	}
	for _, email := range emails {
		entry(email, c.items[email])
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
