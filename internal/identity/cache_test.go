package identity

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/membership"
)

func cacheOf(now time.Time, entries map[string]CacheEntry) *Cache {
	c := &Cache{now: func() time.Time { return now }, directoryUsers: 42, listsShowEmails: true}
	for email, e := range entries {
		c.items = append(c.items, cacheItem{email: email, principal: e.Principal, expires: e.Expires.Unix(), suspended: e.Suspended})
	}
	slices.SortFunc(c.items, byEmail)
	return c
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
	}
	c := cacheOf(now, entries)
	got := c.encodeLocked()

	var records []cacheRecord
	for k, e := range entries {
		if now.Before(e.Expires) {
			records = append(records, cacheRecord{Email: k, Principal: e.Principal, Expires: e.Expires.Unix(), Suspended: e.Suspended})
		}
	}
	slices.SortFunc(records, func(a, b cacheRecord) int { return strings.Compare(a.Email, b.Email) })
	raw, _ := json.Marshal(records)
	want, _ := json.Marshal(cacheFile{Version: 2, DirectoryUsers: 42, ListsShowEmails: true, Entries: raw})
	if string(got) != string(want) {
		t.Errorf("encoded\n%s\nwant\n%s", got, want)
	}
	// Escaped addresses: encoding/json reads it.
	if _, _, fast := readCacheFast(got); fast {
		t.Error("the fast reader took a document with escapes")
	}
	back, head, version, err := readCacheJSON(got)
	if err != nil || head != (cacheHeader{users: 42, listsShowEmails: true}) || version != 2 || len(back) != 5 || back[0].email != "a@example.com" || !back[0].suspended || back[0].principal != membership.User("1") {
		t.Errorf("read back: %v %+v %+v", err, head, back)
	}
}

func TestCacheFastReader(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := cacheOf(now, map[string]CacheEntry{
		"b@example.com": {Principal: "users/2", Expires: now.Add(time.Hour)},
		"a@example.com": {Principal: "users/1", Suspended: true, Expires: now.Add(2 * time.Hour)},
	})
	doc := c.encodeLocked()
	items, head, fast := readCacheFast(doc)
	if !fast || head != (cacheHeader{users: 42, listsShowEmails: true}) || !reflect.DeepEqual(items, c.items) {
		t.Errorf("fast read: %v %+v %+v, want %+v", fast, head, items, c.items)
	}
	c.listsShowEmails = false
	if _, head, fast := readCacheFast(c.encodeLocked()); !fast || head != (cacheHeader{users: 42}) {
		t.Errorf("without lists_show_emails: %v %+v", fast, head)
	}
	viaJSON, _, _, err := readCacheJSON(doc)
	if err != nil || !reflect.DeepEqual(viaJSON, items) {
		t.Errorf("encoding/json reads %+v (%v), the fast reader %+v", viaJSON, err, items)
	}
	for _, bad := range []string{
		`{"version":2,"entries":[{"e":"a@x","p":"users/1","x":1}`, // cut short
		`{"version":2,"entries":[{"e":"a@x","p":"users/1"}]}`,     // no expiry
		`{"version":1,"entries":{}}`,                              // another version
		` {"version":2,"entries":[]}`,                             // other spacing
	} {
		if _, _, fast := readCacheFast([]byte(bad)); fast {
			t.Errorf("the fast reader took %s", bad)
		}
	}
	if items, _, fast := readCacheFast([]byte(`{"version":2,"entries":[]}`)); !fast || len(items) != 0 {
		t.Errorf("an empty cache: %v %v", fast, items)
	}
}
