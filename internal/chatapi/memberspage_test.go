package chatapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/membership"
)

// membersPageSeeds are answers Google or a proxy could send: the plain
// shape the fast reader takes, and every departure from it it must leave
// to the generated client or read the same way.
var membersPageSeeds = []string{
	`{"memberships":[{"name":"spaces/A/members/1","state":"JOINED","role":"ROLE_MANAGER","member":{"name":"users/1","email":"Ann@Example.com ","type":"HUMAN"}},{"name":"spaces/A/members/2","state":"INVITED","role":"ROLE_MEMBER","groupMember":{"name":"groups/2"}},{"name":"spaces/A/members/app","state":"JOINED","role":"ROLE_MEMBER","member":{"name":"users/app","type":"BOT"}}],"nextPageToken":"tok"}`,
	`{"memberships":[{"name":"spaces/A/members/3","state":"JOINED","role":"ROLE_ASSISTANT_MANAGER","member":{"name":"users/3","type":"HUMAN","displayName":"x","domainId":"d","isAnonymous":false},"createTime":"2026-01-01T00:00:00Z"}]}`,
	` { "memberships" : [ { "name" : "spaces/A/members/4" , "member" : { "name" : "users/4" } } ] , "nextPageToken" : "" } ` + "\n",
	`{"memberships":[]}`,
	`{}`,
	`{"memberships":[{"name":"spaces/A/members/5","role":"ROLE_SOMETHING_NEW","state":"SOME_STATE","member":{"name":"users/5","type":"HUMAN"}}]}`,
	`{"memberships":[{"name":"spaces/A/members/6","member":{}}]}`,
	`{"memberships":[{"name":"spaces/A/members/7","member":{"name":"users/7"},"groupMember":{"name":"groups/7"}}]}`,
	`{"memberships":[{"name":"spaces/A/members/8","member":{"name":"users/8"},"groupMember":{}}]}`,
	`{"memberships":[{"name":"spaces/A/members/9","member":{"name":"users/9"},"member":{"email":"nine@example.com"}}]}`,
	`{"memberships":[{"name":"spaces/A/members/app","member":{"name":"users/app"}},{"name":"spaces/A/members/38","member":{"name":"users/38","type":"BOT"}}]}`,
	`{"memberships":[{"name":"spaces/A/members/36","member":{"name":"users/Bob@Example.com","type":"HUMAN"}},{"name":"spaces/A/members/37","member":{"name":"users/Cy@Example.com","email":"cy@example.org","type":"HUMAN"}}]}`,
	`{"memberships":[{"name":"spaces/A/members/10","member":{"name":"users/10"},"member":null}]}`,
	`{"memberships":[{"name":"spaces/A/members/11","state":"NOT_A_MEMBER","role":"ROLE_MEMBER","member":{"name":"users/11","type":"HUMAN"}},{"name":"spaces/A/members/12","state":"JOINED","member":{"name":"users/12","type":"HUMAN"}}]}`,
	`{"memberships":[null,{"name":"spaces/A/members/11","member":{"name":"users/11"}}]}`,
	`{"memberships":null}`,
	`null`,
	``,
	`{"memberships":[{"name":"spaces/A/members/12","member":{"name":"users/12","email":"a\u0040example.com"}}]}`,
	`{"memberships":[{"name":"spaces/A/members/13","member":{"name":"users/13","isAnonymous":1}}]}`,
	`{"memberships":[{"name":"spaces/A/members/14","createTime":true,"member":{"name":"users/14"}}]}`,
	`{"memberships":[{"name":"spaces/A/members/15","extra":{"a":["x",true,{"b":"c"}]},"member":{"name":"users/15","extra":[true]}}]}`,
	`{"Memberships":[{"name":"spaces/A/members/16","member":{"name":"users/16"}}]}`,
	`{"memberships":[{"Name":"spaces/A/members/17","member":{"NAME":"users/17"}}]}`,
	`{"memberships":[{"name":"spaces/A/members/18","member":{"name":"users/18","emaiſ":"x@example.com"}}]}`,
	`{"memberships":[{"name":"spaces/A/members/19","name":"spaces/A/members/20","member":{"name":"users/20"}}]}`,
	`{"memberships":[{"name":"spaces/A/members/21","member":{"name":"users/21"}}],"memberships":[{"name":"spaces/A/members/22"}]}`,
	`{"memberships":[{"name":"spaces/A/members/23","member":{"name":"users/23","email":"ü@exämple.com"}}]}`,
	"{\"memberships\":[{\"name\":\"spaces/A/members/24\",\"member\":{\"name\":\"users/24\",\"email\":\"\xff@example.com\"}}]}",
	`{"memberships":[{"name":"spaces/A/members/25","member":{"name":"users/25"}}]} trailing`,
	`{"memberships":[{"name":"spaces/A/members/26","member":{"name":"users/26"}}],}`,
	`{"memberships":[{"name":"spaces/A/members/27","member":{"name":"users/27"},}]}`,
	`{"memberships":[{"name":"spaces/A/members/28","member":{"name":"users/28","isAnonymous":truex}}]}`,
	`{"memberships":[{"name":"spaces/A/members/29","member":"users/29"}]}`,
	`{"memberships":[{"name":"spaces/A/members/30","member":{"name":"users/30"}}]}{}`,
	`{"nextPageToken":"a","nextPageToken":"b"}`,
	`[{"name":"spaces/A/members/31"}]`,
	`{"memberships":[{"name":"spaces/A/members/32","role":null,"member":{"name":"users/32"}}]}`,
	`{"memberships":[{"name":"spaces/A/members/33","member":{"name":"users/33","type":"BOT","type":"HUMAN"}}]}`,
	// Cut short or bent: the fast reader must refuse what encoding/json
	// refuses (a body cut at the bound must fail to decode).
	`{`,
	`{"nextPageToken":"x"`,
	`{"memberships":[{"name":"spaces/A/members/34"}`,
	`{"memberships":[{"name":"spaces/A/members/35","member":{"name":"users/35"`,
	"{\v}",
	`{"kind":-}`,
}

