package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/membership"
)

// Service resolves, for many spaces at once, the emails a space's own list
// does not settle: from what other lists showed, the cache, the Directory
// (concurrent users.get calls under the Directory's pace, or one paged
// users.list pass when that is estimated to be faster), and last a
// membership read in the space that wants the email. A space asks as soon
// as its list is read, so the Directory works while other spaces are still
// being read. Lookups are shared: an email wanted in many spaces costs one.
type Service struct {
	r      *Resolver
	log    *slog.Logger
	source membership.Desired
	// desired is every email the sources name, built when a Directory pass
	// or a probe first needs it (a million addresses are ~60 MB).
	desired map[string]bool
	// latency estimates one call, for choosing between gets and a pass.
	latency func() time.Duration

	mu      sync.Mutex
	known   map[string]resolved // desired emails matched anywhere, and how
	lookups map[string]*lookup  // Directory lookups, by email
	pass    *pass               // the users.list pass, once started
	// answered counts Directory lookups answered with a user or "no such
	// user": a 403 for one address then means "not your domain", not "the
	// Directory refuses you".
	answered   int
	requested  int
	suspended  map[membership.Principal]bool
	notInDir   map[string]bool
	unresolved map[string]string
	warnings   []string
	gets       chan struct{} // bounds Directory calls in flight
	byID       map[membership.Principal]*idLookup
	counts     map[string]int
	memberGets atomic.Int64
	cached     int // desired emails the cache holds fresh; -1 until counted

	// Careful names the spaces whose plans may remove members: there, an
	// address no listed email matches is not taken as "not a member" until
	// the Directory or a membership read says so (it may be an alias of a
	// listed member, who would otherwise be removed as unwanted).
	Careful func(space string) bool
}

// resolved is an email's identity and how it was found (ByList, ByCache, ...).
type resolved struct {
	p   membership.Principal
	how string
}

// lookup is one email's Directory answer, shared by every space that wants it.
type lookup struct {
	done  chan struct{}
	user  dirUser // with found
	state lookupState
	err   error
}

// dirUser is what a plan needs of a Directory user: kept by the million
// during a pass, so only that (not the whole answer).
type dirUser struct {
	p         membership.Principal
	suspended bool
}

func compact(u *chatapi.DirectoryUser) dirUser {
	return dirUser{p: membership.User(u.ID), suspended: u.Suspended}
}

type lookupState int

const (
	pending   lookupState = iota
	found                 // user set
	notFound              // 404 or 400: not in the organisation
	forbidden             // 403: not the customer's domain, or the Directory refuses the caller
	failed                // no answer (5xx after retries, a refused pass): err set
)

// pass is the paged users.list pass.
type pass struct {
	done    chan struct{}
	byEmail map[string]dirUser
	err     error
	pages   int
	users   int
	parts   int
}

// passPageSize is users.list's largest page.
const passPageSize = chatapi.DirectoryPageSize

// NewService prepares resolution for a desired state; latency estimates a
// call's duration (nil: 200 ms) for choosing gets or a pass.
func (r *Resolver) NewService(desired membership.Desired, latency func() time.Duration) *Service {
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if latency == nil {
		latency = func() time.Duration { return 200 * time.Millisecond }
	}
	s := &Service{r: r, log: log, latency: latency, source: desired,
		known: map[string]resolved{}, lookups: map[string]*lookup{},
		suspended: map[membership.Principal]bool{}, notInDir: map[string]bool{}, unresolved: map[string]string{},
		counts: map[string]int{}, cached: -1}
	inFlight := r.Concurrency
	if inFlight <= 0 {
		inFlight = 16
	}
	s.gets = make(chan struct{}, inFlight)
	return s
}

// Learn records identities learnt elsewhere (the Directory rules' people),
// so no lookup is spent on them.
func (s *Service) Learn(known map[string]membership.Principal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for email, p := range known {
		s.learnLocked(email, p, ByRule)
	}
}

// desiredLocked is every email the sources name, built on first use.
func (s *Service) desiredLocked() map[string]bool {
	if s.desired == nil {
		s.desired = make(map[string]bool, s.source.Count())
		for _, sp := range s.source.Spaces {
			for _, m := range sp.Members {
				if e := m.Principal.Email(); e != "" {
					s.desired[e] = true
				}
			}
		}
	}
	return s.desired
}

