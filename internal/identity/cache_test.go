package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/state"
)

func cacheOf(now time.Time, entries map[string]CacheEntry) *Cache {
	c := &Cache{now: func() time.Time { return now }, directoryUsers: 42, directoryAt: now.Unix() - 60, listsShowEmails: true}
	b := newTableBuilder(0, 0, 0)
	for email, e := range entries {
		b.add([]byte(email), []byte(e.Principal), e.Expires.Unix(), e.Suspended, e.Alias)
	}
	c.table = b.table()
	slices.SortFunc(c.table.items, c.table.compare)
	return c
}

// records lists a table's entries in its order.
func (t *cacheTable) records() []cacheRecord {
	var out []cacheRecord
	for i := range t.items {
		it := &t.items[i]
		out = append(out, cacheRecord{Email: t.email(it), Principal: t.principal(it), Expires: int64(it.expires), Suspended: it.suspended, Alias: it.alias})
	}
	return out
}

// The hand-written document is what encoding/json writes for it, and
// reads back to the same entries, by the fast reader where it can.
func TestCacheEncodingIsJSON(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	entries := map[string]CacheEntry{
		"b@example.com":       {Principal: "users/2", Expires: now.Add(time.Hour)},
		"a@example.com":       {Principal: "users/1", Suspended: true, Expires: now.Add(2 * time.Hour)},
		`q"uo\te<&>@x.test`:   {Principal: "users/3", Expires: now.Add(time.Hour)},
		"ünï@example.com":     {Principal: "users/4", Expires: now.Add(time.Hour)},
		"expired@example.com": {Principal: "users/5", Expires: now.Add(-time.Second)},
		"ctl\x01@example.com": {Principal: "users/6", Expires: now.Add(time.Hour)},
		"al@alias.example":    {Principal: "users/7", Alias: true, Expires: now.Add(time.Hour)},
		"sa@alias.example":    {Principal: "users/1", Suspended: true, Alias: true, Expires: now.Add(time.Hour)},
	}
	c := cacheOf(now, entries)
	got := c.encodeLocked()

	var records []cacheRecord
	for k, e := range entries {
		if now.Before(e.Expires) {
			records = append(records, cacheRecord{Email: k, Principal: e.Principal, Expires: e.Expires.Unix(), Suspended: e.Suspended, Alias: e.Alias})
		}
	}
	slices.SortFunc(records, func(a, b cacheRecord) int { return strings.Compare(a.Email, b.Email) })
	raw, _ := json.Marshal(records)
	want, _ := json.Marshal(cacheFile{Version: 2, DirectoryUsers: 42, DirectoryAt: now.Unix() - 60, ListsShowEmails: true, Entries: raw})
	if string(got) != string(want) {
		t.Errorf("encoded\n%s\nwant\n%s", got, want)
	}
	// Escaped addresses: encoding/json reads it.
	if _, _, fast := readCacheFast(got, 0); fast {
		t.Error("the fast reader took a document with escapes")
	}
	table, head, version, err := readCacheJSON(got, 0)
	if back := table.records(); err != nil || head != (cacheHeader{users: 42, usersAt: now.Unix() - 60, listsShowEmails: true}) || version != 2 || !reflect.DeepEqual(back, records) {
		t.Errorf("read back: %v %+v %+v\nwant %+v", err, head, back, records)
	}
}

func TestCacheFastReader(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := cacheOf(now, map[string]CacheEntry{
		"b@example.com": {Principal: "users/2", Expires: now.Add(time.Hour)},
		"a@example.com": {Principal: "users/1", Suspended: true, Expires: now.Add(2 * time.Hour)},
		"c@alias.test":  {Principal: "users/2", Alias: true, Expires: now.Add(time.Hour)},
		"d@alias.test":  {Principal: "users/1", Suspended: true, Alias: true, Expires: now.Add(time.Hour)},
	})
	doc := c.encodeLocked()
	if !bytes.Contains(doc, []byte(`{"e":"d@alias.test","p":"users/1","x":1800003600,"s":true,"a":true}`)) {
		t.Errorf("an alias's entry is not written as it should be:\n%s", doc)
	}
	table, head, fast := readCacheFast(doc, 0)
	items := table.records()
	if !fast || head != (cacheHeader{users: 42, usersAt: now.Unix() - 60, listsShowEmails: true}) || !reflect.DeepEqual(items, c.table.records()) {
		t.Errorf("fast read: %v %+v %+v, want %+v", fast, head, items, c.table.records())
	}
	c.listsShowEmails = false
	if _, head, fast := readCacheFast(c.encodeLocked(), 0); !fast || head != (cacheHeader{users: 42, usersAt: now.Unix() - 60}) {
		t.Errorf("without lists_show_emails: %v %+v", fast, head)
	}
	viaJSON, _, _, err := readCacheJSON(doc, 0)
	if err != nil || !reflect.DeepEqual(viaJSON.records(), items) {
		t.Errorf("encoding/json reads %+v (%v), the fast reader %+v", viaJSON, err, items)
	}
	for _, bad := range []string{
		`{"version":2,"entries":[{"e":"a@x","p":"users/1","x":1}`, // cut short
		`{"version":2,"entries":[{"e":"a@x","p":"users/1"}]}`,     // no expiry
		`{"version":1,"entries":{}}`,                              // another version
		` {"version":2,"entries":[]}`,                             // other spacing
	} {
		if _, _, fast := readCacheFast([]byte(bad), 0); fast {
			t.Errorf("the fast reader took %s", bad)
		}
	}
	if table, _, fast := readCacheFast([]byte(`{"version":2,"entries":[]}`), 0); !fast || len(table.items) != 0 {
		t.Errorf("an empty cache: %v %v", fast, table.items)
	}
}

