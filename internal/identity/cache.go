package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/state"
)

// Cache is a persistent email → ID map with an expiry, so scheduled runs skip
// lookups. A corrupt file or entry is dropped and rebuilt, never trusted.
type Cache struct {
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
}

// CacheEntry is one cached resolution.
type CacheEntry struct {
	Principal membership.Principal `json:"principal"`
	Suspended bool                 `json:"suspended,omitempty"`
	Expires   time.Time            `json:"expires"`
}

type cacheFile struct {
	Version        int                   `json:"version"`
	DirectoryUsers int                   `json:"directory_users,omitempty"`
	Entries        map[string]CacheEntry `json:"entries"`
}

// OpenCache reads the cache document name from a state store (a local
// folder, or Cloud Storage, so a stateless runner keeps it too). A missing
// document is an empty cache; one that can't be read or is corrupt is
// reported through warn, and the run starts empty: a cache saves calls, it
// decides nothing. A corrupt one is replaced.
func OpenCache(ctx context.Context, store state.Store, name string, ttl time.Duration, now func() time.Time, warn func(string)) *Cache {
	c := &Cache{store: store, name: name, ttl: ttl, now: now, items: map[string]CacheEntry{}}
	where := store.Where() + "/" + name
	data, version, err := store.Read(ctx, name)
	if err != nil {
		if !errors.Is(err, state.ErrNotExist) {
			warn(fmt.Sprintf("identity cache %s unreadable (%v); starting empty", where, err))
			c.version = "?" // never overwrite what could not be read
		}
		return c
	}
	c.version = version
	var f cacheFile
	if err := json.Unmarshal(data, &f); err != nil || f.Version != 1 {
		warn(fmt.Sprintf("identity cache %s is corrupt; starting empty", where))
		c.dirty = true
		return c
	}
	c.directoryUsers = max(0, f.DirectoryUsers)
	for email, e := range f.Entries {
		id := e.Principal.ID()
		if !strings.HasPrefix(string(e.Principal), "users/") || id == "" || strings.Contains(id, "@") || e.Expires.IsZero() {
			c.dirty = true // a corrupt entry: drop it
			continue
		}
		c.items[email] = e
	}
	return c
}

// Get returns a fresh entry.
func (c *Cache) Get(email string) (CacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[email]
	if !ok || !c.now().Before(e.Expires) {
		return CacheEntry{}, false
	}
	return e, true
}

// Put records a resolution.
func (c *Cache) Put(email string, p membership.Principal, suspended bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items[email] = CacheEntry{Principal: p, Suspended: suspended, Expires: c.now().Add(c.ttl)}
	c.dirty = true
}

// DirectoryUsers is how many users the last whole Directory pass saw (0:
// none recorded).
func (c *Cache) DirectoryUsers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.directoryUsers
}

// SetDirectoryUsers records the size of a whole Directory pass.
func (c *Cache) SetDirectoryUsers(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.directoryUsers != n {
		c.directoryUsers, c.dirty = n, true
	}
}

// Drop forgets an entry found stale.
func (c *Cache) Drop(email string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.items, email)
	c.dirty = true
}

// Save writes the cache when it changed, on the condition that nobody
// wrote it since it was read (then the other run's entries stand).
func (c *Cache) Save(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty || c.version == "?" {
		return nil
	}
	now := c.now()
	f := cacheFile{Version: 1, DirectoryUsers: c.directoryUsers, Entries: map[string]CacheEntry{}}
	for k, e := range c.items {
		if now.Before(e.Expires) {
			f.Entries[k] = e
		}
	}
	data, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return err
	}
	version, err := c.store.Write(ctx, c.name, data, c.version)
	if err != nil {
		return err
	}
	c.version, c.dirty = version, false
	return nil
}
