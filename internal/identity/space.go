package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/membership"
)

// SpaceOutcome is what resolution could not settle for one space.
type SpaceOutcome struct {
	// Unresolved are emails whose lookups failed, with why.
	Unresolved map[string]string
	// NotInDirectory are emails the Directory answered it does not know.
	NotInDirectory map[string]bool
}

// Space returns the identities a space's plan needs, given its list. It
// waits only for the lookups this space needs: while a pass runs, until
// the pages have shown this space's addresses (or the pass ends).
// onWait (when set) is called once, before the first wait.
func (s *Service) Space(ctx context.Context, ds membership.DesiredSpace, cs *membership.SpaceState, onWait func()) (diff.Identities, SpaceOutcome) {
	onWait = callOnce(onWait)
	listed := map[string]membership.Principal{}   // this space's listed emails
	listedBy := map[membership.Principal]string{} // and whose they are
	missingEmails := false
	for _, m := range cs.Memberships {
		if m.Bot || m.Principal.IsGroup() {
			continue
		}
		if m.Email == "" {
			missingEmails = true
			continue
		}
		listed[m.Email], listedBy[m.Principal] = m.Principal, m.Email
	}
	s.mu.Lock()
	// What neither the list, the records nor the cache settle. Nothing
	// else is built before the wait for a pass: a space held meanwhile
	// costs its memberships and this list.
	var need []string
	unlisted := 0 // desired addresses the list doesn't show: Aliases' size
	for _, m := range ds.Members {
		email := m.Principal.Email()
		if email == "" {
			continue
		}
		if lp, ok := listed[email]; ok {
			// The list shows the address itself: a record or entry naming
			// another ID is out of date, for every space.
			if rec := s.addrs.get(email); rec.how == byCache && s.addrs.principal(rec) != lp {
				s.forgetLocked(email)
			} else if s.r.Cache != nil && rec.how == unknown {
				if e, ok := s.r.Cache.Get(email); ok && e.Principal != lp {
					s.r.Cache.Drop(email)
				}
			}
			continue
		}
		if unlisted++; s.settledLocked(email, listedBy).how != unknown {
			continue
		}
		if _, ok := s.fromCacheLocked(email, listedBy); !ok {
			need = append(need, email)
		}
	}
	if missingEmails && s.pass == nil {
		// Lists here don't carry every email, so most desired emails will need
		// the Directory (those the cache doesn't hold): decide now between a
		// get each and one pass.
		s.considerPassForListsLocked(ctx)
	}
	if p := s.pass; p != nil && len(need) > 0 && s.r.Directory != nil {
		// A pass is under way: wait for its pages to show this space's
		// addresses rather than keep a lookup per address (a million of
		// them, in a big tenant). Most will be in its pages; the rest are
		// looked up below, once it ends.
		s.awaitPassLocked(ctx, p, need, onWait)
	}
	// Sized once: a space's hundred addresses grown into maps entry by
	// entry were a tenth of a million-membership run's garbage.
	ids := diff.Identities{Aliases: make(map[string]membership.Principal, unlisted), Suspended: map[membership.Principal]bool{},
		ResolvedBy: make(map[string]string, len(ds.Members))}
	need = need[:0]
	for _, m := range ds.Members {
		email := m.Principal.Email()
		if email == "" {
			continue
		}
		if _, ok := listed[email]; ok {
			// The space's own list settles it. (What lists show is not kept
			// across spaces: with a million members that is most of the
			// memory, to save a Directory call now and then.)
			ids.ResolvedBy[email] = ByList
			s.counts[ByList]++
			continue
		}
		if rec := s.settledLocked(email, listedBy); rec.how != unknown {
			s.neededLocked(email, rec)
			s.give(&ids, email, s.addrs.principal(rec), rec.how)
			continue
		}
		need = append(need, email)
	}
	waits := make([]*lookup, len(need))
	if s.r.Directory != nil {
		for i, email := range need {
			waits[i] = s.lookupLocked(ctx, email)
		}
	}
	s.mu.Unlock()

	out := SpaceOutcome{Unresolved: map[string]string{}, NotInDirectory: map[string]bool{}}
	var rest []string          // not in the Directory, or not asked: a membership read may know
	var refused []string       // of those, the ones the Directory refused (403)
	var failedLookups []string // and the ones whose lookup failed (a 5xx, a timeout)
	var refusedEarly []string  // 403 while nothing had been answered yet
	for i, email := range need {
		l := waits[i]
		if l == nil {
			rest = append(rest, email)
			continue
		}
		if !closed(l.done) {
			onWait()
		}
		select {
		case <-l.done:
		case <-ctx.Done():
			out.Unresolved[email] = "interrupted: " + context.Cause(ctx).Error()
			continue
		}
		s.mu.Lock()
		if l.state == forbidden && s.answered == 0 {
			// Is this address outside the organisation, or does the
			// Directory refuse us? An answer for another domain tells.
			if probe := s.probeLocked(ctx, email); probe != nil {
				s.mu.Unlock()
				select {
				case <-probe.done:
				case <-ctx.Done():
				}
				s.mu.Lock()
			}
		}
		switch {
		case l.state == found:
			s.fromDirectoryLocked(&ids, email, l.user)
		case l.state == notFound, l.state == forbidden && s.answered > 0:
			s.markLocked(email, notInDirectory)
			out.NotInDirectory[email] = true
			if l.state == forbidden {
				refused = append(refused, email)
			}
			rest = append(rest, email)
		default: // failed, or forbidden with nothing answered: the Directory can't tell
			why := "directory: every lookup was refused (403)"
			if l.err != nil {
				why = "directory: " + s.dirText(l.err)
			}
			if l.state == failed {
				// A Directory that fails (not one refusing this caller,
				// where membership reads take over, as with none).
				failedLookups = append(failedLookups, email)
			} else if l.state == forbidden {
				refusedEarly = append(refusedEarly, email)
			}
			out.Unresolved[email] = why
			rest = append(rest, email)
		}
		s.mu.Unlock()
	}
	switch {
	case len(rest) == 0:
	case s.r.Members != nil && (missingEmails || s.Careful != nil && s.Careful(ds.Name)):
		// The space itself answers, by address: where its list leaves
		// people without an email, or where removals may follow. There
		// even "not in the Directory" is not enough: a pass's prefix
		// queries never show an alias-domain address of someone they did
		// not page to, and an admin role scoped to some organisational
		// units neither lists nor gets the others. Read as a stranger, the
		// address's owner would be one to remove.
		onWait()                      // the member reads wait for the API
		failed := map[string]string{} // the Directory failed: a read's 404 does not settle these
		for _, email := range failedLookups {
			failed[email] = out.Unresolved[email]
		}
		s.fromMemberGets(ctx, ds.Name, rest, &ids, out.Unresolved)
		if s.Careful != nil && s.Careful(ds.Name) { // removals may follow
			// A refused address (403) the space has no member by: a
			// caller the Directory refuses outright (as none: the read
			// settles it), or an address outside the admin's reach or
			// the organisation, which its domain tells. Whether
			// users.list of the organisation's users is refused too
			// decides which, once a run, for every refused address
			// alike: which lookup happened to answer first must not.
			refused = append(refused, refusedEarly...)
			var unsettled []string
			for _, email := range refused {
				_, known := ids.Aliases[email]
				_, open := out.Unresolved[email]
				if !known && !open {
					unsettled = append(unsettled, email)
				}
			}
			var asNone []string // settled by the reads, as with no Directory
			if len(unsettled) > 0 {
				if lists, err := s.callerLists(ctx); err == nil && !lists {
					asNone = unsettled
				} else {
					for _, email := range unsettled {
						out.NotInDirectory[email] = true
					}
				}
			}
			s.holdOwnDomainStrangers(ctx, rest, refused, asNone, failed, &ids, out)
		}
	default:
		for _, email := range rest {
			// Every member's email is listed here and nothing is removed, so
			// an email not among them is taken as not a member: at worst its
			// create is answered "already exists".
			delete(out.Unresolved, email)
		}
	}
	s.tieListedAddresses(ctx, ds, cs, &ids)
	s.mu.Lock()
	// Only what this space's plan can ask about: its members and its sources' people.
	for _, m := range cs.Memberships {
		if s.suspendedLocked(m.Principal) {
			ids.Suspended[m.Principal] = true
		}
		if m.Email != "" && s.suspendedLocked(membership.User(m.Email)) {
			ids.Suspended[membership.User(m.Email)] = true
		}
	}
	for _, m := range ds.Members {
		if s.suspendedLocked(m.Principal) {
			ids.Suspended[m.Principal] = true
		}
		if p, ok := ids.Aliases[m.Principal.Email()]; ok && s.suspendedLocked(p) {
			ids.Suspended[p] = true
		}
	}
	for e, why := range out.Unresolved {
		s.markLocked(e, lookupFailed)
		s.why[e] = why
	}
	s.mu.Unlock()
	return ids, out
}