// SpaceOutcome is what resolution could not settle for one space.
type SpaceOutcome struct {
	// Unresolved are emails whose lookups failed, with why.
	Unresolved map[string]string
	// NotInDirectory are emails the Directory answered it does not know.
	NotInDirectory map[string]bool
}

// Space returns the identities a space's plan needs, given its list. It
// waits only for the lookups this space needs.
func (s *Service) Space(ctx context.Context, ds membership.DesiredSpace, cs *membership.SpaceState) (diff.Identities, SpaceOutcome) {
	listed := map[string]membership.Principal{}    // this space's listed emails
	byPrincipal := map[membership.Principal]bool{} // this space's listed members
	missingEmails := false
	for _, m := range cs.Memberships {
		if m.Bot || m.Principal.IsGroup() {
			continue
		}
		byPrincipal[m.Principal] = true
		if m.Email == "" {
			missingEmails = true
			continue
		}
		listed[m.Email] = m.Principal
	}
	ids := diff.Identities{Aliases: map[string]membership.Principal{}, Suspended: map[membership.Principal]bool{}, ResolvedBy: map[string]string{}}
	var need []string

	s.mu.Lock()
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
		if k, ok := s.known[email]; ok {
			s.give(&ids, email, k.p, k.how)
			continue
		}
		if p, ok := s.fromCacheLocked(email, byPrincipal, listed); ok {
			s.give(&ids, email, p, ByCache)
			continue
		}
		if s.pass != nil {
			if u, ok := s.pass.byEmail[email]; ok {
				// A page already showed it: no lookup to keep for it.
				s.fromDirectoryLocked(&ids, email, u)
				continue
			}
		}
		need = append(need, email)
	}
	if missingEmails && s.pass == nil {
		// Lists here don't carry every email, so most desired emails will need
		// the Directory (those the cache doesn't hold): decide now between a
		// get each and one pass.
		s.considerPassLocked(ctx, max(0, len(s.desiredLocked())-len(s.known)-s.cachedLocked()))
	}
	if p := s.pass; p != nil && len(need) > 0 && s.r.Directory != nil && !closed(p.done) {
		// A pass is under way: wait for it as a whole rather than keep a
		// lookup per address (a million of them, in a big tenant; a space's
		// addresses are spread over the whole pass anyway). Most will be in
		// its pages; the rest are looked up below.
		s.mu.Unlock()
		select {
		case <-p.done:
		case <-ctx.Done():
		}
		s.mu.Lock()
		still := need[:0]
		for _, email := range need {
			if u, ok := p.byEmail[email]; ok {
				s.fromDirectoryLocked(&ids, email, u)
				continue
			}
			still = append(still, email)
		}
		need = still
	}
	waits := make([]*lookup, len(need))
	if s.r.Directory != nil {
		for i, email := range need {
			waits[i] = s.lookupLocked(ctx, email)
		}
	}
	s.mu.Unlock()

	out := SpaceOutcome{Unresolved: map[string]string{}, NotInDirectory: map[string]bool{}}
	var rest []string // not in the Directory, or not asked: a membership read may know
	for i, email := range need {
		l := waits[i]
		if l == nil {
			rest = append(rest, email)
			continue
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
			s.notInDir[email], out.NotInDirectory[email] = true, true
			rest = append(rest, email)
		default: // failed, or forbidden with nothing answered: the Directory can't tell
			why := "directory: every lookup was refused (403)"
			if l.err != nil {
				why = "directory: " + l.err.Error()
			}
			out.Unresolved[email] = why
			rest = append(rest, email)
		}
		s.mu.Unlock()
	}
	switch {
	case len(rest) == 0:
	case s.r.Members != nil && missingEmails:
		s.fromMemberGets(ctx, ds.Name, rest, &ids, out.Unresolved)
	case s.r.Members != nil && s.Careful != nil && s.Careful(ds.Name):
		// Every member's email is listed, but an address the Directory did
		// not settle may be another address of a listed member (an alias):
		// the space itself answers, by address.
		var unsure []string
		for _, email := range rest {
			if out.NotInDirectory[email] {
				delete(out.Unresolved, email) // not in the organisation: no listed colleague's alias
				continue
			}
			unsure = append(unsure, email)
		}
		s.fromMemberGets(ctx, ds.Name, unsure, &ids, out.Unresolved)
	default:
		for _, email := range rest {
			// Every member's email is listed here and nothing is removed, so
			// an email not among them is taken as not a member: at worst its
			// create is answered "already exists".
			delete(out.Unresolved, email)
		}
	}
	s.mu.Lock()
	// Only what this space's plan can ask about: its members and its sources' people.
	for _, m := range cs.Memberships {
		for _, p := range []membership.Principal{m.Principal, membership.User(m.Email)} {
			if s.suspended[p] {
				ids.Suspended[p] = true
			}
		}
	}
	for _, m := range ds.Members {
		if s.suspended[m.Principal] {
			ids.Suspended[m.Principal] = true
		}
		if p, ok := ids.Aliases[m.Principal.Email()]; ok && s.suspended[p] {
			ids.Suspended[p] = true
		}
	}
	for e, why := range out.Unresolved {
		s.unresolved[e] = why
	}
	s.mu.Unlock()
	return ids, out
}

