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
// result and reported, so no change is planned on a guess.
func ReadCurrent(ctx context.Context, api Reader, th *throttle.Throttle, spaces []string, wantsApp map[string]bool, concurrency int) (membership.Current, []*SpaceError) {
	cur := membership.Current{Spaces: make(map[string]*membership.SpaceState, len(spaces))}
	var (
		mu   sync.Mutex
		errs []*SpaceError
	)
	g := errgroup.Group{}
	g.SetLimit(max(1, concurrency))
	for _, name := range spaces {
		g.Go(func() error {
			st, err := readSpace(ctx, api, th, name, wantsApp[name])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, &SpaceError{Space: name, Err: err})
				return nil
			}
			cur.Spaces[name] = st
			return nil
		})
	}
	_ = g.Wait()
	return cur, errs
}

func readSpace(ctx context.Context, api Reader, th *throttle.Throttle, name string, wantsApp bool) (*membership.SpaceState, error) {
	var st membership.SpaceState
	err := th.Read(ctx, "spaces.get", name, func(ctx context.Context) (err error) {
		st, err = api.Space(ctx, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	st.Name = name
	token := ""
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
			return nil, err
		}
		st.Memberships = append(st.Memberships, page...)
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
			return nil, fmt.Errorf("is the app a member: %w", err)
		}
	}
	return &st, nil
}