// tieListedAddresses gives the Directory's IDs of the members the list
// named by address (users/{email}; answers promise users/{id}), where the
// sources name someone the list does not show as written (an alias of
// theirs, or their ID), and where removals may follow. The plan matches
// through the ID (diff indexes such a member by it), and a removal names
// it, as the rails know people (protect's IDs, the acting user's, a
// group's people); without it, the person was created again and removed,
// and protect and the acting user, named by ID or by an alias, did not
// keep theirs. An address the Directory can't name (outside the
// organisation) is left as it is.
func (s *Service) tieListedAddresses(ctx context.Context, ds membership.DesiredSpace, cs *membership.SpaceState, ids *diff.Identities) {
	var listed []string
	for _, m := range cs.Memberships {
		if e := m.Principal.Email(); e != "" && !m.Bot {
			listed = append(listed, e)
		}
	}
	if len(listed) == 0 { // as Google answers: nothing to tie, nothing built
		return
	}
	if s.Careful == nil || !s.Careful(ds.Name) {
		shown := make(map[membership.Principal]bool, 2*len(cs.Memberships))
		for _, m := range cs.Memberships {
			shown[m.Principal] = true
			if m.Email != "" {
				shown[membership.User(m.Email)] = true
			}
		}
		if !slices.ContainsFunc(ds.Members, func(m membership.DesiredMember) bool { return !shown[m.Principal] }) {
			return
		}
	}
	for _, email := range listed {
		if _, ok := ids.Aliases[email]; ok {
			continue
		}
		if p, ok := s.Resolve(ctx, email); ok && p.Email() == "" {
			ids.Aliases[email] = p
		}
	}
}

