package identity

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
	"github.com/syncer-dev/syncer/internal/state"
	"github.com/syncer-dev/syncer/internal/throttle"
)

// cacheWith opens an identity cache whose document holds entries (see
// cacheEntry) and, when above 0, the Directory's size. (cache_test.go's
// cacheOf builds one in memory, but with a recorded size and lists that
// showed emails: both change how a run chooses its pass.)
func cacheWith(t testing.TB, directoryUsers int, entries ...string) *Cache {
	t.Helper()
	dir := t.TempDir()
	doc := fmt.Sprintf(`{"version":2,"directory_users":%d,"entries":[%s]}`, directoryUsers, strings.Join(entries, ","))
	if directoryUsers == 0 {
		doc = `{"version":2,"entries":[` + strings.Join(entries, ",") + `]}`
	}
	if err := os.WriteFile(filepath.Join(dir, "cache.json"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return OpenCache(context.Background(), &state.Dir{Path: dir}, "cache.json", time.Hour, time.Now, func(msg string) { t.Error(msg) })
}

// cacheEntry is one cache entry saying email is principal, fresh for an
// hour; suspended marks it so.
func cacheEntry(email, principal string, suspended bool) string {
	s := ""
	if suspended {
		s = `,"s":true`
	}
	return fmt.Sprintf(`{"e":%q,"p":%q,"x":%d%s}`, email, principal, time.Now().Add(time.Hour).Unix(), s)
}

// freeThrottle paces nothing and retries at once.
func freeThrottle() *throttle.Throttle {
	return throttle.New(throttle.Limits{DirectoryPerMinute: 1e6, MaxAttempts: 3, BaseDelay: time.Millisecond})
}

// emulatedDirectory starts the emulator on seed (lists without emails) and
// returns it with a Directory client for it.
func emulatedDirectory(t testing.TB, seed *emulator.Seed) (*emulator.Server, *chatapi.Directory) {
	t.Helper()
	em, url := emulatortest.Start(t, seed, emulator.Options{HideEmails: true})
	d, err := chatapi.NewDirectory(context.Background(), url, chatapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return em, d
}
