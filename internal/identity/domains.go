package identity

import "context"

// domainQuestion is one run's question whether a domain is the
// organisation's, asked once however many spaces need the answer.
type domainQuestion struct {
	done chan struct{}
	own  bool
	err  error
}

// ownDomain tells whether domain is one of the organisation's: known from
// identity.domains or the Directory's users (pass pages, users.get
// answers), known as another's from a users.get answer naming the domain
// (400, 404 "Domain not found"), or else asked once a run (users.list for
// that domain alone).
// A users.get answer "no such user" can't tell: Google answers it for an
// address in another organisation's domain too. Called without s.mu.
func (s *Service) ownDomain(ctx context.Context, domain string) (bool, error) {
	s.mu.Lock()
	if own, foreign := s.ownDomains[domain], s.foreignDomains[domain]; own || foreign {
		s.mu.Unlock()
		return own, nil
	}
	q := s.domainQuestions[domain]
	if q != nil {
		s.mu.Unlock()
		select {
		case <-q.done:
			return q.own, q.err
		case <-ctx.Done():
			return false, context.Cause(ctx)
		}
	}
	q = &domainQuestion{done: make(chan struct{})}
	s.domainQuestions[domain] = q
	s.mu.Unlock()
	err := s.r.DirectoryThrottle.Directory(ctx, "directory.users.list", func(ctx context.Context) (err error) {
		q.own, err = s.r.Directory.OwnsDomain(ctx, domain)
		return err
	})
	s.mu.Lock()
	q.err = err
	if q.own {
		s.ownDomains[domain] = true
	}
	close(q.done)
	s.mu.Unlock()
	return q.own, q.err
}