// Await returns when a space can be planned without waiting for the
// Directory pass: its pages have shown the space's addresses that nothing
// else settles, or the pass has ended (or there is none). The caller holds
// the space in a compact form meanwhile, and hands Space its state after;
// missingEmails says its list shows a person without an email, as for
// Space, where a pass may then start. onWait (when set) is called once,
// before the first wait.
func (s *Service) Await(ctx context.Context, ds membership.DesiredSpace, missingEmails bool, onWait func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists++
	if missingEmails {
		s.noEmails++
	}
	if missingEmails && s.pass == nil {
		s.considerPassForListsLocked(ctx)
	}
	p := s.pass
	if p == nil || s.r.Directory == nil || !missingEmails {
		return // a list with every email settles most; Space looks up the rest
	}
	var need []string
	for _, m := range ds.Members {
		email := m.Principal.Email()
		if email == "" || s.addrs.get(email).how != unknown {
			continue
		}
		if s.r.Cache != nil {
			if _, ok := s.r.Cache.Get(email); ok {
				continue // Space checks it against the list
			}
		}
		need = append(need, email)
	}
	if len(need) > 0 {
		s.awaitPassLocked(ctx, p, need, callOnce(onWait))
	}
}

// awaitPassLocked waits while the pass runs until its pages have shown
// every address in need (or the pass ends). Pages come sorted by email in
// each of the pass's queries, so where a space's people sort near one
// another its wait ends long before the pass does, and the space (held in
// memory meanwhile) is planned. need is sorted; the space waits on the
// first address still unknown, and only settling that one wakes it (a
// million-address pass would otherwise wake every waiting space on every
// page): a space costs a look per address and a wake per address it
// waited on.
func (s *Service) awaitPassLocked(ctx context.Context, p *pass, need []string, onWait func()) {
	slices.Sort(need)
	for {
		for len(need) > 0 && !s.passOweLocked(need[0]) {
			need = need[1:]
		}
		if len(need) == 0 || closed(p.done) || ctx.Err() != nil {
			return
		}
		wake := make(chan struct{})
		if s.waiting == nil {
			s.waiting = map[string][]chan struct{}{}
		}
		s.waiting[need[0]] = append(s.waiting[need[0]], wake)
		s.mu.Unlock()
		onWait()
		select {
		case <-wake:
		case <-p.done:
		case <-ctx.Done():
		}
		s.mu.Lock()
	}
}

