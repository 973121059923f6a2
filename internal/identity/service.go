package identity

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/membership"
)

// Service resolves, for many spaces at once, the emails a space's own list
// does not settle: from what other lists showed, the cache, the Directory
// (concurrent users.get calls under the Directory's pace, or one paged
// users.list pass when that is estimated to be faster), and last a
// membership read in the space that wants the email. A space asks as soon
// as its list is read, so the Directory works while other spaces are still
// being read. Lookups are shared: an email wanted in many spaces costs one.
//
// The files of this package follow the jobs: space.go settles one space,
// pass.go is the users.list pass (prefixes.go splits it), lookup.go the
// per-address users.get, cache.go the cache between runs.
type Service struct {
	r      *Resolver
	log    *slog.Logger
	source membership.Desired
	// latency estimates one call, for choosing between gets and a pass.
	latency func() time.Duration

	mu sync.Mutex
	// addrs is everything the run knows about an address: the sources'
	// addresses (once a pass or a probe needs them all), and what rules,
	// the cache and lookups taught.
	addrs records
	// wantedBuilt: every address the sources name has a record marked
	// wanted (wanted of them); resolved counts records with an identity.
	wantedBuilt bool
	wanted      int
	resolved    int
	lookups     map[string]*lookup // users.get lookups, by email
	pass        *pass              // the users.list pass, once started
	early       *pass              // a pass Anticipate started, until adopted
	anticipated int                // the addresses it was started for
	earlyFound  int                // addresses its pages showed before it was wanted
	earlyNeeded int                // of those, how many a space took from there (the pass still unwanted)
	// passes are the passes' goroutines, for Wait.
	passes sync.WaitGroup
	// lists counts the spaces whose lists Await saw, noEmails those where
	// people came without emails: the cache tells the next run.
	lists, noEmails int
	// waiting are the spaces waiting for the pass, each by the first of
	// its addresses still unknown: settling that address wakes them.
	waiting map[string][]chan struct{}
	// answered counts Directory answers: a user or "no such user" to a
	// lookup, a users.list page. A 403 for one address then means "not
	// your domain", not "the Directory refuses you".
	answered  int
	requested int
	// suspendedIDs are suspended users by users/{id} (their addresses are
	// marked in their records); why says why a lookup failed. Both are few.
	suspendedIDs map[membership.Principal]bool
	anySuspended bool // anyone at all: most runs have nobody to look for
	// ownDomains are the domains of addresses the Directory named as its
	// users: there an address that is no user's can't be added (a group's
	// address, or a mistyped one), unlike one outside the organisation.
	ownDomains map[string]bool
	// primaryDomains: those of them users' primary addresses are in, or
	// their users.list answered (not Google's own alias domains, such as
	// *.test-google-a.com): what identity.domains should list.
	primaryDomains map[string]bool
	// domainQuestions: domains asked about this run (ownDomain);
	// foreignDomains: those a users.get answer said are another's.
	domainQuestions map[string]*domainQuestion
	foreignDomains  map[string]bool
	// suspendedListed: LoadSuspended asked the Directory this run, so a
	// cached "suspended" (perhaps out of date: reactivated since) counts
	// for nothing.
	suspendedListed bool
	why             map[string]string
	warnings        []string
	gets            chan struct{} // bounds Directory calls in flight
	byID            map[membership.Principal]*idLookup
	counts          map[string]int
	memberGets      atomic.Int64
	cached          int // desired emails the cache holds fresh; -1 until counted
	// disabled is the Directory's answer that the Admin SDK API is not
	// enabled in the project, once a reason needed it (dirText).
	disabled atomic.Pointer[string]

	// Careful names the spaces whose plans may remove members: there, an
	// address no listed email matches is not taken as "not a member" until
	// the Directory or a membership read says so (it may be an alias of a
	// listed member, who would otherwise be removed as unwanted).
	Careful func(space string) bool
}

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
		lookups:      map[string]*lookup{},
		suspendedIDs: map[membership.Principal]bool{}, why: map[string]string{}, ownDomains: map[string]bool{},
		domainQuestions: map[string]*domainQuestion{}, foreignDomains: map[string]bool{}, primaryDomains: map[string]bool{},
		counts: map[string]int{}, cached: -1}
	for _, d := range r.Domains {
		s.ownDomains[strings.ToLower(d)] = true
	}
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
		s.learnLocked(email, p, byRule)
	}
}

