package identity

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/throttle"
)

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
	handed  int // addresses a query left to users.get (or to the cache) where the Directory is sparse
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
		// Tentative: a pass that fails falls back to users.get. Started
		// before the run knows it needs the Directory, a refused Directory
		// token must not stop a run whose lists may carry every email; its
		// lookups meet the refusal again, and then it stops the run. And
		// when users.list hangs while every other call waits for the pass,
		// the API looks down: the pass fails, its lookups ask users.get,
		// and only if that gets no answer either does the run stop.
		err := q.s.r.DirectoryThrottle.Directory(throttle.Tentative(ctx), "directory.users.list", func(ctx context.Context) (err error) {
			page, next, err = q.s.r.Directory.UsersPage(ctx, query, token)
			return err
		})
		<-q.sem
		if err != nil {
			return err
		}
		q.s.passPage(ctx, q.p, page)
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
		if q.sparse() || q.firstPageShowedNone() && q.s.toGet(rest, q.earlyLimit()) <= q.earlyLimit() {
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

// firstPageShowedNone: the pass has read one page, a full one, and it
// paged past none of the sources' addresses.
func (q *passQueries) firstPageShowedNone() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pages == 1 && q.behind == 0 && q.users >= passPageSize
}

// earlyLimit is the most users.get a query may turn to after one page
// that showed none of the sources' addresses (firstPageShowedNone). The
// second page's latency leaves the Directory's pace idle for pace() calls,
// while a wrong hand-off costs at most half the remainder's gets, one time
// in eight: earlySparse × pace() is half what would break even. A first run
// that wants 50 people of a 100,000-user Directory so starts its gets a
// call's latency sooner. The first page may be a block of accounts no
// source names (numeric IDs sort first); the loss is then those gets
// against a few pages, bounded by the limit.
func (q *passQueries) earlyLimit() int { return earlySparse * q.pace() }

const earlySparse = 8

// sizeSeen is the Directory's size as the pass saw it, for the next run's
// choice between a pass and gets: the users its pages showed, or 0
// (nothing to record) where it handed addresses to gets. It then read only
// the first pages of a Directory too big to page, and their users say
// little of its size: sorted by email, they may be a block of accounts no
// source names. A size made up from them could send the next runs to gets
// where a pass is cheaper, with no pass to correct it; recording nothing
// costs the next run a page or two.
func (q *passQueries) sizeSeen() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.handed > 0 {
		return 0
	}
	return q.users
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