// TestMembersPageReadersAgree: wherever the fast reader answers, it answers
// as the generated client does; and it does answer for the plain pages
// Google sends (else the test would pass with a reader that never reads).
func TestMembersPageReadersAgree(t *testing.T) {
	answered := 0
	for _, seed := range membersPageSeeds {
		if checkMembersPageReaders(t, []byte(seed)) {
			answered++
		}
	}
	for _, plain := range membersPageSeeds[:9] {
		if _, _, ok := scanMembersPage([]byte(plain)); !ok {
			t.Errorf("the fast reader left a plain page to the generated client: %s", plain)
		}
	}
	if answered < 15 {
		t.Errorf("the fast reader answered %d of %d seeds", answered, len(membersPageSeeds))
	}
	page := []byte(plainMembersPage(PageSize, true))
	members, next, ok := scanMembersPage(page)
	if !ok || len(members) != PageSize || next != "next-page" {
		t.Fatalf("a page of %d: ok %v, %d members, next %q", PageSize, ok, len(members), next)
	}
	want := membership.Membership{Name: "spaces/AAAA/members/100999", Principal: "users/100999", Email: "user000999@example.com", Role: membership.RoleMember, State: membership.StateJoined}
	if members[999] != want {
		t.Errorf("the last membership read as %+v, want %+v", members[999], want)
	}
	checkMembersPageReaders(t, page)
	// A member named by an address is that address's person, however the
	// answer spells it: lower-cased, and its email when none is given.
	named, _, _ := scanMembersPage([]byte(`{"memberships":[{"name":"spaces/A/members/36","member":{"name":"users/Bob@Example.com","type":"HUMAN"}}]}`))
	if len(named) != 1 || named[0].Principal != "users/bob@example.com" || named[0].Email != "bob@example.com" {
		t.Errorf("a member named users/Bob@Example.com read as %+v, want users/bob@example.com, bob@example.com", named)
	}
}

// checkMembersPageReaders fails t if the fast reader answers otherwise
// than the generated client, and reports whether it answered.
func checkMembersPageReaders(t *testing.T, b []byte) bool {
	t.Helper()
	members, next, ok := scanMembersPage(b)
	if !ok {
		return false
	}
	want, wantNext, err := decodeMembersPageJSON(b)
	if err != nil {
		t.Errorf("the fast reader read %q, which encoding/json refuses: %v", b, err)
		return true
	}
	if next != wantNext || !reflect.DeepEqual(members, want) {
		t.Errorf("%q:\nfast reader     %+v %q\ngenerated client %+v %q", b, members, next, want, wantNext)
	}
	return true
}

func FuzzMembersPageReaders(f *testing.F) {
	for _, seed := range membersPageSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkMembersPageReaders(t, b) })
}

