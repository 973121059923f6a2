package identity

import (
	"context"
	"testing"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/membership"
)

// idlessPages shows one user without an ID in users.list pages (a fault
// on the server's side); users.get answers as the Directory holds them.
type idlessPages struct {
	*countingDir
	idless string
}

func (d idlessPages) UsersPage(ctx context.Context, query, token string) ([]chatapi.DirectoryUser, string, error) {
	page, next, err := d.countingDir.UsersPage(ctx, query, token)
	out := make([]chatapi.DirectoryUser, len(page))
	copy(out, page)
	for i := range out {
		if out[i].PrimaryEmail == d.idless {
			out[i].ID = ""
		}
	}
	return out, next, err
}

// A user a pass page shows without an ID names nobody: the address is
// asked with users.get (one call), never taken as "users/" nor, once the
// pass has ended, as outside the Directory. Where users.get lacks the ID
// too, the address is named nobody (the Directory can't tell: without
// member reads, as here, the space's plan takes it as not a member).
func TestAUserWithoutAnIDIsAskedFor(t *testing.T) {
	for _, getToo := range []bool{false, true} {
		d, ds, st := askedWorld()
		e, id := d.users[5].PrimaryEmail, membership.User(d.users[5].ID)
		var dir Directory = idlessPages{d, e}
		if getToo {
			d.users[5].ID = ""
			dir = d
		}
		s := (&Resolver{Directory: dir, DirectoryThrottle: freeThrottle()}).NewService(membership.Desired{Spaces: []membership.DesiredSpace{ds}}, nil)
		st.Memberships = st.Memberships[:1] // one member, listed without an email: the pass
		st.Memberships[0].Email = ""
		ids, out := s.Space(context.Background(), ds, st, nil)
		if d.lists == 0 {
			t.Fatal("no pass: the test shows nothing")
		}
		switch {
		case out.NotInDirectory[e]:
			t.Errorf("users.get lacks the ID too: %v; %s taken as outside the Directory", getToo, e)
		case getToo && ids.Aliases[e] != "":
			t.Errorf("no ID anywhere: %s is %q; want nobody", e, ids.Aliases[e])
		case !getToo && ids.Aliases[e] != id:
			t.Errorf("%s is %q (unresolved %q); want %s from users.get", e, ids.Aliases[e], out.Unresolved[e], id)
		}
		if n := d.count(e); n != 1 {
			t.Errorf("users.get lacks the ID too: %v; %d users.get for %s, want 1", getToo, n, e)
		}
	}
}
