package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	admin "google.golang.org/api/admin/directory/v1"
	chat "google.golang.org/api/chat/v1"
)

// TestFieldsKnowGooglesResources: a mask Google takes, the emulator takes
// (each field of the resource, as the client library generated from its
// discovery document has it, is modelled or listed as never filled), and
// the emulator answers with no field Google's resource lacks.
func TestFieldsKnowGooglesResources(t *testing.T) {
	for _, pair := range []struct{ wire, google any }{
		{wireMembership{}, chat.Membership{}},
		{wireUser{}, chat.User{}},
		{wireGroup{}, chat.Group{}},
		{wireList{}, chat.ListMembershipsResponse{}},
		{wireSpace{}, chat.Space{}},
		{wireDirectoryUser{}, admin.User{}},
		{wireDirectoryList{}, admin.Users{}},
		{wireGroupResource{}, admin.Group{}},
		{wireGroupMember{}, admin.Member{}},
		{wireGroupMembers{}, admin.Members{}},
	} {
		wt, gt := reflect.TypeOf(pair.wire), reflect.TypeOf(pair.google)
		var modelled []string
		for _, f := range wireFields(wt) {
			modelled = append(modelled, f.name)
		}
		var google []string
		for _, f := range wireFields(gt) {
			google = append(google, f.name)
			if !slices.Contains(modelled, f.name) && !slices.Contains(unmodelled[wt], f.name) {
				t.Errorf("%s: Google's %s has %q, which a mask may name: the emulator would refuse it", wt.Name(), gt, f.name)
			}
		}
		for _, name := range append(modelled, unmodelled[wt]...) {
			if !slices.Contains(google, name) {
				t.Errorf("%s: %q is not a field of Google's %s", wt.Name(), name, gt)
			}
		}
	}
}

// TestFieldsPlansPerType: one mask on two resources is two plans (a
// plan is field positions in its type), and a nil list is null where
// encoding/json writes null.
func TestFieldsPlansPerType(t *testing.T) {
	for _, tc := range []struct {
		v          any
		mask, want string
	}{
		{wireSpace{Name: "spaces/S", SpaceType: "SPACE", DisplayName: "Eng"}, "displayName", `{"displayName":"Eng"}`},
		{wireUser{Name: "users/1", DisplayName: "Ann", Email: "ann@example.com"}, "displayName", `{"displayName":"Ann"}`},
		{wireDirectoryList{Kind: "admin#directory#users"}, "users(id)", `{"users":null}`},
		{wireDirectoryList{Users: []wireDirectoryUser{}}, "users(id)", `{"users":[]}`},
	} {
		rec := httptest.NewRecorder()
		writeResource(rec, httptest.NewRequest("GET", "/x?fields="+url.QueryEscape(tc.mask), nil), tc.v)
		if got := strings.TrimSpace(rec.Body.String()); got != tc.want {
			t.Errorf("%T with %q: %s, want %s", tc.v, tc.mask, got, tc.want)
		}
	}
}

func TestFieldsSelect(t *testing.T) {
	page := wireList{NextPageToken: "t", Memberships: []wireMembership{
		{Name: "spaces/S/members/1", State: "JOINED", Role: "ROLE_MEMBER", CreateTime: "2026-01-01T00:00:00Z",
			Member: &wireUser{Name: "users/1", Email: "a<b>@example.com", Type: "HUMAN", DisplayName: "Ann"}},
		{Name: "spaces/S/members/group-eng", State: "JOINED", Role: "ROLE_MEMBER", GroupMember: &wireGroup{Name: "groups/eng"}},
	}}
	b, _ := json.Marshal(wireList{Memberships: page.Memberships})
	all := string(b)
	for _, tc := range []struct{ mask, want string }{
		{"nextPageToken", `{"nextPageToken":"t"}`},
		{"memberships/name", `{"memberships":[{"name":"spaces/S/members/1"},{"name":"spaces/S/members/group-eng"}]}`},
		{"memberships(member(name,email),groupMember)", `{"memberships":[{"member":{"name":"users/1","email":"a\u003cb\u003e@example.com"}},{"groupMember":{"name":"groups/eng"}}]}`},
		{"memberships/member/type,memberships/role", `{"memberships":[{"role":"ROLE_MEMBER","member":{"type":"HUMAN"}},{"role":"ROLE_MEMBER"}]}`},
		{"memberships,memberships/name", all}, // all of memberships
		{"memberships/name,memberships", all}, // the same, either order
		{"memberships(*)", all},               // every field of each
		{"*", ""},                             // everything: as encoding/json writes it
		{"*,memberships(name)", ""},           // * is all of every field, as a,a/b is all of a
		{"memberships(*,member/name)", all},
		{" memberships ( name ) , nextPageToken ", `{"memberships":[{"name":"spaces/S/members/1"},{"name":"spaces/S/members/group-eng"}],"nextPageToken":"t"}`},
	} {
		sel, err := parseFields(tc.mask)
		if err == nil {
			err = checkFields(sel, reflect.TypeOf(page), "")
		}
		if err != nil {
			t.Errorf("%q: %v", tc.mask, err)
			continue
		}
		var buf bytes.Buffer
		encodeSelected(&buf, reflect.ValueOf(page), compile(sel, reflect.TypeOf(page)))
		want := tc.want
		if want == "" {
			b, _ := json.Marshal(page)
			want = string(b)
		}
		if buf.String() != want {
			t.Errorf("%q:\n got %s\nwant %s", tc.mask, buf.String(), want)
		}
	}
	for mask, want := range map[string]string{
		"memberships(name":       "closing parenthesis",
		"memberships()":          "a field name expected",
		"":                       "a field name expected",
		"memberships/role/x":     "Invalid field selection memberships/role/x",
		"memberships/member/bio": "Invalid field selection memberships/member/bio",
		"nextPageToken)":         "unexpected",
		"*/name":                 "Invalid field selection nextPageToken/name",
		"memberships/member_":    "Invalid field selection memberships/member_",
		"memberships(bio,age)":   "Invalid field selection memberships/age", // the first in order, every time
	} {
		sel, err := parseFields(mask)
		if err == nil {
			err = checkFields(sel, reflect.TypeOf(page), "")
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error saying %q", mask, err, want)
		}
	}
}

// BenchmarkListPageAnswer: a page of 1,000 memberships as the syncer asks
// for it, and whole.
func BenchmarkListPageAnswer(b *testing.B) {
	page := wireList{NextPageToken: "t"}
	for i := range 1000 {
		page.Memberships = append(page.Memberships, wireMembership{Name: fmt.Sprintf("spaces/S/members/%d", i), State: "JOINED",
			Role: "ROLE_MEMBER", CreateTime: "2026-01-01T00:00:00Z", Member: &wireUser{Name: fmt.Sprintf("users/%d", i), Type: "HUMAN"}})
	}
	for _, mask := range []string{"", "nextPageToken,memberships(name,state,role,member(name,email,type),groupMember(name))"} {
		b.Run(fmt.Sprintf("mask=%q", mask), func(b *testing.B) {
			r := httptest.NewRequest("GET", "/v1/spaces/S/members?fields="+url.QueryEscape(mask), nil)
			for b.Loop() {
				writeResource(httptest.NewRecorder(), r, page)
			}
		})
	}
}