// A recorded Directory size is trusted for a week from the pass that saw
// it; one recorded before sizes had a time, or by a clock ahead, ages from
// the read. The same size seen again is written again once a day.
func TestTheDirectorySizeAges(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	const day = 24 * time.Hour
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	for _, tc := range []struct {
		name string
		doc  string
		left time.Duration // how much longer it is trusted (0: not now)
	}{
		{"a day old", fmt.Sprintf(`{"version":2,"directory_users":500,"directory_users_at":%d,"entries":[]}`, at(-day)), 6 * day},
		{"eight days old", fmt.Sprintf(`{"version":2,"directory_users":500,"directory_users_at":%d,"entries":[]}`, at(-8*day)), 0},
		{"eight days old, read by encoding/json", fmt.Sprintf(`{"version":2,"directory_users":500,"directory_users_at":%d,"entries":[{"e":"\u0061@x.test","p":"users/1","x":%d}]}`, at(-8*day), at(time.Minute)), 0},
		{"no time", `{"version":2,"directory_users":500,"entries":[]}`, 7 * day},
		{"a time ahead", fmt.Sprintf(`{"version":2,"directory_users":500,"directory_users_at":%d,"entries":[]}`, at(30*day)), 7 * day},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "cache.json"), []byte(tc.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			clock := now
			c := OpenCache(context.Background(), &state.Dir{Path: dir}, "cache.json", time.Hour, func() time.Time { return clock }, func(msg string) { t.Error(msg) })
			got := c.DirectoryUsers() // waits for the read, at now
			if tc.left == 0 {
				if got != 0 {
					t.Fatalf("DirectoryUsers() = %d, want none", got)
				}
				return
			}
			clock = now.Add(tc.left - time.Minute)
			if got := c.DirectoryUsers(); got != 500 {
				t.Errorf("a minute before it ages out: DirectoryUsers() = %d, want 500", got)
			}
			clock = now.Add(tc.left + time.Minute)
			if got := c.DirectoryUsers(); got != 0 {
				t.Errorf("a minute after it ages out: DirectoryUsers() = %d, want none", got)
			}
		})
	}

	c := cacheOf(now, nil)
	c.ready = make(chan struct{})
	close(c.ready)
	c.directoryAt = at(-2 * time.Hour)
	c.SetDirectoryUsers(42)
	if c.dirty || c.directoryAt != at(-2*time.Hour) {
		t.Errorf("the same size two hours later: rewritten %v, at %d", c.dirty, c.directoryAt)
	}
	c.SetDirectoryUsers(43)
	if !c.dirty || c.directoryAt != now.Unix() {
		t.Errorf("a new size: rewritten %v, at %d (want %d)", c.dirty, c.directoryAt, now.Unix())
	}
	c.dirty, c.directoryAt = false, at(-day)
	c.SetDirectoryUsers(43)
	if !c.dirty || c.directoryAt != now.Unix() {
		t.Errorf("the same size a day later: rewritten %v, at %d (want %d)", c.dirty, c.directoryAt, now.Unix())
	}
	if !bytes.Contains(c.encodeLocked(), []byte(fmt.Sprintf(`"directory_users":43,"directory_users_at":%d,`, now.Unix()))) {
		t.Errorf("the document does not record when: %s", c.encodeLocked())
	}
}

