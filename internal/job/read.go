package job

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

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
}

func (e *SpaceError) Error() string { return fmt.Sprintf("read %s: %v", e.Space, e.Err) }
func (e *SpaceError) Unwrap() error { return e.Err }

// ReadCurrent reads every named space concurrently: its type, then its
// memberships page by page. A space that can't be read is left out of the
// result and reported, so no change is planned on a guess. A space whose
// type can't be read is still planned, with a warning.
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
			st, warning, err := readSpace(ctx, api, th, name, wantsApp[name])
			if err == nil && appAuth && len(st.Memberships) == 0 {
				err = errors.New("the member list came back empty; under Chat app authentication that means its owners restrict who sees it, not that the space is empty")
			}
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

func readSpace(ctx context.Context, api Reader, th *throttle.Throttle, name string, wantsApp bool) (_ *membership.SpaceState, warning string, _ error) {
	var st membership.SpaceState
	err := th.Space(ctx, name, func(ctx context.Context) (err error) {
		st, err = api.Space(ctx, name)
		return err
	})
	switch {
	case errors.Is(err, chatapi.ErrPermanent):
		// spaces.get needs a spaces scope the membership scopes don't give;
		// without it the type is unknown, which only costs the plan its
		// warnings about roles and groups outside named spaces.
		st = membership.SpaceState{}
		warning = fmt.Sprintf("%s: the space's type is unknown (spaces.get: %v); authorise the chat.spaces.readonly scope to get warnings about roles and groups outside named spaces", name, err)
	case err != nil:
		return nil, "", err
	}
	st.Name = name
	token := ""
	guard := chatapi.PageGuard{What: "the members of " + name}
	for {
		var (
			page []membership.Membership
			next string
		)
		err := th.Read(ctx, "list", name, func(ctx context.Context) (err error) {
			page, next, err = api.ListPage(ctx, name, token)
			return err
		})
		if err != nil {
			return nil, "", err
		}
		st.Memberships = append(st.Memberships, page...)
		if err := guard.Next(len(page), next); err != nil {
			return nil, "", err
		}
		if next == "" {
			break
		}
		token = next
	}
	if wantsApp && !slices.ContainsFunc(st.Memberships, func(m membership.Membership) bool { return m.Principal == membership.App }) {
		// Lists under admin access never show apps: ask for the app directly.
		var m membership.Membership
		err := th.Read(ctx, "get", name, func(ctx context.Context) (err error) {
			m, err = api.Get(ctx, name, "app")
			return err
		})
		switch {
		case err == nil:
			m.Principal, m.Bot = membership.App, true
			st.Memberships = append(st.Memberships, m)
		case !errors.Is(err, chatapi.ErrNotFound):
			return nil, "", fmt.Errorf("is the app a member: %w", err)
		}
	}
	return &st, warning, nil
}
