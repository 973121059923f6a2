package job

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/syncer-dev/syncer/internal/budget"
	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/throttle"
)

// Reader is what reading the current state needs from the Chat API.
type Reader interface {
	Space(ctx context.Context, name string) (membership.SpaceState, error)
	ListPage(ctx context.Context, space, pageToken string) ([]membership.Membership, string, error)
	Get(ctx context.Context, space, member string) (membership.Membership, error)
}

// SpaceError is a space whose current state could not be read; nothing is
// planned for it.
type SpaceError struct {
	Space string
	Err   error
	// Stopped: the run stopped before the space could be read or planned.
	Stopped bool
}

func (e *SpaceError) Error() string { return fmt.Sprintf("read %s: %v", e.Space, e.Err) }
func (e *SpaceError) Unwrap() error { return e.Err }

// ReadCurrent reads every named space concurrently (export uses it; runs
// read through the pipeline): its memberships page by page, and its type
// and display name. A space that can't be read is left out of the result
// and reported, so nothing is done on a guess.
//
// With Chat app authentication a space whose owners restrict the member
// list may list empty (Google: "might return an empty list or omit
// memberships"); appAuth makes an empty list an unread space, not an empty one.
func ReadCurrent(ctx context.Context, api Reader, th *throttle.Throttle, spaces []string, wantsApp map[string]bool, concurrency int, appAuth bool) (membership.Current, []*SpaceError, []string) {
	cur := membership.Current{Spaces: make(map[string]*membership.SpaceState, len(spaces))}
	var (
		mu       sync.Mutex
		errs     []*SpaceError
		warnings []string
	)
	g := errgroup.Group{}
	g.SetLimit(max(1, concurrency))
	for _, name := range spaces {
		g.Go(func() error {
			st, warning, err := readSpace(ctx, api, th, spaceRead{name: name, wantsApp: wantsApp[name], wantsType: true, appAuth: appAuth})
			mu.Lock()
			defer mu.Unlock()
			if warning != "" {
				warnings = append(warnings, warning)
			}
			if err != nil {
				errs = append(errs, &SpaceError{Space: name, Err: err})
				return nil
			}
			cur.Spaces[name] = st
			return nil
		})
	}
	_ = g.Wait()
	slices.Sort(warnings)
	return cur, errs, warnings
}

// spaceRead says what to read of one space.
type spaceRead struct {
	name string
	// wantsApp: a source names the app, whose membership lists under
	// admin access don't show.
	wantsApp bool
	// wantsType: the plan needs the space's type (a source wants a manager,
	// an owner or a group there) and the list may not tell it.
	wantsType bool
	appAuth   bool
	latency   *latencyMeter // observes list calls; may be nil
	// held, when set, is asked for room before the read, and holds the
	// memberships read until the caller releases them.
	held *budget.Budget
}

// readSpace lists a space's memberships page by page; it asks spaces.get
// for the type only when the plan needs it or the space may be a direct
// message, and the list didn't show it (a manager, an owner or a group
// means a named space): reads are what a converged run costs.
func readSpace(ctx context.Context, api Reader, th *throttle.Throttle, r spaceRead) (_ *membership.SpaceState, warning string, _ error) {
	if err := r.held.Wait(ctx); err != nil {
		return nil, "", err
	}
	// Each page is held as it comes: a space of many pages (or a list that
	// never ends) is in memory before it is whole, and the budget sees it.
	counted := 0
	st, warning, err := readMembers(ctx, api, th, r, &counted)
	var twice *listedTwice
	if errors.As(err, &twice) {
		// A member who joined or left between two pages can shift the
		// rest, and one page shows who the last showed: read once more
		// before the space is called unread. A server that shows
		// someone twice again is at fault.
		r.held.Release(counted)
		counted = 0
		st, warning, err = readMembers(ctx, api, th, r, &counted)
	}
	if err != nil {
		r.held.Release(counted)
		return nil, "", err
	}
	r.held.Hold(heldCost(len(st.Memberships)) - counted)
	return st, warning, nil
}

// spaceCost is what a space held costs the budget beyond its memberships:
// its goroutine, stack and wait state, about 12 KB, 32 memberships' worth
// (budget.bytesPerMembership). Counted by memberships alone, 20,000 spaces
// of 10 waiting for a slow Directory pass held three times what the budget
// allowed for.
const spaceCost = 32

// heldCost is what a space of n memberships holds of the budget.
func heldCost(n int) int { return n + spaceCost }

// maxListed is the most memberships a space's list may show, unless the
// budget allows more: far beyond any Chat space, and a bound on the memory
// a list that never ends can take (2,000 pages of 1,000 were 400 MB).
const maxListed = 200_000

