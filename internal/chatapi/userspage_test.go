package chatapi

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// usersPageSeeds are answers Google or a proxy could send: the plain shape
// the fast reader takes, and every departure from it it must leave to
// encoding/json or read the same way.
var usersPageSeeds = []string{
	`{"users":[{"id":"1","primaryEmail":"Ann@Example.com","aliases":["a@example.com","ANN@alias.example.com"],"nonEditableAliases":["ann@example.test-google-a.com"],"suspended":false,"archived":true,"orgUnitPath":"/Eng"}],"nextPageToken":"tok"}`,
	`{"kind":"admin#directory#users","etag":"x","users":[{"kind":"admin#directory#user","id":"2","primaryEmail":"b@example.com","suspended":true}]}`,
	` { "users" : [ { "id" : "3" , "primaryEmail" : "c@example.com" } ] , "nextPageToken" : "" } ` + "\n",
	`{"users":[]}`,
	`{}`,
	`null`,
	`{"etag":"\"x\"","users":[{"id":"1"}]}`,
	``,
	`{"users":null}`,
	`{"users":[null]}`,
	`{"users":[{"id":null,"primaryEmail":"d@example.com"}]}`,
	`{"users":[{"id":"4","primaryEmail":"e\u0040example.com"}]}`,
	`{"users":[{"id":"5","primaryEmail":"f@example.com","suspended":1}]}`,
	`{"users":[{"id":"6","primaryEmail":"g@example.com","extra":{"a":[1,2,{"b":null}]}}]}`,
	`{"users":[{"id":"7","primaryEmail":"h@example.com","extra":{"a":["x",true,false,{"b":"c"}]}}]}`,
	`{"Users":[{"id":"8","primaryEmail":"i@example.com"}]}`,
	`{"users":[{"ID":"9","PrimaryEmail":"j@example.com"}]}`,
	`{"users":[{"id":"10","primaryEmail":"k@example.com","aliaſes":["x@example.com"]}]}`,
	`{"users":[{"id":"11","primaryEmail":"l@example.com","id":"12"}]}`,
	`{"users":[{"id":"13","orgUnitPath":"/x"}],"users":[{"id":"14"}]}`,
	`{"users":[{"id":"15","primaryEmail":"ü@exämple.com"}]}`,
	"{\"users\":[{\"id\":\"16\",\"primaryEmail\":\"\xff@example.com\"}]}",
	`{"users":[{"id":"17","primaryEmail":"m@example.com"}]} trailing`,
	`{"users":[{"id":"18","primaryEmail":"n@example.com"}],}`,
	`{"users":[{"id":"19","primaryEmail":"o@example.com",}]}`,
	`{"users":[{"id":"20","suspended":truex}]}`,
	`{"users":[{"id":"21","suspended":true}`,
	`{"users":[{"id":"22","aliases":["p@example.com",]}]}`,
	`{"users":[{"id":"23","aliases":"p@example.com"}]}`,
	`{"users":[{"id":"24","primaryEmail":"q@example.com"}]}{}`,
	"{\"users\":[{\"id\":\"25\",\"primaryEmail\":\"r\texample.com\"}]}",
	`{"users":[{"id":"26","x":[[[[[[[[[[[[[[[[[[[["deep"]]]]]]]]]]]]]]]]]]]}]}`,
	`{"nextPageToken":"a","nextPageToken":"b"}`,
	`[{"id":"27"}]`,
	// Cut short or bent: the fast reader must refuse what encoding/json
	// refuses (a body cut at the bound must fail to decode).
	`{`,
	`{"nextPageToken":"x"`,
	`{"kind":"x"`,
	"{\v}",
	`{"kind":-}`,
	`{"kind":nul}`,
	`{"users":[{"id":"28"}`,
	`{"users":[{"id":"29","aliases":["a@example.com"`,
}

// TestUsersPageReadersAgree: wherever the fast reader answers, it answers
// as encoding/json does; and it does answer for the plain pages Google
// sends (else the test would pass with a reader that never reads).
func TestUsersPageReadersAgree(t *testing.T) {
	answered := 0
	for _, seed := range usersPageSeeds {
		if checkUsersPageReaders(t, []byte(seed)) {
			answered++
		}
	}
	for _, plain := range usersPageSeeds[:4] {
		if _, _, ok := scanUsersPage([]byte(plain)); !ok {
			t.Errorf("the fast reader left a plain page to encoding/json: %s", plain)
		}
	}
	if answered < 8 {
		t.Errorf("the fast reader answered %d of %d seeds", answered, len(usersPageSeeds))
	}
	page := []byte(plainUsersPage(500))
	users, next, ok := scanUsersPage(page)
	if !ok || len(users) != 500 || next != "next-page" {
		t.Fatalf("a page of 500: ok %v, %d users, next %q", ok, len(users), next)
	}
	if u := users[499]; u.ID != "100499" || u.PrimaryEmail != "user000499@example.com" || !reflect.DeepEqual(u.Aliases, []string{"u499@alias.example.com"}) {
		t.Errorf("the last user read as %+v", u)
	}
	checkUsersPageReaders(t, page)
}

// checkUsersPageReaders fails t if the fast reader answers otherwise than
// encoding/json, and reports whether it answered.
func checkUsersPageReaders(t *testing.T, b []byte) bool {
	t.Helper()
	users, next, ok := scanUsersPage(b)
	if !ok {
		return false
	}
	want, wantNext, err := decodeUsersPageJSON(b)
	if err != nil {
		t.Errorf("the fast reader read %q, which encoding/json refuses: %v", b, err)
		return true
	}
	if next != wantNext || !reflect.DeepEqual(users, want) {
		t.Errorf("%q:\nfast reader   %+v %q\nencoding/json %+v %q", b, users, next, want, wantNext)
	}
	return true
}

func FuzzUsersPageReaders(f *testing.F) {
	for _, seed := range usersPageSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkUsersPageReaders(t, b) })
}

func plainUsersPage(n int) string {
	var b strings.Builder
	b.WriteString(`{"kind":"admin#directory#users","users":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"%d","primaryEmail":"User%06d@example.com","aliases":["u%d@alias.example.com"],"orgUnitPath":"/","suspended":false,"kind":"admin#directory#user"}`, 100000+i, i, i)
	}
	b.WriteString(`],"nextPageToken":"next-page"}`)
	return b.String()
}

// BenchmarkUsersPage: one page of 500 users, by each reader.
func BenchmarkUsersPage(b *testing.B) {
	page := []byte(plainUsersPage(500))
	for _, r := range []struct {
		name string
		read func([]byte) ([]DirectoryUser, string, error)
	}{{"fast", decodeUsersPage}, {"encoding-json", decodeUsersPageJSON}} {
		b.Run(r.name, func(b *testing.B) {
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
