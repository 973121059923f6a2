package identity

import (
	"context"
	"math"
	"time"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/membership"
)

// pass is the paged users.list pass. What its pages show goes straight
// into the service's records; it keeps no map of its own.
type pass struct {
	done chan struct{}
	// adopted is closed once the run wants the pass: at once for a pass
	// started for lookups or spaces; for a pass started early (Anticipate)
	// when a list shows people without emails. Until then its queries stop
	// after their first page.
	adopted chan struct{}
	err     error
	pages   int
	users   int
}

// anticipateMax is the most memberships for which a pass starts before
// the lists are read.
const anticipateMax = 100_000

func newPass(adopted bool) *pass {
	p := &pass{done: make(chan struct{}), adopted: make(chan struct{})}
	if adopted {
		close(p.adopted)
	}
	return p
}

// Anticipate starts the users.list pass before any list is read, when the
// lists of the last run carried no emails (or no run recorded whether they
// do, as on a first run) and a pass would be chosen for the addresses
// nothing settles yet: the first answer of a list takes a call's latency,
// and so would the pass's first pages, one after the other. Each of its
// queries reads one page, then waits for a list to show people without
// emails (Space, Await) or for lookups that prefer the pass; if neither
// comes (lists carry every email), it stops there, having cost a page per
// query, and the run's end cancels it.
func (s *Service) Anticipate(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pass != nil || s.early != nil || s.r.Directory == nil {
		return
	}
	if s.r.Cache != nil && s.r.Cache.ListsShowEmails() {
		return // the last run's lists settled the addresses themselves
	}
	if s.source.Count() > anticipateMax {
		// The records of a million addresses cost a run whose lists carry
		// emails ~100 MB it would not otherwise spend, for a latency that
		// is a few percent of its time.
		return
	}
	n := max(0, s.wantedLocked()-s.resolved-s.cachedLocked())
	if !PreferPass(n, s.directorySizeLocked(), s.latency(), s.perSecond(), cap(s.gets)) {
		return
	}
	s.log.Debug("identity: reading the Directory's first pages while the lists are read", "addresses", n)
	s.early, s.anticipated = newPass(false), n
	s.goPass(ctx, s.early)
}

// goPass runs p, counted for Wait.
func (s *Service) goPass(ctx context.Context, p *pass) {
	s.passes.Add(1)
	go func() {
		defer s.passes.Done()
		s.runPass(ctx, p)
	}()
}

// Wait returns once the passes' goroutines have ended. Call it after
// cancelling the context the service was used under (they end within the
// throttle's grace), and before the cache is saved: a query between a
// page and its next step holds the service's lock and asks the cache,
// while Save holds the cache's and reads the service's records.
func (s *Service) Wait() { s.passes.Wait() }

// passPageSize is users.list's largest page.
const passPageSize = chatapi.DirectoryPageSize

// considerPassLocked starts the users.list pass when it should finish
// before n users.get calls would.
func (s *Service) considerPassLocked(ctx context.Context, n int) {
	if s.pass != nil || s.r.Directory == nil {
		return
	}
	if e := s.early; e != nil && closed(e.done) && e.err == nil {
		// Started early, it ended on its own, every query at its last
		// page: it holds the whole answer, at no further cost.
		s.adoptEarlyLocked(ctx)
		return
	}
	size := s.directorySizeLocked()
	if !PreferPass(n, size, s.latency(), s.perSecond(), cap(s.gets)) {
		return
	}
	s.log.Info("identity: one paged Directory pass is faster than a lookup each", "lookups", n, "directory_size_estimate", size, "started_early", s.early != nil)
	if s.early != nil {
		s.adoptEarlyLocked(ctx) // its first pages are in, or on their way
		return
	}
	s.pass = newPass(true)
	s.goPass(ctx, s.pass)
}

// adoptEarlyLocked makes the pass Anticipate started the run's pass.
func (s *Service) adoptEarlyLocked(ctx context.Context) {
	s.pass, s.early = s.early, nil
	close(s.pass.adopted)
	s.counts[ByDirectory] += s.earlyFound
	s.earlyFound = 0
	if closed(s.pass.done) {
		// It ended before it was wanted: what the end of a pass does for
		// the lookups it owes (gets that were about to start when it
		// became the pass leave their addresses to it) is done now.
		if s.pass.err != nil {
			s.passFailedLocked(s.pass.err)
		}
		s.settlePendingLocked(ctx, s.pass.err)
	}
}

// perSecond is the Directory's pace (2,400 a minute unless configured).
func (s *Service) perSecond() float64 {
	if s.r.DirectoryPerMinute > 0 {
		return float64(s.r.DirectoryPerMinute) / 60
	}
	return 40
}

