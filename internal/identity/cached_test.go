package identity

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/state"
)

// An address found in the cache is named by its entry's place in the
// cache's table (records.nameCached): every address must come back as its
// own entry's user, whether the space asking is the first or a later one,
// and Forget must let go of it.
func TestCachedAddressesNameTheirOwnEntries(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	dir := t.TempDir()
	// Entries out of order, one expired, one dropped as corrupt: places in
	// the table differ from places in the document.
	doc := `{"version":2,"entries":[`
	want := map[string]membership.Principal{}
	for i, name := range []string{"erin", "bob", "dave", "alice", "carol", "frank"} {
		email := name + "@example.com"
		want[email] = membership.User(fmt.Sprint(100 + i))
		doc += fmt.Sprintf(`{"e":%q,"p":%q,"x":1900000000},`, email, want[email])
	}
	doc += `{"e":"aaron@example.com","p":"users/7","x":1700000000},{"e":"bea@example.com","p":"groups/9","x":1900000000}]}`
	if err := os.WriteFile(filepath.Join(dir, "cache.json"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cache := OpenCache(context.Background(), &state.Dir{Path: dir}, "cache.json", docTTL, func() time.Time { return now }, func(msg string) { t.Error(msg) })
	space := func(name string, emails ...string) membership.DesiredSpace {
		ds := membership.DesiredSpace{Name: name}
		for _, e := range emails {
			ds.Members = append(ds.Members, membership.DesiredMember{Principal: membership.User(e), Role: membership.RoleMember})
		}
		return ds
	}
	first := space("spaces/A", "alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com")
	later := space("spaces/B", "erin@example.com", "alice@example.com", "frank@example.com", "dave@example.com")
	desired := membership.Desired{Spaces: []membership.DesiredSpace{first, later}}
	s := (&Resolver{Cache: cache}).NewService(desired, nil)
	// The lists show people without their emails, as Google mostly answers.
	listed := &membership.SpaceState{Memberships: []membership.Membership{{Name: "spaces/A/members/1", Principal: "users/999"}}}
	for _, ds := range []membership.DesiredSpace{first, later} {
		ids, _ := s.Space(context.Background(), ds, listed, nil)
		for _, m := range ds.Members {
			email := m.Principal.Email()
			if got := ids.Aliases[email]; got != want[email] || ids.ResolvedBy[email] != ByCache {
				t.Errorf("%s in %s: %s by %q, want %s by the cache", email, ds.Name, got, ids.ResolvedBy[email], want[email])
			}
		}
	}
	s.Forget("bob@example.com")
	ids, out := s.Space(context.Background(), space("spaces/C", "bob@example.com", "carol@example.com"), listed, nil)
	if p, ok := ids.Aliases["bob@example.com"]; ok {
		t.Errorf("bob, forgotten, still named %s", p)
	}
	if ids.Aliases["carol@example.com"] != want["carol@example.com"] {
		t.Errorf("carol named %s after bob was forgotten, want %s (%+v)", ids.Aliases["carol@example.com"], want["carol@example.com"], out)
	}
}