// considerPassForListsLocked starts (or adopts) the pass once a list shows
// people without emails: most addresses the cache doesn't hold will need
// the Directory. A pass started early counts the addresses it was started
// for, not fewer for what its first pages already showed.
func (s *Service) considerPassForListsLocked(ctx context.Context) {
	n := max(0, s.wantedLocked()-s.resolved-s.cachedLocked())
	if s.early != nil {
		n = max(n, s.anticipated)
	}
	s.considerPassLocked(ctx, n)
}

// passOweLocked: the pass may still show email (nothing settled it, and
// no query left it behind).
func (s *Service) passOweLocked(email string) bool {
	rec := s.addrs.get(email)
	return rec.how == unknown && rec.flags&(handed|uncovered) == 0
}

func (s *Service) give(ids *diff.Identities, email string, p membership.Principal, h how) {
	ids.Aliases[email], ids.ResolvedBy[email] = p, h.String()
	if s.anySuspended && s.suspendedLocked(membership.User(email)) {
		ids.Suspended[membership.User(email)] = true
		// The ID is suspended when the Directory says so of the ID: an
		// address flagged suspended may be matched (by an out-of-date cache
		// entry) to someone else, who is active and wanted.
		if s.suspendedIDs[p] {
			ids.Suspended[p] = true
		}
	}
}

// neededLocked notes that a space takes email's record from there: one an
// early pass's page settled, the pass still unwanted, is then worth keeping
// in the cache (Outcome), as any address the list doesn't settle.
func (s *Service) neededLocked(email string, rec record) {
	if rec.flags&unneeded != 0 {
		rec.flags &^= unneeded
		s.addrs.put(email, rec)
		s.earlyNeeded++
	}
}

// fromDirectoryLocked settles email as the Directory answered it.
func (s *Service) fromDirectoryLocked(ids *diff.Identities, email string, u dirUser) {
	s.ownDomains[domainOf(email)] = true
	s.neededLocked(email, s.addrs.get(email)) // when a page settled the lookup
	s.learnLocked(email, u.p, byDirectory)
	if u.alias {
		s.markLocked(email, alias)
	}
	if u.suspended {
		s.markLocked(email, suspended)
		s.suspendedIDs[u.p], s.anySuspended = true, true
	}
	s.give(ids, email, u.p, byDirectory)
}