// directorySizeLocked is the Directory's size as the last whole pass
// recorded it in the cache, or else a guess from the sources: it holds at
// least the people they name, and usually more.
func (s *Service) directorySizeLocked() int {
	if s.r.Cache != nil && s.r.Cache.DirectoryUsers() > 0 {
		return s.r.Cache.DirectoryUsers()
	}
	return s.wantedLocked() * 3 / 2
}

// PreferPass reports whether a users.list pass over about size users (500
// a page, split into prefix queries run side by side: one per
// passPartition unknown addresses) should finish before n users.get calls
// at perSecond with inFlight calls at once, and save at least half the
// calls: the Directory's size is a guess unless a pass recorded it.
func PreferPass(n, size int, latency time.Duration, perSecond float64, inFlight int) bool {
	if n <= 0 || latency <= 0 || perSecond <= 0 {
		return false
	}
	pages := math.Ceil(float64(max(size, 1)) / passPageSize)
	parts := math.Min(float64(min(maxPartitions, max(inFlight, 1))), math.Max(1, math.Ceil(float64(n)/passPartition)))
	calls := pages + parts - 1
	if float64(n) <= 2*calls {
		return false
	}
	passTime := math.Max(math.Ceil(pages/parts)*latency.Seconds(), calls/perSecond)
	getsTime := float64(n)/math.Min(perSecond, float64(max(inFlight, 1))/latency.Seconds()) + latency.Seconds()
	return passTime < getsTime
}

// runPass pages the users the sources can name, settling lookups as their
// users appear. One users.list pass pages 500 users at a time, each page
// waiting for the one before: a 100,000-user Directory is 200 pages in a
// row. So the pass is split into queries by email prefix (email:ab*), drawn
// from the addresses still unknown, and the queries run side by side.
func (s *Service) runPass(ctx context.Context, p *pass) {
	s.mu.Lock()
	s.wantedLocked()
	// The sources' addresses no answer has settled, sorted as the table
	// is. On a first run that is every one of them: the table's own list
	// serves (a million strings would be 16 MB more), and nothing in the
	// pass writes to it.
	unseen := s.addrs.sorted
	if s.resolved > 0 || len(s.addrs.sorted) != s.wanted {
		unseen = make([]string, 0, s.wanted-s.resolved)
		for i, e := range s.addrs.sorted {
			if rec := s.addrs.table[i]; rec.flags&wanted != 0 && rec.how == unknown {
				unseen = append(unseen, e)
			}
		}
	}
	size := s.directorySizeLocked()
	recorded := s.r.Cache != nil && s.r.Cache.DirectoryUsers() > 0
	s.mu.Unlock()
	// A query's pages come one after another, so a big Directory is split
	// into queries run side by side, a few pages each, by its size as the
	// last pass recorded it (a few wanted addresses may sit among a hundred
	// thousand users), or else as the sources suggest. Without that record
	// the size is a guess, so each query may split itself after its first
	// page, which tells how many users lie between wanted addresses; and
	// where the pages show fewer than one wanted address in sparseUsers
	// users, the rest are handed to users.get calls (handOff): a first
	// run that wants 50 people of a 500,000-user Directory reads two
	// pages, not a thousand.
	limit := passLimit(len(unseen), size, cap(s.gets))
	q := &passQueries{s: s, p: p, sem: make(chan struct{}, cap(s.gets)), splitAfter: splitAfter, perSecond: s.perSecond(), latency: s.latency()}
	if !recorded {
		// The first page tells how many users lie between wanted
		// addresses (a guess from the sources can't: a few thousand named
		// may sit among a hundred thousand), and the split follows it.
		// Opening with more queries would save that page's wait but cost
		// a page each where the Directory is small.
		q.splitAfter = 1
	}
	parts := Prefixes(unseen, limit, maxPartitions)
	for _, prefix := range parts {
		q.start(ctx, prefix, under(unseen, prefix), q.splitAfter)
	}
	err := q.wait()
	users := q.sizeSeen()
	s.mu.Lock()
	p.err = err
	// The Directory's size is recorded after s.mu is let go: the cache's
	// Save holds its own lock while it reads the records under s.mu, and
	// a pass may end while the run's end saves the cache.
	defer func() {
		if err == nil && users > 0 && s.r.Cache != nil {
			s.r.Cache.SetDirectoryUsers(users)
		}
	}()
	if !closed(p.adopted) {
		// Started early and not (yet) wanted: lists carried the emails, or
		// the run ended first. Nobody waits on it, and what its pages
		// showed is recorded; a whole pass still tells the Directory's
		// size. If it is adopted later, the adoption settles what it owes.
		if err != nil && ctx.Err() == nil {
			s.log.Info("identity: the Directory pass started before the lists were read stopped; nothing needs it yet", "error", err.Error())
		}
		close(p.done)
		s.mu.Unlock()
		return
	}
	if err != nil && ctx.Err() == nil {
		s.passFailedLocked(err)
	}
	close(p.done)
	s.waiting = nil // every waiter wakes on done
	s.settlePendingLocked(ctx, err)
	s.mu.Unlock()
}

