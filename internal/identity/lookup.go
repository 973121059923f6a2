package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/syncer-dev/syncer/internal/chatapi"
)

// lookup is one email's users.get, shared by every space that wants it.
type lookup struct {
	done  chan struct{}
	user  dirUser // with found
	state lookupState
	err   error
	// asked: its users.get has started; nothing else starts another.
	asked bool
}

// askLocked starts l's users.get unless one has started or l is settled.
func (s *Service) askLocked(ctx context.Context, email string, l *lookup) {
	if l.asked || l.state != pending {
		return
	}
	l.asked = true
	go s.getNow(ctx, email, l)
}

type lookupState int

const (
	pending   lookupState = iota
	found                 // user set
	notFound              // 404 or 400: not in the organisation
	forbidden             // 403: not the customer's domain, or the Directory refuses the caller
	failed                // no answer (5xx after retries, a refused pass): err set
)

// lookupLocked returns email's Directory lookup, starting it if needed: a
// users.get, or what the pass answers. Gets run side by side, as many as
// the Directory's calls in flight allow, paced by its throttle.
func (s *Service) lookupLocked(ctx context.Context, email string) *lookup {
	if l := s.lookups[email]; l != nil {
		return l
	}
	l := &lookup{done: make(chan struct{})}
	s.lookups[email] = l
	s.requested++
	if s.pass == nil {
		s.considerPassLocked(ctx, s.requested)
	}
	if p := s.pass; p != nil {
		rec := s.addrs.get(email)
		switch {
		case rec.how == byDirectory: // a page already went by
			s.settleLocked(l, dirUser{p: s.addrs.principal(rec), suspended: rec.flags&suspended != 0}, found, nil)
		case rec.flags&uncovered != 0: // no page will go by
			s.askUncoveredLocked(ctx, email, rec, l)
		case !closed(p.done):
			// the pass settles it when it finds it, or when it ends
		case p.err != nil || s.r.VerifyAbsence || s.ownDomains[domainOf(email)]:
			// The pass failed, or an absence must be sure (an address in
			// the organisation's own domain that no page showed: a new
			// account search has not caught up with, or nobody's): ask
			// for this address, beside the others.
			s.askLocked(ctx, email, l)
		default:
			s.settleLocked(l, dirUser{}, notFound, nil) // a whole pass shows who is not there
		}
		return l
	}
	go s.get(ctx, email, l)
	return l
}

// wantedIn counts the sources' addresses from prefix up to last (a page's
// last primary email): what a query over prefix has paged past.
func (s *Service) wantedIn(prefix, last string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	sorted := s.addrs.sorted
	i, _ := slices.BinarySearch(sorted, prefix)
	j, found := slices.BinarySearch(sorted, last)
	if found {
		j++
	}
	return max(0, j-i)
}

// handOff gives the addresses a pass's query leaves (where the Directory
// is sparse) a users.get each, side by side at the Directory's pace: the
// spaces waiting for the pass to show them wait for these instead, and
// the pass's end does not settle them. Addresses already settled are
// skipped, and those the cache holds that nobody has asked about are
// marked uncovered instead. It returns how many it took from the pass.
func (s *Service) handOff(ctx context.Context, emails []string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range emails {
		rec, get := s.handOffLocked(e)
		if rec == nil {
			continue
		}
		n++
		if !get {
			// A space will take it from the cache; nobody asked. Should
			// one ask after all (the entry dropped or expired), it costs a
			// users.get then: no page went past it.
			rec.flags |= uncovered
			continue
		}
		rec.flags |= handed
		l := s.lookups[e]
		if l == nil {
			l = &lookup{done: make(chan struct{})}
			s.lookups[e] = l
			s.requested++
		}
		s.askLocked(ctx, e, l)
		s.wakeLocked(e) // a space waiting on it goes on to its lookup
	}
	return n
}

// handOffLocked says what a hand-off does with email: nothing (rec nil:
// not the sources', settled, or its users.get under way), leave it to the
// cache (get false: the cache holds it and no lookup asks for it), or ask
// users.get.
func (s *Service) handOffLocked(email string) (rec *record, get bool) {
	at, ok := s.addrs.find(email)
	if !ok {
		return nil, false
	}
	rec = &s.addrs.table[at]
	if rec.how != unknown || rec.flags&handed != 0 {
		return nil, false
	}
	return rec, s.lookups[email] != nil || !s.inCacheLocked(email)
}

