package identity

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/throttle"
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
	parts   int
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
	go s.runPass(ctx, s.early)
}

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
	go s.runPass(ctx, s.pass)
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
	s.mu.Lock()
	p.err = err
	users := p.users
	// The Directory's size is recorded after s.mu is let go: the cache's
	// Save holds its own lock while it reads the records under s.mu, and
	// a pass may end while the run's end saves the cache.
	defer func() {
		if err == nil && s.r.Cache != nil {
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
	if err != nil {
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
		case rec.flags&handed != 0:
			// its users.get is under way
		case err != nil || s.r.VerifyAbsence:
			// The pass failed, or an absence must be sure (search results
			// may lag behind new accounts): ask for this one address,
			// side by side with the others.
			go s.getNow(ctx, email, l)
		default:
			s.settleUnseenLocked(l)
		}
	}
}

// passFailedLocked says that the pass stopped, and what follows.
func (s *Service) passFailedLocked(err error) {
	w := "directory listing stopped; looking the remaining addresses up side by side: " + err.Error()
	s.warnings = append(s.warnings, w)
	s.log.Warn(w)
}

// passQueries runs the pass's prefix queries side by side. A query that
// pages on past splitAfter pages (or 2, 4, 8... times that) while addresses it covers are still
// unseen is split: its unseen addresses are grouped by longer prefixes,
// queried side by side, and it stops. Pages come sorted by primary email,
// so the new queries mostly cover what the old one had not reached. A
// query whose addresses have all been seen stops paging at once.
type passQueries struct {
	s          *Service
	p          *pass
	sem        chan struct{} // calls in flight
	wg         sync.WaitGroup
	splitAfter int
	// perSecond is the Directory's pace, latency a call's: how many
	// queries keep it busy.
	perSecond float64
	latency   time.Duration

	mu      sync.Mutex
	started int
	running int
	handed  int // addresses handed to users.get where the Directory is sparse
	// What every query's pages showed: pages, users, and the sources'
	// addresses they paged past (found or not).
	pages, users, behind int
	err                  error
}

// splitAfter is how many pages a query takes before a split is
// considered, when the Directory's size is known.
var splitAfter = 4

// maxPassQueries bounds the queries one pass may split into.
const maxPassQueries = 256

func (q *passQueries) start(ctx context.Context, prefix string, wanted []string, after int) {
	q.mu.Lock()
	q.started++
	q.running++
	q.p.parts = q.started
	q.mu.Unlock()
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		err := q.run(ctx, prefix, wanted, after)
		q.mu.Lock()
		q.running--
		if err != nil && q.err == nil {
			q.err = err
		}
		q.mu.Unlock()
	}()
}

func (q *passQueries) wait() error {
	q.wg.Wait()
	return q.err
}