// A hand-edited document: entries out of order, one address twice (the
// last stands), a group and an entry with no expiry (dropped, and the
// document marked for rewriting). What stands is found; the table holds
// none of the document's bytes.
// docTTL trusts the hand-written documents' expiries (1,900,000,000,
// three years past their now): entries past now + cache_ttl are clamped.
const docTTL = 4 * 365 * 24 * time.Hour

func TestCacheTidiesWhatItReads(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	dir := t.TempDir()
	doc := `{"version":2,"entries":[` +
		`{"e":"c@example.com","p":"users/3","x":1900000000},` +
		`{"e":"a@example.com","p":"users/1","x":1900000000,"s":true},` +
		`{"e":"b@example.com","p":"users/20","x":1900000000},` +
		`{"e":"g@example.com","p":"groups/7","x":1900000000},` +
		`{"e":"z@example.com","p":"users/9","x":0},` +
		`{"e":"old@example.com","p":"users/8","x":1700000000},` +
		`{"e":"b@example.com","p":"users/2","x":1900000000},` +
		// An expired repeat says nothing: the fresh entry before it stands.
		`{"e":"c@example.com","p":"users/30","x":1700000000}]}`
	if err := os.WriteFile(filepath.Join(dir, "cache.json"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	c := OpenCache(context.Background(), &state.Dir{Path: dir}, "cache.json", docTTL, func() time.Time { return now }, func(msg string) { t.Error(msg) })
	c.DirectoryUsers() // waits for the read
	want := []cacheRecord{
		{Email: "a@example.com", Principal: "users/1", Expires: 1900000000, Suspended: true},
		{Email: "b@example.com", Principal: "users/2", Expires: 1900000000},
		{Email: "c@example.com", Principal: "users/3", Expires: 1900000000},
	}
	if got := c.table.records(); !reflect.DeepEqual(got, want) {
		t.Errorf("table %+v\nwant %+v", got, want)
	}
	for _, w := range want {
		if e, ok := c.Get(w.Email); !ok || e.Principal != w.Principal || e.Suspended != w.Suspended {
			t.Errorf("Get(%s) = %+v, %v", w.Email, e, ok)
		}
	}
	for _, gone := range []string{"g@example.com", "z@example.com", "old@example.com", "d@example.com"} {
		if e, ok := c.Get(gone); ok {
			t.Errorf("Get(%s) = %+v, want nothing", gone, e)
		}
	}
	if !c.dirty {
		t.Error("dropped entries, but the document is not to be rewritten")
	}
	if strings.Contains(c.table.arena, "old@") {
		t.Errorf("the table holds an expired entry: %q", c.table.arena)
	}
	if len(c.table.arena) > len(doc)/2 {
		t.Errorf("the table holds %d bytes of a %d-byte document: %q", len(c.table.arena), len(doc), c.table.arena)
	}

	// An entry too long to keep is left out, and the document rewritten.
	long := `{"version":2,"entries":[{"e":"a@example.com","p":"users/1","x":1900000000},{"e":"` + strings.Repeat("x", 70_000) + `@example.com","p":"users/2","x":1900000000}]}`
	if err := os.WriteFile(filepath.Join(dir, "long.json"), []byte(long), 0o600); err != nil {
		t.Fatal(err)
	}
	c = OpenCache(context.Background(), &state.Dir{Path: dir}, "long.json", docTTL, func() time.Time { return now }, func(msg string) { t.Error(msg) })
	c.DirectoryUsers()
	if got := c.table.records(); len(got) != 1 || got[0].Email != "a@example.com" || !c.dirty {
		t.Errorf("with a 70,000-byte address: %+v, to be rewritten %v", got, c.dirty)
	}
}

// Both readers leave out what has expired, and keep what has not: a run
// a day after the pass that filled the cache holds none of it.
func TestCacheReadersLeaveOutExpiredEntries(t *testing.T) {
	now := int64(1_800_000_000)
	doc := `{"version":2,"entries":[{"e":"a@example.com","p":"users/1","x":1799999999},{"e":"b@example.com","p":"users/2","x":1800000000},{"e":"c@example.com","p":"users/3","x":1800000001}]}`
	want := []cacheRecord{{Email: "c@example.com", Principal: "users/3", Expires: 1800000001}}
	data := []byte(doc)
	fast, _, ok := readCacheFast(data, now)
	clear(data) // nothing read may point into it
	if got := fast.records(); !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("fast reader: %v %+v, want %+v", ok, got, want)
	}
	if len(fast.arena) != len("c@example.comusers/3") {
		t.Errorf("fast reader's table holds %q", fast.arena)
	}
	escaped := strings.Replace(doc, "c@example.com", `c\u0040example.com`, 1)
	data = []byte(escaped)
	viaJSON, _, _, err := readCacheJSON(data, now)
	clear(data)
	if got := viaJSON.records(); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("encoding/json reader: %v %+v, want %+v", err, got, want)
	}
	v1 := `{"version":1,"entries":{"a@example.com":{"principal":"users/1","expires":"2020-01-01T00:00:00Z"},"c@example.com":{"principal":"users/3","expires":"2030-01-01T00:00:00Z"}}}`
	old, _, _, err := readCacheJSON([]byte(v1), now)
	if got := old.records(); err != nil || len(got) != 1 || got[0].Email != "c@example.com" {
		t.Errorf("version 1: %v %+v", err, got)
	}
}

