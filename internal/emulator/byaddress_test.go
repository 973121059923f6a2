package emulator_test

import (
	"context"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
	"github.com/syncer-dev/syncer/internal/membership"
)

// NameMembersByAddress answers people as users/{email} in lists, gets and
// creates; off, as Google documents, by ID. Membership names keep the ID.
func TestNameMembersByAddress(t *testing.T) {
	for _, on := range []bool{false, true} {
		_, url := emulatortest.Start(t, seed(), emulator.Options{NameMembersByAddress: on})
		c := emulatortest.Client(t, url)
		ctx := context.Background()
		want := membership.Principal("users/1")
		if on {
			want = "users/owner@example.com"
		}
		page, _, err := c.ListPage(ctx, "spaces/S", "")
		if err != nil || len(page) == 0 || page[0].Principal != want || page[0].Name != "spaces/S/members/1" {
			t.Errorf("on=%t: list %+v %v; want the owner as %s, spaces/S/members/1", on, page, err, want)
		}
		if m, err := c.Get(ctx, "spaces/S", "1"); err != nil || m.Principal != want {
			t.Errorf("on=%t: get %+v %v; want %s", on, m, err, want)
		}
		m, err := c.Create(ctx, "spaces/S", membership.User("2"))
		if wantNew := map[bool]membership.Principal{false: "users/2", true: "users/alice@example.com"}[on]; err != nil || m.Principal != wantNew || m.Name != "spaces/S/members/2" {
			t.Errorf("on=%t: create %+v %v; want %s", on, m, err, wantNew)
		}
	}
}