// askUncoveredLocked starts the users.get of an address no page of the
// pass went past, once: marked handed, the pass's end and its queries
// leave it to this get.
func (s *Service) askUncoveredLocked(ctx context.Context, email string, rec record, l *lookup) {
	if rec.flags&handed != 0 {
		return // its users.get is under way
	}
	rec.flags |= handed
	s.addrs.put(email, rec)
	s.askLocked(ctx, email, l)
}

// toGet counts the addresses of emails a hand-off would ask users.get
// about (see handOff), up to limit+1.
func (s *Service) toGet(emails []string, limit int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range emails {
		if n > limit {
			break
		}
		if rec, get := s.handOffLocked(e); rec != nil && get {
			n++
		}
	}
	return n
}

// inCacheLocked: the identity cache holds a live entry for email.
func (s *Service) inCacheLocked(email string) bool {
	if s.r.Cache == nil {
		return false
	}
	_, ok := s.r.Cache.Get(email)
	return ok
}

// probeLocked returns a lookup of a desired address in another domain than
// email's, started if need be, or nil when there is none.
func (s *Service) probeLocked(ctx context.Context, email string) *lookup {
	_, domain, _ := strings.Cut(email, "@")
	s.wantedLocked()
	others := s.addrs.wantedOutside(domain)
	for _, e := range others {
		if l := s.lookups[e]; l != nil {
			return l // already asked: its answer will do
		}
	}
	if len(others) == 0 {
		return nil
	}
	return s.lookupLocked(ctx, others[0])
}

func (s *Service) get(ctx context.Context, email string, l *lookup) {
	s.mu.Lock()
	p := s.pass
	asked := l.asked || l.state != pending
	if p == nil {
		l.asked = true
	}
	s.mu.Unlock()
	if p != nil || asked { // the pass started while this get waited to start
		return // the pass settles it (or its get is under way)
	}
	s.getNow(ctx, email, l)
}

// getNow looks one address up with a users.get, once one of the
// Directory's calls in flight is free.
func (s *Service) getNow(ctx context.Context, email string, l *lookup) {
	select {
	case s.gets <- struct{}{}:
	case <-ctx.Done():
		s.settle(l, dirUser{}, failed, context.Cause(ctx))
		return
	}
	defer func() { <-s.gets }()
	u, err := s.r.directoryUser(ctx, email)
	switch {
	case err == nil && u.ID == "":
		err = errors.New("the Directory answered without the user's ID (a fault on the server's side)")
	case err == nil && u.PrimaryEmail != email && !slices.Contains(u.Aliases, email):
		// Google answers an address with the user who has it, as primary
		// address or alias: an answer about a user without it names
		// nobody, and taken as the address's, that user would stand in
		// for the person the sources mean.
		err = fmt.Errorf("the Directory answered with %s, who does not have this address (a fault on the server's side)", describeAnswer(u))
	}
	switch {
	case err == nil:
		du := compact(&u)
		du.alias = u.PrimaryEmail != email
		s.settle(l, du, found, nil)
	case errors.Is(err, chatapi.ErrNotFound), badRequest(err):
		// External or consumer account, a domain the customer doesn't own
		// (400 domainNotFound, badRequest), or nobody. Google answers an
		// address in a domain it does not own 404 "Resource Not Found:
		// userKey" too, as it answers one of its own that nobody has: that
		// answer tells nothing of the domain. One that names the domain
		// (400, 404 "Domain not found") tells it is another's.
		if badRequest(err) || strings.Contains(strings.ToLower(err.Error()), "domain") {
			s.mu.Lock()
			s.foreignDomains[domainOf(email)] = true
			s.mu.Unlock()
		}
		s.settle(l, dirUser{}, notFound, nil)
	case forbiddenAnswer(err):
		s.settle(l, dirUser{}, forbidden, err)
	default:
		s.settle(l, dirUser{}, failed, err)
	}
}

func (s *Service) settle(l *lookup, u dirUser, st lookupState, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked(l, u, st, err)
}

func (s *Service) settleLocked(l *lookup, u dirUser, st lookupState, err error) {
	if l.state != pending {
		return
	}
	l.user, l.state, l.err = u, st, err
	if st == found || st == notFound {
		s.answered++
	}
	close(l.done)
}

// cachedLocked counts, once, the desired emails the cache holds fresh.
func (s *Service) cachedLocked() int {
	if s.cached < 0 {
		s.cached = 0
		if s.r.Cache != nil {
			s.wantedLocked()
			s.addrs.each(func(e string, rec record) {
				if rec.flags&wanted == 0 || rec.how != unknown {
					return
				}
				if _, ok := s.r.Cache.Get(e); ok {
					s.cached++
				}
			})
		}
		s.addrs.expect = max(0, s.wanted-s.resolved-s.cached)
	}
	return s.cached
}
