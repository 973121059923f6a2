package identity

import (
	"fmt"
	"testing"

	"github.com/syncer-dev/syncer/internal/membership"
)

// recordsOf builds the records of n addresses, spread over spaces of 100.
func recordsOf(n int) (*records, []string) {
	var d membership.Desired
	emails := make([]string, n)
	for i := range emails {
		emails[i] = fmt.Sprintf("user%07d@example.com", i)
		if i%100 == 0 {
			d.Spaces = append(d.Spaces, membership.DesiredSpace{Name: fmt.Sprintf("spaces/S%05d", i/100)})
		}
		sp := &d.Spaces[len(d.Spaces)-1]
		sp.Members = append(sp.Members, membership.DesiredMember{Principal: membership.User(emails[i])})
	}
	rs := &records{}
	rs.build(d)
	return rs, emails
}

// Every address is found at its place in the sorted table, and no other:
// with a million of them, many share a first slot and are found by probing.
func TestRecordsFindEveryAddress(t *testing.T) {
	for _, n := range []int{0, 1, 2, 1000, 1 << 20} {
		rs, emails := recordsOf(n)
		if len(rs.sorted) != n {
			t.Fatalf("n=%d: %d addresses in the table", n, len(rs.sorted))
		}
		for i, e := range emails {
			at, ok := rs.find(e)
			if !ok || rs.sorted[at] != e {
				t.Fatalf("n=%d: %s (#%d) found=%v at %d", n, e, i, ok, at)
			}
			if miss := e + "x"; func() bool { _, ok := rs.find(miss); return ok }() {
				t.Fatalf("n=%d: %s found", n, miss)
			}
		}
		if _, ok := rs.find("nobody@example.com"); ok {
			t.Fatalf("n=%d: an address no source names was found", n)
		}
	}
}

// BenchmarkRecordsFind looks up a million addresses, each found, and as
// many no source names (a page's users outside the sources, an alias).
func BenchmarkRecordsFind(b *testing.B) {
	rs, emails := recordsOf(1_000_000)
	missing := make([]string, len(emails))
	for i, e := range emails {
		missing[i] = "x" + e
	}
	b.Run("found", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, ok := rs.find(emails[(i*7919)%len(emails)]); !ok {
				b.Fatal("not found")
			}
		}
	})
	b.Run("absent", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, ok := rs.find(missing[(i*7919)%len(missing)]); ok {
				b.Fatal("found")
			}
		}
	})
}