func plainMembersPage(n int, emails bool) string {
	var b strings.Builder
	b.WriteString(`{"memberships":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		email := ""
		if emails {
			email = fmt.Sprintf(`"email":"User%06d@example.com",`, i)
		}
		fmt.Fprintf(&b, `{"name":"spaces/AAAA/members/%d","state":"JOINED","role":"ROLE_MEMBER","member":{"name":"users/%d",%s"type":"HUMAN"}}`, 100000+i, 100000+i, email)
	}
	b.WriteString(`],"nextPageToken":"next-page"}`)
	return b.String()
}

// TestListPageThroughEitherReader: ListPage answers the same whether the
// transport read the page or left it to the generated client (a page the
// fast reader does not take: an escaped character), and the request is
// still the generated client's.
func TestListPageThroughEitherReader(t *testing.T) {
	plain := `{"memberships":[{"name":"spaces/A/members/1","state":"JOINED","role":"ROLE_MANAGER","member":{"name":"users/1","email":"ann@example.com","type":"HUMAN"}}],"nextPageToken":"t2"}`
	escaped := strings.Replace(plain, "ann@", `ann\u0040`, 1)
	if _, _, ok := scanMembersPage([]byte(plain)); !ok {
		t.Fatal("the fast reader does not take the plain page")
	}
	if _, _, ok := scanMembersPage([]byte(escaped)); ok {
		t.Fatal("the fast reader takes the escaped page: the generated client's reading goes untested")
	}
	for _, body := range []string{plain, escaped} {
		var query, agent string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			query, agent = r.URL.RawQuery, r.Header.Get("X-Goog-Api-Client")
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, body)
		}))
		c, err := New(context.Background(), Options{Endpoint: srv.URL + "/"})
		if err != nil {
			t.Fatal(err)
		}
		members, next, err := c.ListPage(context.Background(), "spaces/A", "t1")
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := []membership.Membership{{Name: "spaces/A/members/1", Principal: "users/1", Email: "ann@example.com", Role: membership.RoleOwner, State: membership.StateJoined}}
		if next != "t2" || !reflect.DeepEqual(members, want) {
			t.Errorf("%s: %+v %q", body, members, next)
		}
		if !strings.Contains(query, "pageToken=t1") || !strings.Contains(query, "fields=") || agent == "" {
			t.Errorf("the request was not the generated client's: %q, x-goog-api-client %q", query, agent)
		}
	}
}

// BenchmarkMembersPage: one page of 1,000 memberships, by each reader.
func BenchmarkMembersPage(b *testing.B) {
	for _, emails := range []bool{true, false} {
		page := []byte(plainMembersPage(PageSize, emails))
		for _, r := range []struct {
			name string
			read func([]byte) ([]membership.Membership, string, error)
		}{{"fast", func(b []byte) ([]membership.Membership, string, error) {
			m, next, ok := scanMembersPage(b)
			if !ok {
				return nil, "", fmt.Errorf("not read")
			}
			return m, next, nil
		}}, {"generated-client", decodeMembersPageJSON}} {
			b.Run(fmt.Sprintf("emails=%v/%s", emails, r.name), func(b *testing.B) {
				b.SetBytes(int64(len(page)))
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := r.read(page); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestPageOverTheBound: an answer over maxPageBytes fails the call as
// permanent (a retry gets the same), saying so, for both kinds of page.
func TestPageOverTheBound(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"nextPageToken":"`)
		chunk := strings.Repeat("x", 1<<20)
		for range maxPageBytes>>20 + 1 {
			fmt.Fprint(w, chunk)
		}
		fmt.Fprint(w, `"}`)
	}))
	defer srv.Close()
	c, err := New(context.Background(), Options{Endpoint: srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.ListPage(context.Background(), "spaces/A", "")
	if !errors.Is(err, ErrPermanent) || Retryable(err) || !strings.Contains(err.Error(), fmt.Sprintf("over %d MiB", maxPageBytes>>20)) || strings.Contains(err.Error(), srv.URL) {
		t.Errorf("members.list: %v", err)
	}
	d, err := NewDirectory(context.Background(), srv.URL+"/", Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = d.UsersPage(context.Background(), "", "")
	if !errors.Is(err, ErrPermanent) || Retryable(err) || !strings.Contains(err.Error(), fmt.Sprintf("over %d MiB", maxPageBytes>>20)) {
		t.Errorf("users.list: %v", err)
	}
}
