package identity

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/membership"
)

// Resolve finds one address's canonical ID with a users.get (the acting
// user's, so it is never removed); false when the Directory can't say.
func (s *Service) Resolve(ctx context.Context, email string) (membership.Principal, bool) {
	if s.r.Directory == nil || email == "" {
		return "", false
	}
	s.mu.Lock()
	if rec := s.addrs.get(email); rec.how != unknown {
		s.mu.Unlock()
		return s.addrs.principal(rec), true
	}
	l := s.lookups[email]
	if l == nil {
		l = &lookup{done: make(chan struct{})}
		s.lookups[email] = l
		s.askLocked(ctx, email, l)
	}
	s.mu.Unlock()
	select {
	case <-l.done:
	case <-ctx.Done():
		return "", false
	}
	if l.state != found {
		return "", false
	}
	return l.user.p, true
}

// EmailsOf finds the addresses (primary first, then aliases) of members
// to remove, a users.get each by ID, side by side. Those it does not name
// (404: no such user now; 400/403: outside the organisation or an admin
// role's units, or the Directory refuses the syncer) are in refused: the
// space has to answer for them, as without a Directory. Those it could
// not be asked about (5xx after retries, quota, a deadline) are in failed,
// with why: who they are is unknown, not "nobody". Answers are shared
// across spaces.
func (s *Service) EmailsOf(ctx context.Context, ids []membership.Principal) (emails map[membership.Principal][]string, failed map[membership.Principal]error, refused map[membership.Principal]bool) {
	emails, failed, refused = map[membership.Principal][]string{}, map[membership.Principal]error{}, map[membership.Principal]bool{}
	if s.r.Directory == nil {
		return emails, failed, refused
	}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, p := range ids {
		if p.IsGroup() || p.Email() != "" {
			continue
		}
		s.mu.Lock()
		if s.byID == nil {
			s.byID = map[membership.Principal]*idLookup{}
		}
		l := s.byID[p]
		if l == nil {
			l = &idLookup{done: make(chan struct{})}
			s.byID[p] = l
			go func() {
				defer close(l.done)
				select {
				case s.gets <- struct{}{}:
				case <-ctx.Done():
					l.err = context.Cause(ctx)
					return
				}
				defer func() { <-s.gets }()
				u, err := s.r.directoryUser(ctx, p.ID())
				switch {
				case err == nil && (u.ID != p.ID() || u.PrimaryEmail == ""):
					// An answer about another user, or naming no address,
					// tells nothing of who this member is: protect and the
					// wanted addresses must not be checked against it.
					l.err = fmt.Errorf("the Directory answered the lookup of %s with %s (a fault on the server's side)", p, describeAnswer(u))
				case err == nil:
					l.emails = append([]string{u.PrimaryEmail}, u.Aliases...)
					s.mu.Lock()
					s.answered++
					s.mu.Unlock()
				case errors.Is(err, chatapi.ErrNotFound):
					// No such user now: an account deleted, or another
					// organisation's. Its addresses can't be known.
					s.mu.Lock()
					s.answered++
					s.mu.Unlock()
					l.refused = true
				case chatapi.Unasked(err):
					// The Directory could not be asked at all (its API off,
					// or given up for its quota): a lookup that failed, and
					// the member is kept, as for any failing Directory.
					l.err = err
				case errors.Is(err, chatapi.ErrPermanent):
					// Not someone the Directory shows us (outside the
					// organisation, or outside an admin role's units), or
					// the Directory refuses the syncer: either way, as
					// without a Directory, the space answers instead.
					l.refused = true
				default:
					l.err = err
				}
			}()
		}
		s.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			select {
			case <-l.done:
				err = l.err
			case <-ctx.Done():
				err = context.Cause(ctx)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				failed[p] = err
			case len(l.emails) > 0:
				emails[p] = l.emails
			case l.refused:
				refused[p] = true
			}
		}()
	}
	wg.Wait()
	return emails, failed, refused
}

type idLookup struct {
	done    chan struct{}
	emails  []string
	err     error // the lookup could not be made
	refused bool  // answered without naming the user (404, 400, 403)
}

// LoadSuspended asks the Directory, once, who is suspended (a users.list
// query, isSuspended=true), so policy sync can remove suspended members the
// sources still list. Spaces planned after it see them as suspended.
func (s *Service) LoadSuspended(ctx context.Context) error {
	if s.r.Directory == nil {
		return errors.New("remove_suspended needs the Directory (identity.directory, and not app authentication)")
	}
	s.mu.Lock()
	s.suspendedListed = true // pages settle who is; a failure below warns that nobody is removed for it
	s.mu.Unlock()
	err := s.r.eachDirectoryPage(ctx, "isSuspended=true", func(page []chatapi.DirectoryUser) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, u := range page {
			if !u.Suspended {
				continue // the query said so; trust what the user record says
			}
			s.suspendedIDs[membership.User(u.ID)], s.anySuspended = true, true
			for _, e := range append([]string{u.PrimaryEmail}, u.Aliases...) {
				s.markLocked(e, suspended)
			}
		}
	})
	if err != nil {
		// Nobody was settled: the cache's "suspended" counts again, as in
		// any run, so a suspended user a source names is still not added
		// (nobody is removed for it: the run says so and plans none).
		s.mu.Lock()
		s.suspendedListed = false
		s.mu.Unlock()
	}
	return err
}

// describeAnswer names what a Directory answer that does not fit its
// question was about.
func describeAnswer(u chatapi.DirectoryUser) string {
	switch {
	case u.ID == "":
		return "a user without an ID"
	case u.PrimaryEmail == "":
		return "users/" + u.ID + " and no address"
	}
	return "users/" + u.ID + " (" + u.PrimaryEmail + ")"
}
