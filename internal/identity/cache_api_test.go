package identity

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/state"
)

// The cache says which API its runs called. One written against an
// emulator knows that world's users/{id}: a run against Google starts
// empty (and the other way round); emulators on other ports are one kind,
// and a cache that does not say is taken.
func TestTheCacheKeepsToItsAPI(t *testing.T) {
	now := time.Now()
	c := cacheOf(now, map[string]CacheEntry{"a@example.com": {Principal: "users/1", Expires: now.Add(time.Hour)}})
	c.api = "http://127.0.0.1:1/"
	doc := c.encodeLocked()
	var f cacheFile
	if err := json.Unmarshal(doc, &f); err != nil || f.API != c.api {
		t.Fatalf("the document says api %q (%v):\n%s", f.API, err, doc)
	}
	if _, head, fast := readCacheFast(doc, 0); !fast || head.api != c.api {
		t.Errorf("the fast reader: %v, api %q", fast, head.api)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cache.json"), doc, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		api  string
		kept bool
	}{{"google", false}, {"http://127.0.0.1:2/", true}, {"", true}} {
		var warned []string
		got := OpenCacheFor(context.Background(), &state.Dir{Path: dir}, "cache.json", tc.api, time.Hour, nil, func(m string) { warned = append(warned, m) })
		got.Loaded()
		if _, ok := got.Get("a@example.com"); ok != tc.kept {
			t.Errorf("a run against %q: the entry kept %v, want %v (warnings %q)", tc.api, ok, tc.kept, warned)
		}
		if !tc.kept && !strings.Contains(strings.Join(warned, "\n"), "another world's") {
			t.Errorf("a run against %q: warnings %q; want the other world named", tc.api, warned)
		}
	}
}