// wantedLocked marks, once, every address the sources name, and returns
// how many there are.
func (s *Service) wantedLocked() int {
	if !s.wantedBuilt {
		s.wantedBuilt = true
		s.wanted = s.addrs.build(s.source)
	}
	return s.wanted
}

// learnLocked records an identity, unless the address already has one.
func (s *Service) learnLocked(email string, p membership.Principal, h how) {
	rec := s.addrs.get(email)
	if rec.how != unknown {
		return
	}
	s.addrs.name(&rec, p, h)
	s.keepLocked(email, rec)
}

// learnCachedLocked records the identity the cache's entry at place at
// holds, unless the address already has one.
func (s *Service) learnCachedLocked(email string, at int) {
	rec := s.addrs.get(email)
	if rec.how != unknown {
		return
	}
	s.addrs.cache = s.r.Cache // the cache that gave the place
	s.addrs.nameCached(&rec, at)
	s.keepLocked(email, rec)
}

func (s *Service) keepLocked(email string, rec record) {
	s.addrs.put(email, rec)
	s.resolved++
	s.counts[rec.how.String()]++
	s.wakeLocked(email)
}

// wakeLocked wakes the spaces waiting for email to be settled.
func (s *Service) wakeLocked(email string) {
	if chans, ok := s.waiting[email]; ok {
		for _, ch := range chans {
			close(ch)
		}
		delete(s.waiting, email)
	}
}

// markLocked sets flags on an address's record.
func (s *Service) markLocked(email string, f flags) {
	rec := s.addrs.get(email)
	rec.flags |= f
	s.addrs.put(email, rec)
	if f&suspended != 0 {
		s.anySuspended = true
	}
}

// suspendedLocked: is p (users/{id} or users/{email}) a suspended user?
func (s *Service) suspendedLocked(p membership.Principal) bool {
	if !s.anySuspended {
		return false
	}
	if e := p.Email(); e != "" {
		return s.addrs.get(e).flags&suspended != 0
	}
	return s.suspendedIDs[p]
}

// Forget drops what the run and the cache believe about an address found
// to be out of date (a removal candidate turned out to have it), so the
// next run looks it up afresh. What the Directory answered this run stands.
func (s *Service) Forget(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgetLocked(email)
}

func (s *Service) forgetLocked(email string) {
	if rec := s.addrs.get(email); rec.how != unknown && rec.how != byDirectory {
		// Settled before, a pass under way or over did not look for it:
		// its pages are no evidence that it is not in the Directory.
		s.counts[rec.how.String()]--
		rec.how = unknown
		rec.flags &^= alias | suspended // what was known was someone else's
		rec.flags |= uncovered
		s.addrs.put(email, rec)
		s.resolved--
	}
	if s.r.Cache != nil {
		s.r.Cache.Drop(email)
	}
}

// Confirm takes what a space's membership read said of email, an address
// the cache had matched: it is p there ("" when not a member of that
// space). Chat answers a read by email for the address's user, whichever
// space asks, so a member named is who the address is for every space:
// the run's record and the cache take it (an entry that was out of date is
// replaced). "Not a member" says who it is not, not who it is: the cache's
// entry is dropped, and the record left for other spaces to check.
// shownElsewhere: the answer showed the member under another address (the
// one asked is an alias).
func (s *Service) Confirm(email string, p membership.Principal, shownElsewhere bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p == "" {
		if s.r.Cache != nil {
			s.r.Cache.Drop(email)
		}
		return
	}
	rec := s.addrs.get(email)
	if rec.how == byCache {
		if s.addrs.principal(rec) != p {
			rec.flags &^= alias | suspended // what was known was someone else's
		}
		rec.how = unknown
		s.addrs.put(email, rec)
		s.resolved--
		s.counts[ByCache]--
	}
	s.learnLocked(email, p, byMemberGet)
	if shownElsewhere {
		s.markLocked(email, alias)
	}
}

// HasDirectory reports whether the run can ask the Directory who people are.
func (s *Service) HasDirectory() bool { return s.r.Directory != nil }

