package chatapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	chat "google.golang.org/api/chat/v1"

	"github.com/syncer-dev/syncer/internal/membership"
)

// A big tenant's run is thousands of members.list pages (a million
// memberships is a thousand of them), and the generated client decodes
// each with encoding/json into a struct per membership and another per
// member: 2.3 µs a membership, a quarter of such a run's CPU, and most of
// its garbage. The generated client still sends the call and checks the
// answer (URL, headers, errors: everything Google's client does); only a
// page it got with 200 is read by pageReader, the client's transport,
// which hands the memberships to ListPage through the call's context and
// the client an empty page to decode. The answer Google sends for the
// fields asked is plain (names, enums and addresses without escapes), and
// scanMembersPage reads only that shape; anything else goes to the
// generated client untouched, whose reading is the reference: the fast
// reader must agree with it wherever it answers.

// listPage carries one page from the transport that read it to ListPage.
type listPage struct {
	members []membership.Membership
	next    string
	read    bool
}

type listPageKey struct{}

// pageReader wraps the Chat client's transport.
type pageReader struct{ base http.RoundTripper }

// withPageReader returns hc with pageReader in front of its transport.
func withPageReader(hc *http.Client) *http.Client {
	return wrapTransport(hc, func(base http.RoundTripper) http.RoundTripper { return pageReader{base: base} })
}

func (t pageReader) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.base.RoundTrip(req)
	page, _ := req.Context().Value(listPageKey{}).(*listPage)
	if err != nil || page == nil || res.StatusCode != http.StatusOK {
		return res, err
	}
	buf := pageBuffers.get()
	err = readPage(buf, res.Body, "members.list")
	res.Body.Close()
	if err != nil {
		pageBuffers.put(buf)
		return nil, err
	}
	body := io.Reader(buf) // for the generated client to read; the buffer goes with it
	if members, next, ok := scanMembersPage(buf.Bytes()); ok {
		page.members, page.next, page.read = members, next, true
		pageBuffers.put(buf)
		body = strings.NewReader("{}")
	}
	res.Body = io.NopCloser(body)
	res.ContentLength = -1
	res.Header.Del("Content-Length")
	return res, nil
}

// listCall runs a members.list call whose page pageReader may read.
func listCall(ctx context.Context, space string, call *chat.SpacesMembersListCall) ([]membership.Membership, string, error) {
	page := &listPage{}
	resp, err := call.Context(context.WithValue(ctx, listPageKey{}, page)).Do()
	if e := (*Error)(nil); errors.As(err, &e) {
		err = e // the transport's own (readPage), without the URL the client wrapped it in
	}
	if err != nil {
		return nil, "", wrap(ctx, err)
	}
	members, next := page.members, page.next
	if !page.read {
		members, next = convertPage(resp), resp.NextPageToken
	}
	if err := checkPage(space, members); err != nil {
		return nil, "", err
	}
	return members, next, nil
}

// convertPage keeps a membership that names no member without a
// principal (the caller counts what it could not see); one NOT_A_MEMBER,
// or a null, is nobody.
func convertPage(resp *chat.ListMembershipsResponse) []membership.Membership {
	out := make([]membership.Membership, 0, len(resp.Memberships))
	for _, m := range resp.Memberships {
		if m == nil || m.State == stateNotAMember {
			continue
		}
		mm, _ := convert(m)
		out = append(out, mm)
	}
	return out
}

// decodeMembersPageJSON is the generated client's reading of a page, for
// the tests to hold the fast reader to.
func decodeMembersPageJSON(b []byte) ([]membership.Membership, string, error) {
	var resp chat.ListMembershipsResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, "", err
	}
	return convertPage(&resp), resp.NextPageToken, nil
}

// The keys of the generated structs: a key the reader does not read but
// that encoding/json would put in a field must have that field's type,
// and one that folds to such a key (encoding/json matches without regard
// to case) is left to it.
var (
	pageKeys       = []string{"memberships", "nextPageToken"}
	membershipKeys = []string{"name", "state", "role", "member", "groupMember", "createTime", "deleteTime", "affiliation"}
	userKeysChat   = []string{"name", "email", "type", "displayName", "domainId", "avatarUrl", "isAnonymous"}
	groupKeys      = []string{"name"}
)

