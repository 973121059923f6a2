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
		go s.getNow(ctx, email, l)
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

// EmailsOf finds the addresses (primary first, then aliases) of members a
// list showed without one, a users.get each by ID, side by side. Members
// the Directory answered it doesn't know (404, 400) are left out, and so
// are those it refused (403 while it answers other calls: outside the
// organisation, or outside an admin role's units), which are also in
// refused; those it could not be asked about (5xx after retries, quota, a
// deadline) are in failed, with why: who they are is unknown, not
// "nobody". Answers are shared across spaces.
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
				case err == nil:
					l.emails = append([]string{u.PrimaryEmail}, u.Aliases...)
					s.mu.Lock()
					s.answered++
					s.mu.Unlock()
				case errors.Is(err, chatapi.ErrNotFound):
					s.mu.Lock()
					s.answered++ // no such user: an answer
					s.mu.Unlock()
				case errors.Is(err, chatapi.ErrPermanent) && !s.refusesAll(ctx, err):
					// Not someone the Directory shows us: outside the
					// organisation, or outside an admin role's units.
					l.refused = true
				case errors.Is(err, chatapi.ErrPermanent):
					l.err = fmt.Errorf("the Directory refuses the syncer; without it (identity.directory: false) the space is asked instead: %w", err)
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

// refusesAll reports whether err is the Directory refusing the caller
// rather than saying something of one user: a 403 while it has answered
// nothing this run (no user, no "no such user", no users.list page), and
// does not answer one users.list page asked for then. (A run whose
// identities all come from the cache may ask the Directory nothing else.)
func (s *Service) refusesAll(ctx context.Context, err error) bool {
	var e *chatapi.Error
	if !errors.As(err, &e) || e.Code != 403 {
		return false
	}
	s.mu.Lock()
	answered := s.answered
	s.mu.Unlock()
	return answered == 0 && !s.directoryServes(ctx)
}

// directoryServes asks, once a run, whether the Directory answers the
// caller at all: one users.list page.
func (s *Service) directoryServes(ctx context.Context) bool {
	s.servesOnce.Do(func() {
		err := s.r.DirectoryThrottle.Directory(ctx, "directory.users.list", func(ctx context.Context) error {
			_, _, err := s.r.Directory.UsersPage(ctx, "", "")
			return err
		})
		if s.serves = err == nil; s.serves {
			s.mu.Lock()
			s.answered++
			s.mu.Unlock()
		}
	})
	return s.serves
}

type idLookup struct {
	done    chan struct{}
	emails  []string
	err     error // the lookup could not be made
	refused bool  // answered 403 while the Directory answers other calls
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
	return s.r.eachDirectoryPage(ctx, "isSuspended=true", func(page []chatapi.DirectoryUser) {
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
}
