package identity

import (
	"context"
	"errors"
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
// list showed without one, a users.get each by ID, side by side; members
// the Directory doesn't know are left out. Answers are shared across spaces.
func (s *Service) EmailsOf(ctx context.Context, ids []membership.Principal) map[membership.Principal][]string {
	out := map[membership.Principal][]string{}
	if s.r.Directory == nil {
		return out
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
					return
				}
				defer func() { <-s.gets }()
				u, err := s.r.directoryUser(ctx, p.ID())
				if err == nil {
					l.emails = append([]string{u.PrimaryEmail}, u.Aliases...)
				}
			}()
		}
		s.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-l.done:
			case <-ctx.Done():
				return
			}
			if len(l.emails) > 0 {
				mu.Lock()
				out[p] = l.emails
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

type idLookup struct {
	done   chan struct{}
	emails []string
}

// LoadSuspended asks the Directory, once, who is suspended (a users.list
// query, isSuspended=true), so policy sync can remove suspended members the
// sources still list. Spaces planned after it see them as suspended.
func (s *Service) LoadSuspended(ctx context.Context) error {
	if s.r.Directory == nil {
		return errors.New("remove_suspended needs the Directory (identity.directory, and not app authentication)")
	}
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
