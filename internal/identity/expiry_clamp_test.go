package identity

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/state"
)

// No entry is trusted past now + identity.cache_ttl, whatever expiry the
// document gives it (a run whose clock ran ahead, a cache written under a
// longer ttl, a hand edit): it is brought within the ttl, the run says so,
// and the cache is rewritten. One within the ttl keeps its expiry.
func TestCacheExpiriesAreClampedToTheTTL(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	far, near := now.AddDate(50, 0, 0).Unix(), now.Add(30*time.Minute).Unix()
	doc := fmt.Sprintf(`{"version":2,"entries":[{"e":"alice@corp.test","p":"users/1","x":%d},{"e":"bob@corp.test","p":"users/2","x":%d}]}`, far, near)
	path := filepath.Join(dir, "cache.json")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	var warned []string
	c := OpenCache(context.Background(), &state.Dir{Path: dir}, "cache.json", time.Hour, time.Now, func(m string) { warned = append(warned, m) })
	alice, ok := c.Get("alice@corp.test")
	if !ok || alice.Expires.After(now.Add(time.Hour+expirySlack+time.Second)) {
		t.Errorf("alice@: trusted %v until %v; want within the hour's ttl", ok, alice.Expires)
	}
	if bob, ok := c.Get("bob@corp.test"); !ok || bob.Expires.Unix() != near {
		t.Errorf("bob@: trusted %v until %v; want its own expiry, within the ttl", ok, bob.Expires)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "1 entries were to be trusted longer than identity.cache_ttl") {
		t.Errorf("warnings %q; want one about the entry past the ttl", warned)
	}
	if err := c.Save(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), fmt.Sprint(far)) {
		t.Errorf("the saved cache still says %d: %s", far, data)
	}
}
