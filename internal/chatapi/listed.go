package chatapi

import (
	"fmt"
	"strings"
	"sync"

	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/scrub"
)

// A membership's name is what a role change and a removal are sent to, so
// a name the answer got wrong sends a write somewhere else: to another
// space (one no source names, which the syncer must never touch), to
// another member of this one, or to no membership at all (an empty name
// makes the URL the collection's, whose 404 would read as "already
// removed"). Every name an answer gives is checked to be a membership of
// the space asked about; a list that breaks that, or shows a membership
// twice, is a fault of the server's, and the space is not read.

// serverFault is a permanent error for an answer no client can act on.
func serverFault(format string, args ...any) error {
	return &Error{Message: fmt.Sprintf(format, args...) + " (a fault on the server's side)", kind: ErrPermanent}
}

// inSpace reports whether name is one of prefix's memberships; prefix is
// "spaces/X/members/". A dot segment is none: the client sends a name as
// it is ({+name}), and spaces/X/members/.. resolves to the space.
func inSpace(prefix, name string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	return ok && rest != "" && rest != "." && rest != ".." && !strings.Contains(rest, "/")
}

// checkPage checks that every membership of a list page of space is named
// as one of its memberships.
func checkPage(space string, ms []membership.Membership) error {
	prefix := space + "/members/"
	for _, m := range ms {
		if !inSpace(prefix, m.Name) {
			return misnamed("members.list", space, m)
		}
	}
	return nil
}

// checkAnswer checks the membership a get or a create of space answered
// with: one without a name is left to the caller (it can't be written to,
// and callers read it as "not known"), one named elsewhere is refused.
func checkAnswer(method, space string, m membership.Membership) error {
	if m.Name == "" || inSpace(space+"/members/", m.Name) {
		return nil
	}
	return misnamed(method, space, m)
}

func misnamed(method, space string, m membership.Membership) error {
	name := fmt.Sprintf("%q", scrubName(m.Name))
	if m.Name == "" {
		name = "no name"
	}
	return serverFault("%s of %s answered with a membership of %s under %s, not one of %s's memberships", method, space, m.Principal.Display(), name, space)
}

// scrubName bounds a name from an answer for a message.
func scrubName(s string) string { return shorten(scrub.Secrets(s)) }

// listedSet is the names and principals of one space's list, reused from
// space to space.
type listedSet struct {
	names      map[string]struct{}
	principals map[membership.Principal]struct{}
}

var listedSets = sync.Pool{New: func() any {
	return &listedSet{names: map[string]struct{}{}, principals: map[membership.Principal]struct{}{}}
}}

// ListedTwice returns an error when a space's whole list (every page of it)
// shows a membership name, or a member, more than once: a server whose
// paging started over, or that lists one person under two memberships.
// Planned from such a list, each of their removals would be counted and
// sent twice.
func ListedTwice(space string, ms []membership.Membership) error {
	if len(ms) < 2 {
		return nil
	}
	s := listedSets.Get().(*listedSet)
	defer func() {
		if len(s.names) > 10_000 {
			return // a big space's maps are not kept for the small ones
		}
		clear(s.names)
		clear(s.principals)
		listedSets.Put(s)
	}()
	for _, m := range ms {
		if _, dup := s.names[m.Name]; dup {
			return serverFault("the list of %s showed the membership %q twice", space, scrubName(m.Name))
		}
		s.names[m.Name] = struct{}{}
		if _, dup := s.principals[m.Principal]; dup {
			return serverFault("the list of %s showed %s twice, the second time as %q", space, m.Principal.Display(), scrubName(m.Name))
		}
		s.principals[m.Principal] = struct{}{}
	}
	return nil
}
