package identity

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/membership"
)

// The hand-written document is what encoding/json writes for it, and
// reads back to the same entries.
func TestCacheEncodingIsJSON(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := &Cache{now: func() time.Time { return now }, directoryUsers: 42, items: map[string]CacheEntry{
		"b@example.com":       {Principal: "users/2", Expires: now.Add(time.Hour)},
		"a@example.com":       {Principal: "users/1", Suspended: true, Expires: now.Add(2 * time.Hour)},
		`q"uo\te<&>@x.test`:   {Principal: "users/3", Expires: now.Add(time.Hour)},
		"ünï@example.com":     {Principal: "users/4", Expires: now.Add(time.Hour)},
		"expired@example.com": {Principal: "users/5", Expires: now.Add(-time.Second)},
		"ctl\x01@example.com": {Principal: "users/6", Expires: now.Add(time.Hour)},
	}}
	got := c.encodeLocked()

	var records []cacheRecord
	for k, e := range c.items {
		if now.Before(e.Expires) {
			records = append(records, cacheRecord{Email: k, Principal: e.Principal, Expires: e.Expires.Unix(), Suspended: e.Suspended})
		}
	}
	slices.SortFunc(records, func(a, b cacheRecord) int { return strings.Compare(a.Email, b.Email) })
	entries, _ := json.Marshal(records)
	want, _ := json.Marshal(cacheFile{Version: 2, DirectoryUsers: 42, Entries: entries})
	if string(got) != string(want) {
		t.Errorf("encoded\n%s\nwant\n%s", got, want)
	}
	var f cacheFile
	if err := json.Unmarshal(got, &f); err != nil || f.Version != 2 || f.DirectoryUsers != 42 {
		t.Fatalf("read back: %v %+v", err, f)
	}
	var back []cacheRecord
	if err := json.Unmarshal(f.Entries, &back); err != nil || len(back) != 5 || back[0].Email != "a@example.com" || !back[0].Suspended || back[0].Principal != membership.User("1") {
		t.Errorf("entries read back: %v %+v", err, back)
	}
}
