package identity

import (
	"fmt"
	"slices"
	"testing"

	"github.com/syncer-dev/syncer/internal/membership"
)

// A first run's pass queries the records' own sorted list of addresses
// (no copy of a million strings): what a split keeps must never be
// written into it, or find() breaks for every space planned after.
func TestUnseenNeverWritesIntoTheRecords(t *testing.T) {
	var sp membership.DesiredSpace
	for i := 0; i < 100; i++ {
		sp.Members = append(sp.Members, membership.DesiredMember{Principal: membership.User(fmt.Sprintf("u%03d@example.com", i))})
	}
	s := (&Resolver{}).NewService(membership.Desired{Spaces: []membership.DesiredSpace{sp}}, nil)
	s.mu.Lock()
	s.wantedLocked()
	before := slices.Clone(s.addrs.sorted)
	s.mu.Unlock()
	all := s.addrs.sorted
	if got := s.unseen(all); len(got) != 100 || &got[0] != &all[0] {
		t.Fatalf("nothing seen: got %d addresses in a copy, want the list itself", len(got))
	}
	for i := 0; i < 100; i += 3 {
		s.mu.Lock()
		s.learnLocked(fmt.Sprintf("u%03d@example.com", i), membership.User(fmt.Sprint(i)), byDirectory)
		s.mu.Unlock()
	}
	got := s.unseen(all)
	if len(got) != 66 || slices.ContainsFunc(got, func(e string) bool { return s.addrs.get(e).how != unknown }) {
		t.Errorf("unseen kept %d addresses, want the 66 no answer named", len(got))
	}
	if !slices.Equal(s.addrs.sorted, before) {
		t.Error("unseen wrote into the records' sorted list")
	}
	for _, e := range before {
		if _, ok := s.addrs.find(e); !ok {
			t.Errorf("%s is no longer found", e)
		}
	}
}
