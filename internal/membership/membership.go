// Package membership is the vocabulary every other package speaks: who a
// member is (Principal), what they may do (Role), where a desired entry was
// written (Location), and the desired and current state of spaces.
//
// Values here are normalised where they are built (emails trimmed and
// lower-cased, roles as API enum names), so nothing downstream compares two
// spellings of one thing. The package does no I/O.
package membership

import (
	"fmt"
	"strings"
)

// Principal is the API resource name of a member: "users/{id}" (canonical),
// "users/{email}" (an alias the API accepts in requests but never returns)
// or "groups/{id}".
type Principal string

const (
	userPrefix  = "users/"
	groupPrefix = "groups/"
)

// User returns the principal for a Directory ID or an email.
func User(idOrEmail string) Principal { return Principal(userPrefix + idOrEmail) }

// App is the calling Chat app itself as a member.
const App Principal = "users/app"

// Group returns the principal for a Cloud Identity group ID.
func Group(id string) Principal { return Principal(groupPrefix + id) }

// IsGroup reports whether p names a Google Group.
func (p Principal) IsGroup() bool { return strings.HasPrefix(string(p), groupPrefix) }

// ID is the part after "users/" or "groups/": a numeric ID, an email or a group ID.
func (p Principal) ID() string {
	s := string(p)
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// Email is the email of an email alias ("users/a@b.c"), or "".
func (p Principal) Email() string {
	if p.IsGroup() {
		return ""
	}
	if id := p.ID(); strings.IndexByte(id, '@') >= 0 {
		return id
	}
	return ""
}

// Display is how reports name the member: the email for an alias, the
// resource name otherwise.
func (p Principal) Display() string {
	if e := p.Email(); e != "" {
		return e
	}
	return string(p)
}

// Location is where a desired entry was written.
type Location struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column,omitempty"`
	// Via names the Directory rule an entry came from, e.g.
	// "group_members eng@example.com".
	Via string `json:"via,omitempty"`
}

func (l Location) String() string {
	var s string
	switch {
	case l.File == "":
		return ""
	case l.Column > 0:
		s = fmt.Sprintf("%s:%d:%d", l.File, l.Line, l.Column)
	case l.Line > 0:
		s = fmt.Sprintf("%s:%d", l.File, l.Line)
	default:
		s = l.File
	}
	if l.Via != "" {
		s += " (" + l.Via + ")"
	}
	return s
}

// SpaceName normalises a space given as "spaces/X" or a bare "X".
func SpaceName(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "spaces/") {
		return s
	}
	return "spaces/" + s
}
