package identity

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/state"
)

// Cache is a persistent email → ID map with an expiry, so scheduled runs skip
// lookups. A corrupt file or entry is dropped and rebuilt, never trusted.
// A big tenant's cache is a million entries, read on every run: they are
// kept as one sorted table (cacheTable, about 60 bytes an entry), found by
// binary search.
type Cache struct {
	ready   chan struct{} // closed once the document is read
	store   state.Store
	name    string
	version string // the document's version when read ("": none)
	ttl     time.Duration
	now     func() time.Time
	mu      sync.Mutex
	table   cacheTable
	// directoryUsers is how many users the last whole Directory pass saw,
	// for estimating the next one's cost, and directoryAt when (Unix
	// seconds).
	directoryUsers int
	directoryAt    int64
	// listsShowEmails: the last run's lists showed every person's email,
	// so the next need not start a Directory pass before they are read.
	listsShowEmails bool
	// api: the API this run calls (APIGoogle or an endpoint), written
	// into the document; "" writes nothing and checks nothing.
	api   string
	dirty bool
	// resolved yields, in email order, what a run resolved (see Resolved):
	// about resolvedN entries.
	resolved  Entries
	resolvedN int
}

// Entries yields addresses with their users, in email order, until yield
// returns false.
// alias says the address is not the user's primary one.
type Entries func(yield func(email string, p membership.Principal, suspended, alias bool) bool)

// CacheEntry is one cached resolution.
type CacheEntry struct {
	Principal membership.Principal `json:"principal"`
	Suspended bool                 `json:"suspended,omitempty"`
	Expires   time.Time            `json:"expires"`
	// Alias: the Directory named the address as an alias of the user (or
	// its alias domain's spelling), not as the primary one.
	Alias bool `json:"-"`
}

// OpenCache reads the cache document name from a state store (a local
// folder, or Cloud Storage, so a stateless runner keeps it too). A missing
// document is an empty cache; one that can't be read or is corrupt is
// reported through warn, and the run starts empty: a cache saves calls, it
// decides nothing. A corrupt one is replaced.
//
// The document is read in the background, while the run's first lists are
// in flight; the cache's methods wait for it. now is the clock (nil:
// time.Now).
func OpenCache(ctx context.Context, store state.Store, name string, ttl time.Duration, now func() time.Time, warn func(string)) *Cache {
	return OpenCacheFor(ctx, store, name, "", ttl, now, warn)
}

// OpenCacheFor is OpenCache for runs that call api (APIGoogle, or an
// emulator's endpoint; "" says nothing): a cache written by runs against
// the other kind knows another world's users/{id}, and the run starts
// empty, replacing it. A cache that does not say is taken.
func OpenCacheFor(ctx context.Context, store state.Store, name, api string, ttl time.Duration, now func() time.Time, warn func(string)) *Cache {
	if now == nil {
		now = time.Now
	}
	c := &Cache{store: store, name: name, api: api, ttl: ttl, now: now, ready: make(chan struct{})}
	go func() {
		defer close(c.ready)
		c.load(ctx, warn)
	}()
	return c
}

// Loaded returns once the document has been read (or could not be): a
// command that ends without asking the cache anything waits for it, so no
// warning of the load is written after the command has returned.
func (c *Cache) Loaded() { <-c.ready }

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
	now := c.now().Unix()
	table, head, fast := readCacheFast(data, now)
	if !fast {
		var err error
		var v int
		if table, head, v, err = readCacheJSON(data, now); err != nil {
			warn(fmt.Sprintf("identity cache %s is corrupt; starting empty", where))
			c.dirty = true
			return
		}
		c.dirty = v == 1 // rewritten as version 2
	}
	if c.api != "" && head.api != "" && (c.api == APIGoogle) != (head.api == APIGoogle) {
		warn(fmt.Sprintf("identity cache %s was written by runs against %s, and this run calls %s: its users/{id} are another world's; starting empty", where, head.api, c.api))
		c.dirty = true
		return
	}
	c.directoryUsers, c.listsShowEmails = max(0, head.users), head.listsShowEmails
	// A size recorded before sizes had a time (or by a clock ahead) ages
	// from now.
	c.directoryAt = head.usersAt
	if c.directoryUsers > 0 && (c.directoryAt <= 0 || c.directoryAt > now) {
		c.directoryAt = now
	}
	if table.tidy() {
		c.dirty = true // a corrupt entry was dropped
	}
	if n := table.clampExpiry(now + int64((c.ttl + expirySlack).Seconds())); n > 0 {
		// A run whose clock was ahead, a cache written under a longer
		// cache_ttl, or a hand edit: no entry is trusted past the ttl.
		warn(fmt.Sprintf("identity cache %s: %d entries were to be trusted longer than identity.cache_ttl (%s) allows (a clock ahead, or a longer ttl before?); they expire within it", where, n, c.ttl))
		c.dirty = true
	}
	c.table = table
}