func (q *passQueries) run(ctx context.Context, prefix string, wanted []string, after int) error {
	query := ""
	if prefix != "" {
		query = "email:" + prefix + "*"
	}
	what := "the Directory's users"
	if query != "" {
		what += " matching " + query
	}
	guard := chatapi.PageGuard{What: what}
	token, users, rest, behind := "", 0, wanted, 0
	for pages := 1; ; pages++ {
		var (
			page []chatapi.DirectoryUser
			next string
		)
		select {
		case q.sem <- struct{}{}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		callCtx := ctx
		if !closed(q.p.adopted) {
			// Asked for before the run knows it needs the Directory: a
			// refused Directory token must not stop a run whose lists
			// may carry every email. Adopted, its lookups meet the refusal
			// again, and then it stops the run.
			callCtx = throttle.Tentative(ctx)
		}
		err := q.s.r.DirectoryThrottle.Directory(callCtx, "directory.users.list", func(ctx context.Context) (err error) {
			page, next, err = q.s.r.Directory.UsersPage(ctx, query, token)
			return err
		})
		<-q.sem
		if err != nil {
			return err
		}
		q.s.passPage(q.p, page)
		users += len(page)
		if len(page) > 0 {
			// The sources' addresses this query has paged past, found or
			// not: the Directory's density, for sparse and the split.
			now := q.s.wantedIn(prefix, page[len(page)-1].PrimaryEmail)
			q.mu.Lock()
			q.pages, q.users, q.behind = q.pages+1, q.users+len(page), q.behind+now-behind
			q.mu.Unlock()
			behind = now
		}
		if err := guard.Next(len(page), next); err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		// A pass started early goes on only once the run wants it.
		select {
		case <-q.p.adopted:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		// Pages come sorted by email, as wanted is: what they showed is
		// mostly at its front, so dropping it there costs what was found,
		// not a look at every wanted address after every page.
		rest = q.s.trimSeen(rest)
		if len(rest) == 0 {
			return nil // everyone this query was for is found
		}
		if q.sparse() {
			// Fewer than one wanted address a page here: a users.get
			// each, side by side, costs fewer calls than paging on, and
			// no page waits for another.
			n := q.s.handOff(ctx, rest)
			q.mu.Lock()
			q.handed += n
			q.mu.Unlock()
			return nil
		}
		q.mu.Lock()
		left := maxPassQueries - q.started
		q.mu.Unlock()
		// A split is considered after splitAfter pages, then each time the
		// pages double: a look at every unseen address costs.
		// No split before a page has shown how many users lie between
		// wanted addresses: a score of queries where a users.get each
		// would do is a score of calls lost.
		if behind > 0 && pages >= after && pages&(pages-1) == 0 && q.splitWorth(users, len(wanted), len(rest), left) {
			rest = q.s.unseen(rest)
			unseen := rest
			parts := Prefixes(unseen, q.splitLimit(users, len(wanted), len(unseen)), maxPartitions)
			q.mu.Lock()
			room := q.started+len(parts) <= maxPassQueries
			q.mu.Unlock()
			if room && len(parts) > 1 { // one part is this query again (or a wider one)
				for _, sub := range parts {
					q.start(ctx, sub, under(unseen, sub), splitAfter) // its density is known now
				}
				return nil
			}
		}
		token = next
	}
}

// splitWorth tells, before a look at every address a query still wants,
// whether a split could follow: the query has more pages ahead than one
// query should take, going by the users per wanted address so far (rest,
// what trimming left, is at most what is unseen), and room for its parts.
func (q *passQueries) splitWorth(users, wanted, rest, left int) bool {
	limit := q.splitLimit(users, wanted, rest)
	parts := (rest + limit - 1) / limit
	return parts >= 2 && parts <= left
}

// splitLimit is how many of a query's unseen addresses each of its
// sub-queries should cover, going by how many users came per wanted
// address found so far: no more than calls may be in flight, and each of
// at least pagesPerQuery pages, or more where fewer queries keep the
// Directory's pace busy (its pace × a call's latency, twice over): every
// query ends with a part-filled page, so more queries than the pace needs
// cost calls, and the pace is the bound.
func (q *passQueries) splitLimit(users, wanted, unseen int) int {
	perWanted := max(1, float64(users)/float64(max(1, wanted-unseen)))
	ahead := float64(q.s.unresolved()) * perWanted / passPageSize // the whole pass's pages still ahead
	pages := max(splitPages, ahead/float64(q.busy()))
	return max(1, (unseen+cap(q.sem)-1)/cap(q.sem), int(pages*passPageSize/perWanted))
}

// busy is how many queries keep the Directory's pace busy: its pace × a
// call's latency, twice over.
func (q *passQueries) busy() int {
	return 2 * q.pace()
}

// splitPages is the fewest pages a query of the pass should have ahead of
// it before a split: fewer than pagesPerQuery, since a split by the next
// character makes a score of queries, each ending on a part-filled page,
// but a 9-page remainder read one page after another is nine latencies
// where the Directory's pace allows most of them side by side.
const splitPages = 4

// pace is how many calls the Directory's pace lets start during one
// call's latency.
func (q *passQueries) pace() int {
	return max(1, int(math.Ceil(q.perSecond*q.latency.Seconds())))
}

// sparseUsers is how many users a query's pages may show per wanted
// address before a users.get each is the cheaper way to find the rest: a
// page holds 500, and a query ends on a part-filled page.
const sparseUsers = 600

// sparse reports whether the pass's pages so far show fewer wanted
// addresses than one per sparseUsers users, counting the sources'
// addresses each query paged past (pages come sorted by primary email, so
// each had its chance to show, whether the Directory holds it or not).
// The estimate counts one address more than the pages did and waits for
// a second page: a Directory with one wanted address in 250 users shows
// none in a page one time in eight, and handing a big remainder to gets
// on that would double its calls.
func (q *passQueries) sparse() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pages >= 2 && q.users >= sparseUsers*(q.behind+1)
}

// unresolved counts the sources' addresses nothing has settled yet.
func (s *Service) unresolved() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(0, s.wanted-s.resolved)
}

// trimSeen drops from the front of sorted the addresses pages have shown.
func (s *Service) trimSeen(sorted []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(sorted) > 0 && s.addrs.get(sorted[0]).how != unknown {
		sorted = sorted[1:]
	}
	return sorted
}

// unseen returns the wanted addresses no page has shown yet: wanted
// itself when none has been, else a new slice (wanted may be the
// records' own sorted list, which nothing in the pass writes to).
func (s *Service) unseen(wanted []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(wanted, func(e string) bool { return s.addrs.get(e).how != unknown })
	if i < 0 {
		return wanted
	}
	out := slices.Clip(wanted[:i:i])
	for _, e := range wanted[i+1:] {
		if s.addrs.get(e).how == unknown {
			out = append(out, e)
		}
	}
	return out
}

// passPage records what a page of users shows of the addresses the
// sources name, settles the lookups it answers, and wakes the spaces
// waiting on an address it settles.
func (s *Service) passPage(p *pass, page []chatapi.DirectoryUser) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.pages++
	p.users += len(page)
	for i := range page {
		u := &page[i]
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
				s.resolved++
				if closed(p.adopted) {
					s.counts[ByDirectory]++
				} else {
					s.earlyFound++ // counted once the pass is wanted
				}
				s.wakeLocked(e)
			}
			if l := s.lookups[e]; l != nil {
				s.settleLocked(l, dirUser{p: s.addrs.principal(*rec), suspended: u.Suspended}, found, nil)
			}
		}
	}
}
