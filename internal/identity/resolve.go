// Package identity matches the emails in the desired state to canonical
// users/{id} names without spending write quota: list responses first (free),
// then a persistent cache, then the Directory (users.get for a few, one paged
// users.list pass for many), then a per-space members.get for addresses the
// Directory can't know (external and consumer accounts).
package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

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
}

// Resolve fills current.Aliases, Suspended and ResolvedBy for the desired
// state's emails. It never fails the run: what it can't resolve stays an
// email, which the API accepts as an alias, and the outcome says which
// emails those are and why.
func (r *Resolver) Resolve(ctx context.Context, desired membership.Desired, current *membership.Current) Outcome {
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	out := Outcome{NotInDirectory: map[string]bool{}, Unresolved: map[string]string{}}
	failed := map[string]string{} // email → the last lookup error
	current.Aliases = map[string]membership.Principal{}
	current.Suspended = map[membership.Principal]bool{}
	current.ResolvedBy = map[string]string{}
	learn := func(email string, p membership.Principal, how string) {
		if _, ok := current.Aliases[email]; !ok {
			current.Aliases[email] = p
			current.ResolvedBy[email] = how
		}
	}
	listed := map[membership.Principal]string{} // canonical → email seen in a list
	for _, sp := range current.Spaces {
		for _, m := range sp.Memberships {
			if m.Email != "" && !m.Bot {
				learn(m.Email, m.Principal, ByList)
				listed[m.Principal] = m.Email
			}
		}
	}
	pending := pendingEmails(desired, current.Aliases)
	if len(pending) > 0 && r.Cache != nil {
		pending = r.fromCache(pending, listed, learn, current)
	}
	notInDirectory := out.NotInDirectory
	if len(pending) > 0 && r.Directory != nil {
		var warning string
		pending, warning = r.fromDirectory(ctx, pending, learn, current, notInDirectory, failed)
		if warning != "" {
			log.Warn(warning)
			out.Warnings = append(out.Warnings, warning)
		}
	}
	if len(pending) > 0 && r.Members != nil {
		pending = r.fromMemberGets(ctx, desired, current, pending, learn, failed)
	}
	for _, email := range pending {
		if why, ok := failed[email]; ok {
			out.Unresolved[email] = why
		}
	}
	if r.Cache != nil {
		// Only what cost a call is worth keeping: list answers give the
		// rest for free next time, and caching them would rewrite a file of
		// every member on every run.
		for email, how := range current.ResolvedBy {
			if how == ByDirectory || how == ByMemberGet {
				r.Cache.Put(email, current.Aliases[email], current.Suspended[membership.User(email)])
			}
		}
	}
	counts := map[string]int{}
	for _, how := range current.ResolvedBy {
		counts[how]++
	}
	suspended := 0
	for p := range current.Suspended {
		if p.Email() != "" {
			suspended++
		}
	}
	log.Info("identities resolved", "by_list", counts[ByList], "by_cache", counts[ByCache], "by_directory", counts[ByDirectory],
		"by_member_get", counts[ByMemberGet], "suspended", suspended, "not_in_directory", len(notInDirectory), "unresolved", len(out.Unresolved))
	return out
}

