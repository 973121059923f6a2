// Package identity matches the emails in the desired state to canonical
// users/{id} names without spending write quota: list responses first (free),
// then a persistent cache, then the Directory (users.get for a few, one paged
// users.list pass for many), then a per-space members.get for addresses the
// Directory can't know (external and consumer accounts).
package identity

import (
	"context"
	"errors"
	"log/slog"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/throttle"
)

// Paths by which an email was resolved.
const (
	ByList      = "list"
	ByCache     = "cache"
	ByDirectory = "directory"
	ByMemberGet = "member-get"
	ByRule      = "rule" // a Directory rule named the person, with their ID
)

// DefaultListAbove: past 100 unknown emails, paging the whole Directory
// (500 users a page) costs fewer calls than a lookup each for any
// organisation under 50,000 users, and the Directory has no OR to batch gets.
const DefaultListAbove = 100

// Directory is what resolution needs from the Directory API.
type Directory interface {
	User(ctx context.Context, key string) (chatapi.DirectoryUser, error)
	UsersPage(ctx context.Context, query, pageToken string) ([]chatapi.DirectoryUser, string, error)
	// OwnsDomain: is this domain the organisation's? (an error: no answer)
	OwnsDomain(ctx context.Context, domain string) (bool, error)
}

// MemberGetter reads one membership by email alias.
type MemberGetter interface {
	Get(ctx context.Context, space, member string) (membership.Membership, error)
}

// Resolver resolves emails; Directory and Cache are optional.
type Resolver struct {
	Directory         Directory
	DirectoryThrottle *throttle.Throttle // Directory quota: 2,400 a minute
	Members           MemberGetter
	Throttle          *throttle.Throttle // Chat reads
	Cache             *Cache
	Logger            *slog.Logger
	// ListAbove is how many unknown emails make one paged users.list pass
	// preferable to a users.get each in Emails (export); 0 means
	// DefaultListAbove. Runs choose by estimated time instead (PreferPass).
	ListAbove int
	// Concurrency bounds Directory calls in flight; DirectoryPerMinute is
	// the Directory quota the throttle paces to (for estimates).
	Concurrency        int
	DirectoryPerMinute int
	// Notes are warnings found while setting up (an unreadable cache), for
	// the report.
	Notes []string
	// VerifyAbsence makes an address a Directory pass did not find cost a
	// users.get before it counts as outside the organisation (under admin
	// access, where that refuses it): search may lag behind new accounts.
	VerifyAbsence bool
	// Domains are the organisation's own (identity.domains), beside those
	// of the users the Directory names: an address there that is no
	// user's is not someone to add.
	Domains []string
}

// Outcome is what resolution could and could not establish.
type Outcome struct {
	// NotInDirectory are emails the Directory answered it does not know
	// (outside the organisation, or nobody). An email the Directory was
	// never asked about, because lookups stopped on an error, is not here.
	NotInDirectory map[string]bool
	// Unresolved are emails still unknown because a lookup failed (not
	// because it answered "nobody"), with why: a plan can't be sure about
	// them.
	Unresolved map[string]string
	// Warnings are for the report.
	Warnings []string
	// DirectoryOff, when set, says in full that the Directory could not be
	// asked because the Admin SDK API is not enabled in the project, and
	// where to enable it; reasons in Unresolved say it in short
	// (DisabledWhy). Said once, not once an address.
	DirectoryOff string
}

// badRequest: the Directory answers 400 (badRequest, domainNotFound,
// invalid) for an address in a domain the customer doesn't own.
func badRequest(err error) bool {
	var e *chatapi.Error
	return errors.As(err, &e) && e.Code == 400
}

// forbiddenAnswer: a 403 for one address or domain (another's), or for
// this caller. An Admin SDK API not enabled in the project is neither: the
// Directory can't be asked at all, a Directory that fails.
func forbiddenAnswer(err error) bool {
	var e *chatapi.Error
	return errors.As(err, &e) && e.Code == 403 && errors.Is(err, chatapi.ErrPermanent) && !e.Disabled
}

// Emails finds the primary email of each users/{id} through the Directory
// (a users.get each for a few, one paged pass for many); IDs it can't find
// are left out.
func (r *Resolver) Emails(ctx context.Context, ids []membership.Principal) map[membership.Principal]string {
	out := map[membership.Principal]string{}
	if r.Directory == nil || len(ids) == 0 {
		return out
	}
	if len(ids) <= r.listAbove() {
		for _, p := range ids {
			// An answer about another user, or naming no address, tells
			// nothing of this one: the ID stays, a valid member too.
			if u, err := r.directoryUser(ctx, p.ID()); err == nil && u.ID == p.ID() && u.PrimaryEmail != "" {
				out[p] = u.PrimaryEmail
			}
		}
		return out
	}
	want := map[membership.Principal]bool{}
	for _, p := range ids {
		want[p] = true
	}
	_ = r.eachDirectoryUser(ctx, func(u chatapi.DirectoryUser) {
		if p := membership.User(u.ID); want[p] && u.PrimaryEmail != "" {
			out[p] = u.PrimaryEmail
		}
	}) // what a failed pass didn't find stays an ID, which is a valid member too
	return out
}

func (r *Resolver) listAbove() int {
	if r.ListAbove > 0 {
		return r.ListAbove
	}
	return DefaultListAbove
}

// directoryUser is one throttled users.get.
func (r *Resolver) directoryUser(ctx context.Context, key string) (chatapi.DirectoryUser, error) {
	var u chatapi.DirectoryUser
	err := r.DirectoryThrottle.Directory(ctx, "directory.users.get", func(ctx context.Context) (err error) {
		u, err = r.Directory.User(ctx, key)
		return err
	})
	return u, err
}

// eachDirectoryUser pages through the whole Directory, 500 users a call.
func (r *Resolver) eachDirectoryUser(ctx context.Context, fn func(chatapi.DirectoryUser)) error {
	return r.eachDirectoryPage(ctx, "", func(page []chatapi.DirectoryUser) {
		for _, u := range page {
			fn(u)
		}
	})
}

// eachDirectoryPage pages through the users matching query, 500 a call.
func (r *Resolver) eachDirectoryPage(ctx context.Context, query string, fn func([]chatapi.DirectoryUser)) error {
	token := ""
	what := "the Directory's users"
	if query != "" {
		what += " matching " + query
	}
	guard := chatapi.PageGuard{What: what}
	for {
		var (
			page []chatapi.DirectoryUser
			next string
		)
		err := r.DirectoryThrottle.Directory(ctx, "directory.users.list", func(ctx context.Context) (err error) {
			page, next, err = r.Directory.UsersPage(ctx, query, token)
			return err
		})
		if err != nil {
			return err
		}
		fn(page)
		if err := guard.Next(len(page), next); err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		token = next
	}
}
