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

// An index entry's tag and position share 32 bits: positions that need
// them all leave no tag, and every entry is still told apart by position.
func TestRecordsTagLeavesPositionsWhole(t *testing.T) {
	for _, tc := range []struct {
		posBits uint
		h       uint64
		tag     uint32
		mask    uint32
	}{
		{21, 0xABCD_EF12_0000_0000, 0x712 << 21, 1<<21 - 1}, // 0xABCDEF12's low 11 bits
		{0, 0x1234_5678_9ABC_DEF0, 0x1234_5678, 0},
		{32, ^uint64(0), 0, ^uint32(0)},
	} {
		rs := &records{posBits: tc.posBits}
		if got := rs.tag(tc.h); got != tc.tag || got&rs.posMask() != 0 {
			t.Errorf("posBits %d: tag %#x, want %#x (clear of the position bits)", tc.posBits, got, tc.tag)
		}
		if got := rs.posMask(); got != tc.mask {
			t.Errorf("posBits %d: position mask %#x, want %#x", tc.posBits, got, tc.mask)
		}
	}
}