// Outcome is what the run's resolution could and could not establish; call
// it when every space is done. It also saves what cost a call to the cache.
func (s *Service) Outcome() Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Outcome{NotInDirectory: map[string]bool{}, Unresolved: map[string]string{}, Warnings: append(append([]string(nil), s.r.Notes...), s.warnings...)}
	if len(s.r.Domains) > 0 {
		// A domain the Directory has users in (primary addresses) that
		// identity.domains leaves out: creates there are left out under
		// app auth or admin access.
		listed := map[string]bool{}
		for _, d := range s.r.Domains {
			listed[strings.ToLower(d)] = true
		}
		var missing []string
		for d := range s.primaryDomains {
			if !listed[d] {
				missing = append(missing, d)
			}
		}
		slices.Sort(missing)
		for _, d := range missing {
			out.Warnings = append(out.Warnings, fmt.Sprintf("identity.domains does not list %s, where the Directory has the organisation's users: add it", d))
		}
	}
	suspendedUsers := 0
	s.addrs.each(func(e string, rec record) {
		if rec.flags&suspended != 0 {
			suspendedUsers++
		}
		if rec.how != unknown {
			return
		}
		if rec.flags&notInDirectory != 0 {
			out.NotInDirectory[e] = true
		}
		if rec.flags&lookupFailed != 0 {
			out.Unresolved[e] = s.why[e]
		}
	})
	if msg := s.disabled.Load(); msg != nil {
		out.DirectoryOff = *msg
		if len(out.Unresolved) == 0 { // else the incomplete plan's line says it
			out.Warnings = append([]string{*msg}, out.Warnings...)
		}
	}
	if s.r.Cache != nil {
		n := s.counts[ByDirectory] + s.counts[ByMemberGet]
		if s.pass == nil {
			n += s.earlyNeeded // an early pass's finds the lists did not settle
		}
		s.r.Cache.Resolved(n, s.costly)
	}
	if s.r.Cache != nil && s.lists > 0 {
		s.r.Cache.SetListsShowEmails(s.noEmails == 0)
	}
	passPages := 0
	for _, p := range []*pass{s.pass, s.early} {
		if p != nil {
			passPages += p.pages
		}
	}
	s.log.Info("identities resolved", "by_list", s.counts[ByList], "by_cache", s.counts[ByCache], "by_directory", s.counts[ByDirectory],
		"by_member_get", s.counts[ByMemberGet], "directory_lookups", len(s.lookups), "directory_pages", passPages, "member_gets", s.memberGets.Load(),
		"suspended", suspendedUsers, "not_in_directory", len(out.NotInDirectory), "unresolved", len(out.Unresolved),
		"shown_by_unneeded_pass", s.earlyFound)
	return out
}

// dirText is what a reason given for an address says of a Directory
// error. That the Admin SDK API is not enabled in the project is the same
// for every address: it is said once, logged and in Outcome.DirectoryOff
// (first among the warnings when no address is left unresolved), with
// where to enable it; beside each address, in short.
func (s *Service) dirText(err error) string {
	if !chatapi.ServiceDisabled(err) {
		return err.Error()
	}
	msg := "the Directory could not be asked: " + err.Error()
	if s.disabled.CompareAndSwap(nil, &msg) {
		s.log.Error(msg)
	}
	return DisabledWhy
}

// DisabledWhy is what dirText says beside an address, for an Admin SDK API
// not enabled in the project; Outcome.DirectoryOff says it in full.
const DisabledWhy = "the Admin SDK API is not enabled in the Google Cloud project"

// dirUser is what a plan needs of a Directory user.
type dirUser struct {
	p         membership.Principal
	suspended bool
	alias     bool // the address asked is not the user's primary one
}

func compact(u *chatapi.DirectoryUser) dirUser {
	return dirUser{p: membership.User(u.ID), suspended: u.Suspended}
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// costly yields, in email order, the addresses resolved at a call's cost
// (the Directory, a membership read): what the cache keeps for next time.
func (s *Service) costly(yield func(email string, p membership.Principal, suspended, alias bool) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addrs.eachSorted(func(e string, rec record) bool {
		if rec.how != byDirectory && rec.how != byMemberGet || rec.flags&unneeded != 0 && s.pass == nil {
			return true // free, or shown by a pass nobody wanted and needed by no space
		}
		return yield(e, s.addrs.principal(rec), rec.flags&suspended != 0, rec.flags&alias != 0)
	})
}