func readMembers(ctx context.Context, api Reader, th *throttle.Throttle, r spaceRead, counted *int) (_ *membership.SpaceState, warning string, _ error) {
	name := r.name
	st := membership.SpaceState{Name: name}
	token := ""
	guard := chatapi.PageGuard{What: "the members of " + name, MaxItems: maxListed}
	if r.held != nil {
		guard.MaxItems = max(maxListed, r.held.Limit())
	}
	for {
		var (
			page []membership.Membership
			next string
		)
		err := th.Read(ctx, "list", name, func(ctx context.Context) (err error) {
			start := time.Now()
			page, next, err = api.ListPage(ctx, name, token)
			if err == nil {
				r.latency.observe(time.Since(start))
			}
			return err
		})
		if err != nil {
			return nil, "", err
		}
		if slices.ContainsFunc(page, unnamed) {
			n := len(page)
			page = slices.DeleteFunc(slices.Clone(page), unnamed)
			st.Unnamed += n - len(page)
		}
		if st.Memberships == nil {
			st.Memberships = page // most spaces are one page: no copy
		} else {
			st.Memberships = append(st.Memberships, page...)
		}
		r.held.Hold(len(page))
		*counted += len(page)
		if err := guard.Next(len(page), next); err != nil {
			return nil, "", err
		}
		if next == "" {
			break
		}
		token = next
	}
	if err := chatapi.ListedTwice(name, st.Memberships); err != nil {
		return nil, "", &listedTwice{err}
	}
	if r.appAuth && len(st.Memberships) == 0 {
		return nil, "", errors.New("the member list came back empty; under Chat app authentication that means its owners restrict who sees it, not that the space is empty")
	}
	if r.wantsApp && !slices.ContainsFunc(st.Memberships, func(m membership.Membership) bool { return m.Principal == membership.App }) {
		// Some lists don't show apps: ask for the app directly.
		var m membership.Membership
		err := th.Read(ctx, "get", name, func(ctx context.Context) (err error) {
			m, err = api.Get(ctx, name, "app")
			return err
		})
		switch {
		case err == nil:
			answered := m.Principal
			m.Principal, m.Bot = membership.App, true
			// Listed already under its own ID (answers give canonical
			// names): the same membership, by its name or by the user
			// the get named, counted once in the space's size
			// (max_removal_percent measures against it).
			if i := slices.IndexFunc(st.Memberships, func(l membership.Membership) bool {
				return l.Bot && (m.Name != "" && l.Name == m.Name || answered != "" && answered != membership.App && l.Principal == answered)
			}); i >= 0 {
				st.Memberships[i].Principal = membership.App
			} else {
				st.Memberships = append(st.Memberships, m)
			}
		case !errors.Is(err, chatapi.ErrNotFound):
			return nil, "", fmt.Errorf("is the app a member: %w", err)
		}
	}
	if st.Type = typeFromMembers(st.Memberships); st.Type != "" || !r.wantsType && !mayBeDirect(st.Memberships) {
		return &st, "", nil
	}
	var info membership.SpaceState
	err := th.Space(ctx, name, func(ctx context.Context) (err error) {
		info, err = api.Space(ctx, name)
		return err
	})
	switch {
	case errors.Is(err, chatapi.ErrPermanent):
		// spaces.get needs a spaces scope the membership scopes don't give;
		// without it the type is unknown, which only costs the plan its
		// warnings about roles and groups outside named spaces.
		warning = fmt.Sprintf("%s: the space's type is unknown (spaces.get: %v); authorise the chat.spaces.readonly scope to get warnings about roles and groups outside named spaces, and to have direct messages refused", name, err)
	case err != nil:
		return nil, "", err
	default:
		st.Type, st.DisplayName = info.Type, info.DisplayName
	}
	return &st, warning, nil
}

// unnamed: a membership naming no member (a display name only, a group
// without its name) can't be matched, changed or removed.
func unnamed(m membership.Membership) bool { return m.Principal == "" }

// mayBeDirect: a list of two or fewer people, none a manager or an owner,
// may be a direct message's, whose people Google fixes; spaces.get tells.
// Named spaces almost always list an owner, so this costs a call only for
// group chats, direct messages and the rare space without one.
func mayBeDirect(ms []membership.Membership) bool {
	return len(ms) <= 2 && typeFromMembers(ms) == ""
}

// listedTwice is a list that showed a membership, or a member, twice.
type listedTwice struct{ error }

func (e *listedTwice) Unwrap() error { return e.error }

// typeFromMembers: only named spaces have managers, owners and groups.
func typeFromMembers(ms []membership.Membership) membership.SpaceType {
	for _, m := range ms {
		if m.Principal.IsGroup() || m.Role.Elevated() {
			return membership.TypeSpace
		}
	}
	return ""
}

// latencyMeter keeps a moving average of call durations, for estimates.
type latencyMeter struct{ avg atomic.Int64 }

func (l *latencyMeter) observe(d time.Duration) {
	if l == nil {
		return
	}
	for {
		old := l.avg.Load()
		next := int64(d)
		if old != 0 {
			next = old + (int64(d)-old)/8
		}
		if l.avg.CompareAndSwap(old, next) {
			return
		}
	}
}

// estimate is the average so far, or 200 ms before any call.
func (l *latencyMeter) estimate() time.Duration {
	if v := l.avg.Load(); v > 0 {
		return time.Duration(v)
	}
	return 200 * time.Millisecond
}

// errDirectMessage fails a direct message named by the sources: nothing is
// planned for it.
var errDirectMessage = errors.New("it is a direct message: Google fixes who is in one, so nothing is planned for it; take it out of the sources (a named space or group chat was meant)")