// A corrupt document is not trusted for the room it asks for: one of
// nothing but `{"e":` would have had 16 bytes made for every 5.
func TestCacheFastReaderBoundsItsRoom(t *testing.T) {
	doc := []byte(`{"version":2,"entries":[` + strings.Repeat(`{"e":`, 1_000_000))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, _, ok := readCacheFast(doc, 0); ok {
		t.Fatal("the fast reader took a corrupt document")
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
		t.Errorf("reading a 5 MB corrupt document allocated %d MB", got>>20)
	}
}

// A table read from a document of expired entries holds no room for them:
// the run a day that finds the whole cache expired must not carry it.
func TestCacheOfExpiredEntriesHoldsNoRoom(t *testing.T) {
	var doc strings.Builder
	doc.WriteString(`{"version":2,"entries":[`)
	for i := range 100_000 {
		fmt.Fprintf(&doc, `{"e":"user%07d@example.com","p":"users/%d","x":1700000000},`, i, 100_000_000_000_000+i)
	}
	doc.WriteString(`{"e":"zoe@example.com","p":"users/1","x":1900000000}]}`)
	data := []byte(doc.String())
	size := len(data)
	doc.Reset()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	table, _, ok := readCacheFast(data, 1_800_000_000)
	data = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc) + int64(size) // the document is garbage now
	if !ok || len(table.items) != 1 {
		t.Fatalf("read %v, %d entries", ok, len(table.items))
	}
	if held > 1<<20 {
		t.Errorf("a table of one entry holds %d KB (a %d KB document of expired entries read)", held>>10, size>>10)
	}
	runtime.KeepAlive(table)
}

// Saved to a local folder, the cache is written as it is encoded (never
// whole in memory), and the file is the document encodeLocked gives; a
// writer that fails stops the encoding with its error.
func TestCacheSavedAsItIsEncoded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	entries := map[string]CacheEntry{}
	for i := range 5000 { // ~300 KB: several of the encoder's 64 KB writes
		entries[fmt.Sprintf("user%05d@example.com", i)] = CacheEntry{Principal: membership.User(fmt.Sprint(100000 + i)), Expires: now.Add(time.Hour), Suspended: i%7 == 0}
	}
	c := cacheOf(now, entries)
	dir := t.TempDir()
	store := &streamCounter{Dir: &state.Dir{Path: dir}}
	c.ready, c.store, c.name, c.dirty = make(chan struct{}), store, "cache.json", true
	close(c.ready)
	if err := c.Save(context.Background()); err != nil || store.streams != 1 {
		t.Fatalf("save: %v, %d streamed writes", err, store.streams)
	}
	got, err := os.ReadFile(filepath.Join(dir, "cache.json"))
	if want := c.encodeLocked(); err != nil || string(got) != string(want) || len(want) < 200_000 {
		t.Fatalf("saved %d bytes (%v), encoded %d; equal: %v", len(got), err, len(want), string(got) == string(want))
	}
	if _, v, _ := c.store.Read(context.Background(), "cache.json"); c.version != v || c.dirty {
		t.Errorf("after the save: version %q (the file's %q), dirty %v", c.version, v, c.dirty)
	}
	w := &failingWriter{after: 2}
	if err := c.encodeToLocked(w); err == nil || w.writes != 3 {
		t.Errorf("a writer failing at its third write: %v after %d writes", err, w.writes)
	}
}

type failingWriter struct{ after, writes int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.writes++; w.writes > w.after {
		return 0, fmt.Errorf("disk full")
	}
	return len(p), nil
}

// streamCounter is a local folder that counts the documents written as
// they are encoded.
type streamCounter struct {
	*state.Dir
	streams int
}

func (s *streamCounter) WriteStream(ctx context.Context, name string, encode func(io.Writer) error, ifVersion string, lazy bool) (string, error) {
	s.streams++
	return s.Dir.WriteStream(ctx, name, encode, ifVersion, lazy)
}