// Forget drops what the run and the cache believe about an address found
// to be out of date (a removal candidate turned out to have it), so the
// next run looks it up afresh.
func (s *Service) Forget(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.known, email)
	if s.r.Cache != nil {
		s.r.Cache.Drop(email)
	}
}

func (s *Service) give(ids *diff.Identities, email string, p membership.Principal, how string) {
	ids.Aliases[email], ids.ResolvedBy[email] = p, how
	if s.suspended[membership.User(email)] {
		ids.Suspended[membership.User(email)], ids.Suspended[p] = true, true
	}
}

// fromDirectoryLocked settles email as the Directory answered it.
func (s *Service) fromDirectoryLocked(ids *diff.Identities, email string, u dirUser) {
	s.learnLocked(email, u.p, ByDirectory)
	if u.suspended {
		s.suspended[membership.User(email)], s.suspended[u.p] = true, true
	}
	s.give(ids, email, u.p, ByDirectory)
}

func (s *Service) learnLocked(email string, p membership.Principal, how string) {
	if _, ok := s.known[email]; !ok {
		s.known[email] = resolved{p, how}
		s.counts[how]++
	}
}

// fromCacheLocked trusts an entry while it is fresh and this space's list
// doesn't contradict it (the cached ID listed under another email).
func (s *Service) fromCacheLocked(email string, byPrincipal map[membership.Principal]bool, listed map[string]membership.Principal) (membership.Principal, bool) {
	if s.r.Cache == nil {
		return "", false
	}
	e, ok := s.r.Cache.Get(email)
	if !ok {
		return "", false
	}
	if byPrincipal[e.Principal] {
		for other, p := range listed {
			if p == e.Principal && other != email {
				s.r.Cache.Drop(email) // the ID is someone else's now
				return "", false
			}
		}
	}
	s.learnLocked(email, e.Principal, ByCache)
	if e.Suspended {
		s.suspended[membership.User(email)], s.suspended[e.Principal] = true, true
	}
	return e.Principal, true
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// lookupLocked returns email's Directory lookup, starting it if needed: a
// users.get, or a wait on the pass.
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
		select {
		case <-p.done:
			if _, found := p.byEmail[email]; !found && (p.err != nil || s.r.VerifyAbsence) {
				// As for the lookups pending when the pass ended: the pass
				// failed, or an absence must be sure.
				go s.getNow(ctx, email, l)
				break
			}
			s.settleFromPassLocked(email, l, p)
		default:
			if u, ok := p.byEmail[email]; ok {
				s.settleLocked(l, u, found, nil) // a page already went by
			}
			// otherwise the pass settles it when it finds it, or when it ends
		}
		return l
	}
	go s.get(ctx, email, l)
	return l
}

// probeLocked returns a lookup of a desired address in another domain than
// email's, started if need be, or nil when there is none.
func (s *Service) probeLocked(ctx context.Context, email string) *lookup {
	_, domain, _ := strings.Cut(email, "@")
	var pick string
	for e := range s.desiredLocked() {
		if _, d, _ := strings.Cut(e, "@"); d == domain {
			continue
		}
		if l := s.lookups[e]; l != nil {
			return l // already asked: its answer will do
		}
		if pick == "" || e < pick {
			pick = e
		}
	}
	if pick == "" {
		return nil
	}
	return s.lookupLocked(ctx, pick)
}

// cachedLocked counts, once, the desired emails the cache holds fresh.
func (s *Service) cachedLocked() int {
	if s.cached < 0 {
		s.cached = 0
		if s.r.Cache != nil {
			for e := range s.desiredLocked() {
				if _, ok := s.r.Cache.Get(e); ok {
					s.cached++
				}
			}
		}
	}
	return s.cached
}

