package identity

import (
	"context"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/membership"
)

// addresslessPages shows one user without a primary address in users.list
// pages (a fault on the server's side).
type addresslessPages struct {
	*countingDir
	blank string
}

func (d addresslessPages) UsersPage(ctx context.Context, query, token string) ([]chatapi.DirectoryUser, string, error) {
	page, next, err := d.countingDir.UsersPage(ctx, query, token)
	out := make([]chatapi.DirectoryUser, len(page))
	copy(out, page)
	for i := range out {
		if out[i].PrimaryEmail == d.blank {
			out[i].PrimaryEmail = ""
		}
	}
	return out, next, err
}

// A pass page's user without a primary address names no domain: the
// report must not ask for "" to be added to identity.domains, and the
// address the page left out is asked for (its domain is the
// organisation's) rather than taken as outside the Directory.
func TestAUserWithoutAnAddressNamesNoDomain(t *testing.T) {
	d, ds, st := askedWorld()
	e, id := d.users[5].PrimaryEmail, membership.User(d.users[5].ID)
	s := (&Resolver{Directory: addresslessPages{d, e}, DirectoryThrottle: freeThrottle(), Domains: []string{"corp.test"}}).NewService(membership.Desired{Spaces: []membership.DesiredSpace{ds}}, nil)
	st.Memberships = st.Memberships[:1]
	st.Memberships[0].Email = ""
	ids, _ := s.Space(context.Background(), ds, st, nil)
	if d.lists == 0 {
		t.Fatal("no pass: the test shows nothing")
	}
	if ids.Aliases[e] != id {
		t.Errorf("%s is %q; want %s from users.get", e, ids.Aliases[e], id)
	}
	for _, w := range s.Outcome().Warnings {
		if strings.Contains(w, "identity.domains does not list ,") || strings.Contains(w, "does not list  ") {
			t.Errorf("warning about no domain at all: %q", w)
		}
	}
}