// settledLocked is email's record, unless it came from the cache and this
// space's list shows its ID under another address: then the entry is out
// of date (the ID is someone else's now), and it is forgotten, here and in
// the cache, whichever space took it first (fromCacheLocked checks only
// that one's list).
func (s *Service) settledLocked(email string, listedBy map[membership.Principal]string) record {
	rec := s.addrs.get(email)
	if rec.how != byCache || rec.flags&alias != 0 || s.addrs.cache.aliasAt(int(rec.off)) {
		return rec // an alias's entry: its ID is listed under the primary address
	}
	if other, ok := listedBy[s.addrs.principal(rec)]; ok && other != email {
		s.forgetLocked(email)
		return s.addrs.get(email)
	}
	return rec
}

// fromCacheLocked trusts an entry while it is fresh and this space's list
// doesn't contradict it: the cached ID listed under another email, unless
// the Directory named the address as an alias (the list shows a user by
// the primary address; sources often spell an alias domain's).
func (s *Service) fromCacheLocked(email string, listedBy map[membership.Principal]string) (membership.Principal, bool) {
	if s.r.Cache == nil {
		return "", false
	}
	e, at, ok := s.r.Cache.getAt(email)
	if !ok {
		return "", false
	}
	if other, ok := listedBy[e.Principal]; ok && other != email && !e.Alias {
		s.r.Cache.Drop(email) // the ID is someone else's now
		return "", false
	}
	s.learnCachedLocked(email, at)
	if e.Suspended && !s.suspendedListed {
		s.markLocked(email, suspended)
		s.suspendedIDs[e.Principal] = true
	}
	return e.Principal, true
}

// fromMemberGets asks this space, a read each, about emails the Directory
// could not settle (external and consumer accounts).
func (s *Service) fromMemberGets(ctx context.Context, space string, emails []string, ids *diff.Identities, unresolved map[string]string) {
	var mu sync.Mutex
	g := errgroup.Group{}
	g.SetLimit(8)
	for _, email := range emails {
		g.Go(func() error {
			var got membership.Membership
			err := s.r.Throttle.Read(ctx, "get", space, func(ctx context.Context) (err error) {
				got, err = s.r.Members.Get(ctx, space, email)
				return err
			})
			s.memberGets.Add(1)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && (got.Name == "" || got.Principal == ""):
				// An answer naming no member (an empty 200, a membership
				// without its user) says nothing of who the address is:
				// taken as the address's, the person the source names would
				// match no member, and policy sync would remove them.
				unresolved[email] = fmt.Sprintf("membership read in %s: the answer names no user (a fault on the server's side)", space)
			case err == nil && got.Principal.Email() != "":
				// Named by an address, not users/{id} (answers promise
				// IDs): which of the members listed by ID it is can't be
				// told, and taken as the address's identity it matched
				// none of them, and policy sync removed the person.
				unresolved[email] = fmt.Sprintf("membership read in %s: the answer names the member by address (%s), not by ID", space, got.Principal)
			case err == nil:
				s.mu.Lock()
				s.learnLocked(email, got.Principal, byMemberGet)
				if got.Email != "" && got.Email != email && s.addrs.principal(s.addrs.get(email)) == got.Principal {
					// Shown under another address: the one asked is an
					// alias, which a list showing the primary one does
					// not contradict (as Confirm marks it).
					s.markLocked(email, alias)
				}
				s.give(ids, email, got.Principal, byMemberGet)
				s.mu.Unlock()
				delete(unresolved, email)
			case errors.Is(err, chatapi.ErrNotFound):
				// Not a member here: a sure answer, whatever the Directory said.
				delete(unresolved, email)
			default:
				unresolved[email] = fmt.Sprintf("membership read in %s: %v", space, err)
			}
			return nil
		})
	}
	g.Wait()
}

// callOnce is f (nil: nothing) called the first time only: a space gives
// its place among those read ahead back at its first wait.
func callOnce(f func()) func() {
	if f == nil {
		return func() {}
	}
	return sync.OnceFunc(f)
}

// domainOf is an address's domain, lower-cased as addresses are here.
func domainOf(email string) string {
	if at := strings.LastIndexByte(email, '@'); at >= 0 {
		return email[at+1:]
	}
	return ""
}