// considerPassLocked starts the users.list pass when it should finish
// before n users.get calls would.
func (s *Service) considerPassLocked(ctx context.Context, n int) {
	if s.pass != nil || s.r.Directory == nil {
		return
	}
	// The Directory holds at least the people the sources name, and usually
	// more; the last whole pass, when the cache recorded it, knows better.
	size := len(s.desiredLocked()) * 3 / 2
	if s.r.Cache != nil && s.r.Cache.DirectoryUsers() > 0 {
		size = s.r.Cache.DirectoryUsers()
	}
	perMinute := float64(s.r.DirectoryPerMinute)
	if perMinute <= 0 {
		perMinute = 2400
	}
	if !PreferPass(n, size, s.latency(), perMinute/60, cap(s.gets)) {
		return
	}
	s.log.Info("identity: one paged Directory pass is faster than a lookup each", "lookups", n, "directory_size_estimate", size)
	s.pass = &pass{done: make(chan struct{}), byEmail: make(map[string]dirUser, n)}
	go s.runPass(ctx, s.pass)
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

func (s *Service) get(ctx context.Context, email string, l *lookup) {
	s.mu.Lock()
	p := s.pass
	s.mu.Unlock()
	if p != nil { // the pass started while this get waited to start
		return // the pass settles it
	}
	s.getNow(ctx, email, l)
}

// getNow looks one address up with a users.get.
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
	case err == nil:
		s.settle(l, compact(&u), found, nil)
	case errors.Is(err, chatapi.ErrNotFound), badRequest(err):
		// External or consumer account, a domain the customer doesn't own
		// (400 domainNotFound, badRequest), or nobody.
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

func (s *Service) settleFromPassLocked(email string, l *lookup, p *pass) {
	switch u, ok := p.byEmail[email]; {
	case ok:
		s.settleLocked(l, u, found, nil)
	case p.err != nil:
		s.settleLocked(l, dirUser{}, failed, p.err)
	default:
		s.settleLocked(l, dirUser{}, notFound, nil) // a whole pass shows who is not there
	}
}

// runPass pages the users the sources can name, settling lookups as their
// users appear. One users.list pass pages 500 users at a time, each page
// waiting for the one before: a 100,000-user Directory is 200 pages in a
// row. So the pass is split into queries by email prefix (email:ab*), drawn
// from the addresses still unknown, and the queries run side by side.
func (s *Service) runPass(ctx context.Context, p *pass) {
	s.mu.Lock()
	var unknown []string
	for e := range s.desiredLocked() {
		if _, ok := s.known[e]; !ok {
			unknown = append(unknown, e)
		}
	}
	s.mu.Unlock()
	// A query's pages come one after another, so a big Directory is split
	// into queries run side by side, a few pages each, by its size as the
	// last pass recorded it (a few wanted addresses may sit among a hundred
	// thousand users), or else as the sources suggest.
	slices.Sort(unknown)
	parts := Prefixes(unknown, passLimit(len(unknown), s.directorySize(), cap(s.gets)), maxPartitions)
	q := &passQueries{s: s, p: p, sem: make(chan struct{}, cap(s.gets))}
	for _, prefix := range parts {
		q.start(ctx, prefix, under(unknown, prefix))
	}
	err := q.wait()
	s.mu.Lock()
	p.err = err
	if err != nil {
		w := "directory listing stopped; looking the remaining addresses up one by one: " + err.Error()
		s.warnings = append(s.warnings, w)
		s.log.Warn(w)
	} else if s.r.Cache != nil {
		s.r.Cache.SetDirectoryUsers(p.users)
	}
	close(p.done)
	var again []*lookup
	var emails []string
	for email, l := range s.lookups {
		if l.state != pending {
			continue
		}
		if _, found := p.byEmail[email]; !found && (err != nil || s.r.VerifyAbsence) {
			// The pass failed, or an absence must be sure (search results
			// may lag behind new accounts): ask for this one address.
			again, emails = append(again, l), append(emails, email)
			continue
		}
		s.settleFromPassLocked(email, l, p)
	}
	s.mu.Unlock()
	for i, l := range again {
		go s.getNow(ctx, emails[i], l)
	}
}

// passQueries runs the pass's prefix queries side by side. A query that
// pages on past pagesPerQuery pages while addresses it covers are still
// unseen is split: its unseen addresses are grouped by longer prefixes,
// queried side by side, and it stops. Pages come sorted by primary email,
// so the new queries mostly cover what the old one had not reached. A
// query whose addresses have all been seen stops paging at once.
type passQueries struct {
	s   *Service
	p   *pass
	sem chan struct{} // calls in flight
	wg  sync.WaitGroup

	mu      sync.Mutex
	started int
	err     error
}

// splitAfter is how many pages a query takes before a split is considered.
var splitAfter = 4

// maxPassQueries bounds the queries one pass may split into.
const maxPassQueries = 256

func (q *passQueries) start(ctx context.Context, prefix string, wanted []string) {
	q.mu.Lock()
	q.started++
	q.p.parts = q.started
	q.mu.Unlock()
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		if err := q.run(ctx, prefix, wanted); err != nil {
			q.mu.Lock()
			if q.err == nil {
				q.err = err
			}
			q.mu.Unlock()
		}
	}()
}