// APIGoogle names Google's own APIs in the cache document (as the
// removals state does).
const APIGoogle = "google"

// expirySlack: an entry may expire this much past now + cache_ttl before
// it is taken as written by a clock that ran ahead.
const expirySlack = 5 * time.Minute

// find is email's item and its place, if read and not dropped.
func (c *Cache) find(email string) (*cacheItem, int, bool) {
	at, ok := c.table.find(email)
	if !ok || c.table.items[at].dropped {
		return nil, 0, false
	}
	return &c.table.items[at], at, true
}

// Get returns a fresh entry.
func (c *Cache) Get(email string) (CacheEntry, bool) {
	e, _, ok := c.getAt(email)
	return e, ok
}

// getAt is Get, with the entry's place in the table: the run's records
// name the principal there (principalAt) rather than copy it.
func (c *Cache) getAt(email string) (CacheEntry, int, bool) {
	<-c.ready
	c.mu.Lock()
	defer c.mu.Unlock()
	it, at, ok := c.find(email)
	if !ok || c.now().Unix() >= int64(it.expires) {
		return CacheEntry{}, 0, false
	}
	return CacheEntry{Principal: c.table.principal(it), Suspended: it.suspended, Alias: it.alias, Expires: time.Unix(int64(it.expires), 0)}, at, true
}

// principalAt is the principal of the entry at place at. A place and its
// strings never change once the document is read (Drop only marks an
// entry), so this takes no lock.
func (c *Cache) principalAt(at int) membership.Principal {
	return c.table.principal(&c.table.items[at])
}

// aliasAt says whether the entry at place at is one of an alias: like its
// principal, it never changes once the document is read.
func (c *Cache) aliasAt(at int) bool { return c.table.items[at].alias }

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
// none recorded, or recorded more than directorySizeAge ago).
//
// The size decides between a pass and a users.get per address, and only a
// pass records it: a size far too high (a tenant that shrank) would send
// every run to users.get, with no pass to correct it. So it is trusted for
// a week; after that a run chooses as a first run does, from the sources.
func (c *Cache) DirectoryUsers() int {
	<-c.ready
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now().Unix()-c.directoryAt > int64(directorySizeAge.Seconds()) {
		return 0
	}
	return c.directoryUsers
}

// directorySizeAge is how long a recorded Directory size is trusted.
const directorySizeAge = 7 * 24 * time.Hour

// SetDirectoryUsers records the size of a whole Directory pass. The same
// size seen again is written again only once a day: the document is not
// rewritten for its time alone on every run.
func (c *Cache) SetDirectoryUsers(n int) {
	<-c.ready
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now().Unix()
	if c.directoryUsers != n || now-c.directoryAt >= int64((24*time.Hour).Seconds()) {
		c.directoryUsers, c.directoryAt, c.dirty = n, now, true
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
	if it, _, ok := c.find(email); ok {
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
	var (
		version string
		err     error
	)
	if stream, ok := c.store.(state.StreamWriter); ok {
		// A lost cache costs lookups, not correctness: lazy.
		version, err = stream.WriteStream(ctx, c.name, c.encodeToLocked, c.version, true)
	} else {
		write := c.store.Write
		if lazy, ok := c.store.(state.LazyWriter); ok {
			write = lazy.WriteLazy
		}
		version, err = write(ctx, c.name, c.encodeLocked(), c.version)
	}
	if err != nil {
		return err
	}
	c.version, c.dirty = version, false
	return nil
}