// settlePendingLocked settles, once the pass has ended (err: how), the
// lookups it owes: found where a page showed them; a users.get each where
// it failed or an absence must be sure; else not in the Directory.
func (s *Service) settlePendingLocked(ctx context.Context, err error) {
	for email, l := range s.lookups {
		if l.state != pending {
			continue
		}
		rec := s.addrs.get(email)
		switch {
		case rec.how == byDirectory:
			s.settleLocked(l, dirUser{p: s.addrs.principal(rec), suspended: rec.flags&suspended != 0}, found, nil)
		case rec.flags&handed != 0, l.asked:
			// its users.get is under way
		case rec.flags&uncovered != 0:
			s.askUncoveredLocked(ctx, email, rec, l)
		case err != nil || s.r.VerifyAbsence || s.ownDomains[domainOf(email)]:
			// The pass failed, or an absence must be sure (search results
			// may lag behind new accounts, and an address of the
			// organisation's own domain no page showed may be one): ask
			// for this one address, side by side with the others.
			s.askLocked(ctx, email, l)
		default:
			s.settleLocked(l, dirUser{}, notFound, nil)
		}
	}
}

// passFailedLocked says that the pass stopped, and what follows.
func (s *Service) passFailedLocked(err error) {
	if chatapi.ServiceDisabled(err) {
		s.dirText(err) // said once, as such: no address is looked up after it
		return
	}
	w := "directory listing stopped; looking the remaining addresses up side by side: " + err.Error()
	s.warnings = append(s.warnings, w)
	s.log.Warn(w)
}

// idlessLocked: a page showed u without an ID (a fault on the server's
// side), which names nobody. Its addresses are asked with users.get, as
// if no page had gone past them: the pass's end must not read them as
// outside the Directory, spaces stop waiting for them, and a lookup
// already waiting for the pass is asked now.
func (s *Service) idlessLocked(ctx context.Context, u *chatapi.DirectoryUser) {
	for j := -1; j < len(u.Aliases); j++ {
		e := u.PrimaryEmail
		if j >= 0 {
			e = u.Aliases[j]
		}
		at, ok := s.addrs.find(e)
		if !ok || s.addrs.table[at].how != unknown {
			continue
		}
		s.addrs.table[at].flags |= uncovered
		if l := s.lookups[e]; l != nil {
			s.askUncoveredLocked(ctx, e, s.addrs.table[at], l)
		}
		s.wakeLocked(e)
	}
}

// passPage records what a page of users shows of the addresses the
// sources name, settles the lookups it answers, and wakes the spaces
// waiting on an address it settles.
func (s *Service) passPage(ctx context.Context, p *pass, page []chatapi.DirectoryUser) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.pages++
	p.users += len(page)
	s.answered++ // the Directory answers us: a 403 later is about someone, not the caller
	last := ""   // the domain of the user before: pages hold a domain's users together
	for i := range page {
		u := &page[i]
		if u.ID == "" {
			s.idlessLocked(ctx, u)
			continue
		}
		// A user shown without an address (a fault on the server's side)
		// names no domain.
		if d := domainOf(u.PrimaryEmail); d != "" && d != last {
			s.ownDomains[d], s.primaryDomains[d], last = true, true, d
		}
		for _, a := range u.Aliases { // alias domains are the organisation's too
			if d := domainOf(a); d != "" && d != last {
				s.ownDomains[d], last = true, d
			}
		}
		var id membership.Principal
		for j := -1; j < len(u.Aliases); j++ {
			e := u.PrimaryEmail
			if j >= 0 {
				e = u.Aliases[j]
			}
			at, ok := s.addrs.find(e)
			if !ok {
				continue // keep only what a source names (the table holds exactly that)
			}
			rec := &s.addrs.table[at]
			if id == "" {
				id = membership.User(u.ID)
			}
			if u.Suspended {
				rec.flags |= suspended
				s.suspendedIDs[id], s.anySuspended = true, true
			}
			if rec.how == unknown {
				s.addrs.name(rec, id, byDirectory)
				if j >= 0 {
					rec.flags |= alias
				}
				s.resolved++
				if closed(p.adopted) {
					s.counts[ByDirectory]++
				} else {
					s.earlyFound++ // counted once the pass is wanted
					rec.flags |= unneeded
				}
				s.wakeLocked(e)
			}
			if l := s.lookups[e]; l != nil {
				s.settleLocked(l, dirUser{p: s.addrs.principal(*rec), suspended: u.Suspended}, found, nil)
			}
		}
	}
}
