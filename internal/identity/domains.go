package identity

import (
	"context"
	"fmt"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/diff"
)

// holdOwnDomainStrangers makes unresolved, in a space where removals may
// follow, the addresses that are neither a Directory user's nor a member's
// of the space, in one of the organisation's own domains. Outside the
// organisation such an address is a newcomer to add; inside it is nobody's
// (a group's address, which names the group, or a mistyped one) or,
// refused (403), outside the admin's reach: maybe someone here under
// another name. So is one the Directory failed to look up (failed, with
// why) that the space answered "no such member": a group's address gets
// that answer too. Nobody in the space is removed for them. Those refused
// by a Directory that refuses this caller outright (asNone) are settled
// by the space's answer, as with no Directory.
func (s *Service) holdOwnDomainStrangers(ctx context.Context, rest, refused, asNone []string, failed map[string]string, ids *diff.Identities, out SpaceOutcome) {
	var strangers []string
	asks := map[string]*domainAnswer{}
	for _, email := range rest {
		_, known := ids.Aliases[email]
		_, unsettled := out.Unresolved[email]
		_, lookupFailed := failed[email]
		if known || unsettled || !out.NotInDirectory[email] && !lookupFailed || slices.Contains(asNone, email) {
			continue
		}
		strangers = append(strangers, email)
		asks[domainOf(email)] = &domainAnswer{}
	}
	// The domains are asked side by side, each once a run.
	g := errgroup.Group{}
	g.SetLimit(cap(s.gets))
	for domain, a := range asks {
		g.Go(func() error {
			a.own, a.err = s.ownDomain(ctx, domain)
			return nil
		})
	}
	g.Wait()
	if ctx.Err() != nil {
		// Stopped before the answers came: held, and said to be the stop's.
		for _, email := range strangers {
			out.Unresolved[email] = "interrupted: " + context.Cause(ctx).Error()
		}
		return
	}
	for _, email := range strangers {
		domain := domainOf(email)
		a := asks[domain]
		switch why, lookupFailed := failed[email]; {
		case a.err != nil && lookupFailed:
			out.Unresolved[email] = why + "; the space has no user member by this address, and whether " + domain + " is one of the organisation's domains could not be told: " + s.dirText(a.err)
		case a.err != nil:
			out.Unresolved[email] = "no user of the Directory has this address, and whether " + domain + " is one of the organisation's domains could not be told: " + s.dirText(a.err)
		case !a.own:
		case lookupFailed:
			out.Unresolved[email] = why + "; the space has no user member by this address, though its domain is the organisation's: a person the Directory could not be asked about, or a group's address (write that as group:" + email + ", or groups/{id})"
		case slices.Contains(refused, email):
			out.Unresolved[email] = "the Directory refused (403) to say who has this address, though its domain is the organisation's: a user outside the admin's reach, maybe someone here"
		default:
			out.Unresolved[email] = "no user of the organisation's Directory has this address, though its domain is the organisation's: a group's address (write it as group:" + email + "), or a mistyped one"
		}
	}
}

type domainAnswer struct {
	own bool
	err error
}

// domainQuestion is one run's question whether a domain is the
// organisation's, asked once however many spaces need the answer.
type domainQuestion struct {
	done chan struct{}
	domainAnswer
}

// ownDomain tells whether domain is one of the organisation's: known from
// identity.domains or the Directory's users (pass pages, users.get
// answers), known as another's from a users.get answer naming the domain
// (400, 404 "Domain not found"), or else asked once a run: users.list for
// that domain alone, answered for a domain of the customer's and refused
// for another's. A refusal (403) is also what a caller who may not list
// users gets: it counts as "another's" only when users.list of the
// customer's users is answered. A failure (5xx) tells nothing. A
// users.get answer "no such user" can't tell: Google answers it for an
// address in another organisation's domain too. Called without s.mu.
func (s *Service) ownDomain(ctx context.Context, domain string) (bool, error) {
	a := s.ask(ctx, domain, func(ctx context.Context) (bool, error) {
		own, err := s.domainListed(ctx, domain)
		if err == nil || !forbiddenAnswer(err) {
			return own, err
		}
		// Refused: another's, or a caller who may not list. Not told by
		// identity.domains: a list that leaves a domain out would then
		// cost that domain's groups, on the runs that learn nothing there.
		switch listed, cerr := s.callerLists(ctx); {
		case cerr != nil:
			return false, fmt.Errorf("users.list for it was refused (%v), and whether this caller may list users at all could not be told: %w", err, cerr)
		case !listed:
			return false, fmt.Errorf("users.list was refused (403) for it and for the organisation's users: this caller may not list users, so removals here wait until it may, or until the address is a member")
		}
		return false, nil
	})
	return a.own, a.err
}