// scanMembersPage is the fast reader: ok is false for anything outside the
// plain shape, and then nothing it read is used. It answers what convert
// makes of the page encoding/json reads.
func scanMembersPage(b []byte) (members []membership.Membership, next string, ok bool) {
	s := scanner{b: b}
	seen := false
	if !s.fields(func(key []byte) (ok bool) {
		switch string(key) {
		case "memberships":
			// encoding/json would decode a second array over the first
			// one's elements: leave that to it.
			if seen {
				return false
			}
			seen = true
			members, ok = s.memberships()
		case "nextPageToken":
			next, ok = s.str()
		default:
			ok = skippable(string(key), pageKeys...) && s.skip(0)
		}
		return ok
	}) {
		return nil, "", false
	}
	s.space()
	if members == nil {
		members = []membership.Membership{}
	}
	return members, next, s.i == len(s.b)
}

// memberships reads the memberships array. A membership's fields are kept
// as raw text until it is whole: encoding/json lets a later key overwrite
// an earlier one, and decodes a second member object into the first.
func (s *scanner) memberships() ([]membership.Membership, bool) {
	if !s.open('[') {
		return nil, false
	}
	// A space's page is held as it is read until the space is planned,
	// and most spaces are far smaller than a page: the slice is sized by
	// the memberships the answer holds (one "role" each, as asked for).
	out := make([]membership.Membership, 0, min(bytes.Count(s.b[s.i:], roleKey), PageSize))
	for more := s.first(']'); more; more = s.next(']') {
		var f membershipText
		if !s.membership(&f) {
			return nil, false
		}
		m := membership.Membership{Name: string(f.name), Role: membership.Role(enum(f.role, roleNames)), State: membership.State(enum(f.state, stateNames))}
		switch {
		case m.State == stateNotAMember:
			continue // someone absent, as convert drops them
		case len(f.group) > 0:
			m.Principal = membership.Principal(f.group)
		case len(f.user) > 0:
			m.Principal, m.Email = userOf(string(f.user), string(f.email))
			m.Bot = isBot(string(f.userType), m.Principal)
		}
		// One naming no member (a display name only, a group without its
		// name) is kept without a principal: the caller says it could not
		// see who it is, as convertPage does.
		out = append(out, m)
	}
	return out, !s.bad
}

// membershipText is one membership's fields as the answer spells them.
type membershipText struct {
	name, state, role, user, email, userType, group []byte
}

func (s *scanner) membership(f *membershipText) bool {
	return s.fields(func(key []byte) (ok bool) {
		switch string(key) {
		case "name":
			f.name, ok = s.rawStr()
		case "state":
			f.state, ok = s.rawStr()
		case "role":
			f.role, ok = s.rawStr()
		case "createTime", "deleteTime", "affiliation":
			_, ok = s.rawStr()
		case "member":
			ok = s.member(f)
		case "groupMember":
			ok = s.fields(func(key []byte) (ok bool) {
				if string(key) == "name" {
					f.group, ok = s.rawStr()
					return ok
				}
				return skippable(string(key), groupKeys...) && s.skip(0)
			})
		default:
			ok = skippable(string(key), membershipKeys...) && s.skip(0)
		}
		return ok
	})
}

func (s *scanner) member(f *membershipText) bool {
	return s.fields(func(key []byte) (ok bool) {
		switch string(key) {
		case "name":
			f.user, ok = s.rawStr()
		case "email":
			f.email, ok = s.rawStr()
		case "type":
			f.userType, ok = s.rawStr()
		case "displayName", "domainId", "avatarUrl":
			_, ok = s.rawStr()
		case "isAnonymous":
			_, ok = s.boolean()
		default:
			ok = skippable(string(key), userKeysChat...) && s.skip(0)
		}
		return ok
	})
}

var roleKey = []byte(`"role"`)

var (
	roleNames  = []string{"ROLE_MEMBER", "ROLE_MANAGER", "ROLE_ASSISTANT_MANAGER", "MEMBERSHIP_ROLE_UNSPECIFIED"}
	stateNames = []string{"JOINED", "INVITED", "NOT_A_MEMBER", "MEMBERSHIP_STATE_UNSPECIFIED"}
)

// enum returns the text of an enum's value, one string for all pages when
// it is a value Google documents.
func enum(raw []byte, names []string) string {
	for _, n := range names {
		if string(raw) == n {
			return n
		}
	}
	return string(raw)
}
