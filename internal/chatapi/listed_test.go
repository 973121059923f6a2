package chatapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/membership"
)

// answering serves body to every call.
func answering(t *testing.T, body string) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := New(context.Background(), Options{Endpoint: srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A membership an answer names outside the space asked about (another
// space, none at all) would send its role change or removal elsewhere: to
// a space no source names, or to the collection's URL, whose 404 reads as
// "already removed"; "spaces/A/members/.." is sent as it is (the client
// expands {+name}), a dot segment a server or a proxy resolves to the
// space itself, whose DELETE is spaces.delete. Such a page, or a get's or create's answer, fails the
// call as a fault of the server's, whichever reader read the page.
func TestMembershipsNamedOutsideTheSpaceAreRefused(t *testing.T) {
	page := func(name string, escaped bool) string {
		email := "ann@example.com"
		if escaped {
			email = `ann\u0040example.com` // left to the generated client's reader
		}
		return fmt.Sprintf(`{"memberships":[{"name":"spaces/A/members/0","state":"JOINED","role":"ROLE_MANAGER","member":{"name":"users/0","type":"HUMAN"}},`+
			`{"name":%q,"state":"JOINED","role":"ROLE_MEMBER","member":{"name":"users/1","email":%q,"type":"HUMAN"}}]}`, name, email)
	}
	one := func(name string) string {
		return fmt.Sprintf(`{"name":%q,"state":"JOINED","role":"ROLE_MEMBER","member":{"name":"users/1","type":"HUMAN"}}`, name)
	}
	for _, name := range []string{"", "spaces/B/members/1", "spaces/AB/members/1", "spaces/A/members/", "spaces/A/members/1/x", "spaces/A", "users/1", "spaces/A/members/..", "spaces/A/members/."} {
		for _, escaped := range []bool{false, true} {
			_, _, err := answering(t, page(name, escaped)).ListPage(context.Background(), "spaces/A", "")
			if !errors.Is(err, ErrPermanent) || Retryable(err) || !strings.Contains(err.Error(), "fault on the server's side") {
				t.Errorf("list page with a membership named %q (escaped %v): %v", name, escaped, err)
			}
		}
		if name == "" {
			continue // a get's or create's answer without a name is read as "not known"
		}
		if _, err := answering(t, one(name)).Get(context.Background(), "spaces/A", "ann@example.com"); !errors.Is(err, ErrPermanent) {
			t.Errorf("get answered with %q: %v", name, err)
		}
		if _, err := answering(t, one(name)).Create(context.Background(), "spaces/A", membership.User("ann@example.com")); !errors.Is(err, ErrPermanent) {
			t.Errorf("create answered with %q: %v", name, err)
		}
	}
	// Names of the space are read as ever.
	if ms, _, err := answering(t, page("spaces/A/members/1", false)).ListPage(context.Background(), "spaces/A", ""); err != nil || len(ms) != 2 {
		t.Errorf("a plain page: %v %v", ms, err)
	}
	if m, err := answering(t, one("spaces/A/members/1")).Create(context.Background(), "spaces/A", membership.User("ann@example.com")); err != nil || m.Name != "spaces/A/members/1" {
		t.Errorf("a plain create: %v %v", m, err)
	}
}

func TestListedTwice(t *testing.T) {
	m := func(name, p string) membership.Membership {
		return membership.Membership{Name: name, Principal: membership.Principal(p)}
	}
	for _, c := range []struct {
		ms   []membership.Membership
		want string
	}{
		{nil, ""},
		{[]membership.Membership{m("spaces/A/members/1", "users/1"), m("spaces/A/members/2", "users/2")}, ""},
		{[]membership.Membership{m("spaces/A/members/1", "users/1"), m("spaces/A/members/1", "users/1")}, `showed the membership "spaces/A/members/1" twice`},
		{[]membership.Membership{m("spaces/A/members/1", "users/1"), m("spaces/A/members/x", "users/1")}, `showed users/1 twice`},
	} {
		err := ListedTwice("spaces/A", c.ms)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrPermanent)) {
			t.Errorf("%v: %v, want %q", c.ms, err, c.want)
		}
	}
}