// pendingEmails are the desired emails not yet matched, sorted.
func pendingEmails(desired membership.Desired, known map[string]membership.Principal) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range desired.Spaces {
		for _, m := range s.Members {
			if e := m.Principal.Email(); e != "" && !seen[e] {
				seen[e] = true
				if _, ok := known[e]; !ok {
					out = append(out, e)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// fromCache trusts an entry only while it is fresh and no list contradicts
// it (the cached ID listed under another email means the entry is stale).
func (r *Resolver) fromCache(pending []string, listed map[membership.Principal]string, learn func(string, membership.Principal, string), current *membership.Current) []string {
	var rest []string
	for _, email := range pending {
		e, ok := r.Cache.Get(email)
		if ok {
			if other, seen := listed[e.Principal]; seen && other != email {
				r.Cache.Drop(email)
				ok = false
			}
		}
		if !ok {
			rest = append(rest, email)
			continue
		}
		learn(email, e.Principal, ByCache)
		if e.Suspended {
			current.Suspended[membership.User(email)], current.Suspended[e.Principal] = true, true
		}
	}
	return rest
}

func (r *Resolver) fromDirectory(ctx context.Context, pending []string, learn func(string, membership.Principal, string),
	current *membership.Current, notInDirectory map[string]bool, failed map[string]string) (rest []string, warning string) {
	record := func(email string, u chatapi.DirectoryUser) {
		p := membership.User(u.ID)
		learn(email, p, ByDirectory)
		if u.Suspended {
			current.Suspended[membership.User(email)], current.Suspended[p] = true, true
		}
	}
	if len(pending) <= r.listAbove() {
		var forbidden []string
		answered := false // the Directory answered at least one lookup with a user or "no such user"
		for i, email := range pending {
			u, err := r.directoryUser(ctx, email)
			switch {
			case err == nil:
				record(email, u)
				answered = true
			case errors.Is(err, chatapi.ErrNotFound), badRequest(err):
				// External or consumer account, a domain the customer doesn't
				// own (400 domainNotFound, badRequest), or nobody.
				rest = append(rest, email)
				notInDirectory[email] = true
				answered = true
			case forbiddenAnswer(err):
				// 403 for one address may mean "not your domain"; 403 for
				// every address means the Directory refuses this caller.
				rest = append(rest, email)
				forbidden = append(forbidden, email)
			default:
				for _, e := range pending[i:] {
					failed[e] = "directory: " + err.Error()
				}
				return append(rest, pending[i:]...), "directory lookups stopped; falling back to membership reads: " + err.Error()
			}
		}
		if answered {
			for _, e := range forbidden {
				notInDirectory[e] = true
			}
		} else if len(forbidden) > 0 {
			for _, e := range forbidden {
				failed[e] = "directory: every lookup was refused (403)"
			}
			warning = "the Directory refused every lookup (403): is auth.subject an admin with the Users read privilege? Falling back to membership reads"
		}
		return rest, warning
	}
	byEmail := map[string]chatapi.DirectoryUser{}
	err := r.eachDirectoryUser(ctx, func(u chatapi.DirectoryUser) {
		byEmail[u.PrimaryEmail] = u
		for _, a := range u.Aliases {
			byEmail[a] = u
		}
	})
	if err != nil {
		warning = "directory listing stopped; falling back to membership reads: " + err.Error()
	}
	for _, email := range pending {
		if u, ok := byEmail[email]; ok {
			record(email, u)
			continue
		}
		rest = append(rest, email)
		// Only a complete pass shows someone is not in the Directory.
		if err == nil {
			notInDirectory[email] = true
		} else {
			failed[email] = "directory: " + err.Error()
		}
	}
	return rest, warning
}

// badRequest: the Directory answers 400 (badRequest, domainNotFound,
// invalid) for an address in a domain the customer doesn't own.
func badRequest(err error) bool {
	var e *chatapi.Error
	return errors.As(err, &e) && e.Code == 400
}

func forbiddenAnswer(err error) bool {
	var e *chatapi.Error
	return errors.As(err, &e) && e.Code == 403 && errors.Is(err, chatapi.ErrPermanent)
}

// fromMemberGets asks each space where a still-unknown email is desired,
// unless that space's list carried every member's email (then the answer
// is already known: not a member).
func (r *Resolver) fromMemberGets(ctx context.Context, desired membership.Desired, current *membership.Current, pending []string,
	learn func(string, membership.Principal, string), failed map[string]string) []string {
	unknown := map[string]bool{}
	for _, e := range pending {
		unknown[e] = true
	}
	errored := map[string]string{}
	for _, ds := range desired.Spaces {
		cs := current.Spaces[ds.Name]
		if cs == nil || allEmailsListed(cs) {
			continue
		}
		for _, m := range ds.Members {
			email := m.Principal.Email()
			if !unknown[email] {
				continue
			}
			var got membership.Membership
			err := r.Throttle.Read(ctx, "get", ds.Name, func(ctx context.Context) (err error) {
				got, err = r.Members.Get(ctx, ds.Name, email)
				return err
			})
			switch {
			case err == nil:
				learn(email, got.Principal, ByMemberGet)
				delete(unknown, email)
				delete(failed, email)
			case errors.Is(err, chatapi.ErrNotFound):
				// Not a member of this space; it may be elsewhere.
			default:
				errored[email] = fmt.Sprintf("membership read in %s: %v", ds.Name, err)
			}
		}
	}
	var rest []string
	for _, e := range pending {
		if !unknown[e] {
			continue
		}
		rest = append(rest, e)
		if why, ok := errored[e]; ok {
			failed[e] = why
		} else {
			// Every space that wants this address answered "not a member"
			// (or listed every member's email): whatever the Directory
			// said, the plan is sure: create it there.
			delete(failed, e)
		}
	}
	return rest
}

func allEmailsListed(cs *membership.SpaceState) bool {
	for _, m := range cs.Memberships {
		if !m.Bot && !m.Principal.IsGroup() && m.Email == "" {
			return false
		}
	}
	return true
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
			if u, err := r.directoryUser(ctx, p.ID()); err == nil {
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
		if p := membership.User(u.ID); want[p] {
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