// OwnDomain reports whether domain is one of the organisation's, as
// ownDomain answers it (identity.domains, the Directory's users, or one
// users.list for it a run); an error when that can't be told. domain is
// in lower case.
func (s *Service) OwnDomain(ctx context.Context, domain string) (bool, error) {
	return s.ownDomain(ctx, domain)
}

// callerLists tells whether users.list is answered to this caller, asked
// once a run (a page of the customer's users, whose domains it learns).
func (s *Service) callerLists(ctx context.Context) (bool, error) {
	a := s.ask(ctx, "\x00lists", func(ctx context.Context) (bool, error) {
		var page []chatapi.DirectoryUser
		err := s.r.DirectoryThrottle.Directory(ctx, "directory.users.list", func(ctx context.Context) (err error) {
			page, _, err = s.r.Directory.UsersPage(ctx, "", "")
			return err
		})
		switch {
		case err != nil && forbiddenAnswer(err):
			return false, nil
		case err != nil:
			return false, err
		}
		s.mu.Lock()
		for _, u := range page {
			if d := domainOf(u.PrimaryEmail); d != "" {
				s.ownDomains[d], s.primaryDomains[d] = true, true
			}
		}
		s.mu.Unlock()
		return true, nil
	})
	return a.own, a.err
}

// domainListed asks users.list for domain alone, paced as the Directory's
// calls are.
func (s *Service) domainListed(ctx context.Context, domain string) (own bool, err error) {
	err = s.r.DirectoryThrottle.Directory(ctx, "directory.users.list", func(ctx context.Context) (err error) {
		own, err = s.r.Directory.OwnsDomain(ctx, domain)
		return err
	})
	return own, err
}

// ask answers the question key once a run, however many ask it at once;
// an answer "own" for a domain is remembered with the others.
func (s *Service) ask(ctx context.Context, key string, fn func(context.Context) (bool, error)) domainAnswer {
	s.mu.Lock()
	if own, foreign := s.ownDomains[key], s.foreignDomains[key]; own || foreign {
		s.mu.Unlock()
		return domainAnswer{own: own}
	}
	q := s.domainQuestions[key]
	if q != nil {
		s.mu.Unlock()
		select {
		case <-q.done:
			return q.domainAnswer
		case <-ctx.Done():
			return domainAnswer{err: context.Cause(ctx)}
		}
	}
	q = &domainQuestion{done: make(chan struct{})}
	s.domainQuestions[key] = q
	s.mu.Unlock()
	own, err := fn(ctx)
	s.mu.Lock()
	q.own, q.err = own, err
	if own && key[0] != 0 {
		s.ownDomains[key], s.primaryDomains[key] = true, true
	}
	close(q.done)
	s.mu.Unlock()
	return q.domainAnswer
}

// NamedByDirectory reports whether what this run knows of email came from
// the Directory naming it one of the organisation's users: a Directory
// answer this run, or a cached answer the Directory gave as an alias (a
// membership read, the cache's other source, knows no aliases). A cached
// primary address may be a membership read's (someone outside the
// organisation): it does not count; nor does a rule's (a group's members
// may be outside it: the caller knows which rules' people are users).
func (s *Service) NamedByDirectory(email string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.addrs.get(email)
	switch rec.how {
	case byDirectory:
		return true
	case byCache:
		return rec.flags&alias != 0 || s.addrs.cache.aliasAt(int(rec.off))
	}
	return false
}