func (q *passQueries) wait() error {
	q.wg.Wait()
	return q.err
}

func (q *passQueries) run(ctx context.Context, prefix string, wanted []string) error {
	query := ""
	if prefix != "" {
		query = "email:" + prefix + "*"
	}
	what := "the Directory's users"
	if query != "" {
		what += " matching " + query
	}
	guard := chatapi.PageGuard{What: what}
	token, users, rest := "", 0, wanted
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
		err := q.s.r.DirectoryThrottle.Directory(ctx, "directory.users.list", func(ctx context.Context) (err error) {
			page, next, err = q.s.r.Directory.UsersPage(ctx, query, token)
			return err
		})
		<-q.sem
		if err != nil {
			return err
		}
		q.s.passPage(q.p, page)
		users += len(page)
		if err := guard.Next(len(page), next); err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		// Pages come sorted by email, as wanted is: what they showed is
		// mostly at its front, so dropping it there costs what was found,
		// not a look at every wanted address after every page.
		rest = q.s.trimSeen(q.p, rest)
		if len(rest) == 0 {
			return nil // everyone this query was for is found
		}
		q.mu.Lock()
		left := maxPassQueries - q.started
		q.mu.Unlock()
		if pages >= splitAfter && left >= 2 { // else no split can start
			unseen := q.s.unseen(q.p, rest)
			// Sub-queries of about pagesPerQuery pages each, going by how
			// many users came per wanted address found so far, and no more
			// than calls may be in flight.
			perWanted := float64(users) / float64(max(1, len(wanted)-len(unseen)))
			limit := max((len(unseen)+cap(q.sem)-1)/cap(q.sem), int(float64(pagesPerQuery*passPageSize)/perWanted))
			parts := Prefixes(unseen, max(1, limit), maxPartitions)
			q.mu.Lock()
			room := q.started+len(parts) <= maxPassQueries
			q.mu.Unlock()
			if room && len(parts) > 1 { // one part is this query again (or a wider one)
				for _, sub := range parts {
					q.start(ctx, sub, under(unseen, sub))
				}
				return nil
			}
		}
		token = next
	}
}

// trimSeen drops from the front of sorted the addresses pages have shown.
func (s *Service) trimSeen(p *pass, sorted []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(sorted) > 0 {
		if _, ok := p.byEmail[sorted[0]]; !ok {
			break
		}
		sorted = sorted[1:]
	}
	return sorted
}

// unseen are the wanted addresses no page has shown yet.
func (s *Service) unseen(p *pass, wanted []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range wanted {
		if _, ok := p.byEmail[e]; !ok {
			out = append(out, e)
		}
	}
	return out
}

// under is the sorted addresses that start with prefix.
func under(sorted []string, prefix string) []string {
	i, _ := slices.BinarySearch(sorted, prefix)
	j := i
	for j < len(sorted) && strings.HasPrefix(sorted[j], prefix) {
		j++
	}
	return sorted[i:j]
}

// passPage settles the lookups a page of users answers.
func (s *Service) passPage(p *pass, page []chatapi.DirectoryUser) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.pages++
	p.users += len(page)
	desired := s.desiredLocked()
	for i := range page {
		u := &page[i]
		var du dirUser
		for j := -1; j < len(u.Aliases); j++ {
			e := u.PrimaryEmail
			if j >= 0 {
				e = u.Aliases[j]
			}
			if !desired[e] {
				continue // keep only what a source names
			}
			if du.p == "" {
				du = compact(u)
			}
			p.byEmail[e] = du
			if l := s.lookups[e]; l != nil {
				s.settleLocked(l, du, found, nil)
			}
		}
	}
}

// Partitioning of the pass: at most passPartition unknown addresses (five
// pages in a row when the Directory holds about the people the sources
// name) per prefix query, and at most maxPartitions queries. Splitting
// costs calls (prefixes split by character, unevenly), so only big passes
// are split.
const (
	passPartition = 2500
	maxPartitions = 64
)

// pagesPerQuery is how many pages in a row one query of the pass may
// take before splitting it is worth a call or two more.
const pagesPerQuery = 8

// passLimit is how many wanted addresses one query of the pass should
// cover: enough queries that each pages about pagesPerQuery pages of a
// Directory of size users, at most inFlight of them, none covering more
// than passPartition.
func passLimit(unknown, size, inFlight int) int {
	pages := (size + passPageSize - 1) / passPageSize
	parts := min(maxPartitions, max(1, inFlight), max(1, (pages+pagesPerQuery-1)/pagesPerQuery))
	return min(passPartition, max(1, (unknown+parts-1)/parts))
}

// directorySize is the Directory's size as the last whole pass recorded
// it in the cache, or else an estimate from the sources.
func (s *Service) directorySize() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.r.Cache != nil && s.r.Cache.DirectoryUsers() > 0 {
		return s.r.Cache.DirectoryUsers()
	}
	return len(s.desiredLocked()) * 3 / 2
}

// Prefixes splits emails into email prefixes, each covering at most limit
// of them where it can, at most max prefixes in all: a group too big is
// split by its next character. Only letters and digits extend a prefix, so
// every prefix is safe in a query. "" (everyone) when no split is needed.
func Prefixes(emails []string, limit, max int) []string {
	groups := map[string][]string{"": emails}
	for len(groups) < max {
		// The biggest group over the limit that can be split (ties: the first prefix).
		big, found := "", false
		for p, g := range groups {
			if len(g) <= limit || !splittable(p, g) {
				continue
			}
			if !found || len(g) > len(groups[big]) || len(g) == len(groups[big]) && p < big {
				big, found = p, true
			}
		}
		if !found {
			break
		}
		sub := map[string][]string{}
		for _, e := range groups[big] {
			sub[e[:len(big)+1]] = append(sub[e[:len(big)+1]], e)
		}
		if len(groups)-1+len(sub) > max {
			break
		}
		delete(groups, big)
		for p, g := range sub {
			groups[p] = g
		}
	}
	out := make([]string, 0, len(groups))
	for p := range groups {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// splittable: every member is longer than the prefix and continues with a
// letter or digit.
func splittable(prefix string, emails []string) bool {
	for _, e := range emails {
		if len(e) <= len(prefix) {
			return false
		}
		c := e[len(prefix)]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
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
			case err == nil:
				s.mu.Lock()
				s.learnLocked(email, got.Principal, ByMemberGet)
				s.give(ids, email, got.Principal, ByMemberGet)
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

// Outcome is what the run's resolution could and could not establish; call
// it when every space is done. It also saves what cost a call to the cache.
func (s *Service) Outcome() Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Outcome{NotInDirectory: map[string]bool{}, Unresolved: map[string]string{}, Warnings: append(append([]string(nil), s.r.Notes...), s.warnings...)}
	for e := range s.notInDir {
		if _, ok := s.known[e]; !ok {
			out.NotInDirectory[e] = true
		}
	}
	for e, why := range s.unresolved {
		if _, ok := s.known[e]; !ok {
			out.Unresolved[e] = why
		}
	}
	if s.r.Cache != nil {
		for email, k := range s.known {
			if k.how == ByDirectory || k.how == ByMemberGet {
				s.r.Cache.Put(email, k.p, s.suspended[membership.User(email)])
			}
		}
	}
	suspended := 0
	for p := range s.suspended {
		if p.Email() != "" {
			suspended++
		}
	}
	passPages := 0
	if s.pass != nil {
		passPages = s.pass.pages
	}
	s.log.Info("identities resolved", "by_list", s.counts[ByList], "by_cache", s.counts[ByCache], "by_directory", s.counts[ByDirectory],
		"by_member_get", s.counts[ByMemberGet], "directory_lookups", len(s.lookups), "directory_pages", passPages, "member_gets", s.memberGets.Load(),
		"suspended", suspended, "not_in_directory", len(out.NotInDirectory), "unresolved", len(out.Unresolved))
	return out
}
