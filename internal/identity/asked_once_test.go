package identity

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/membership"
)

// countingDir serves users from a slice; listErr, when set, answers every
// users.list; getDelay slows every users.get. It counts users.get by key.
type countingDir struct {
	users    []chatapi.DirectoryUser
	listErr  error
	getDelay time.Duration
	mu       sync.Mutex
	gets     map[string]int
	lists    int
}

func (d *countingDir) UsersPage(ctx context.Context, query, token string) ([]chatapi.DirectoryUser, string, error) {
	d.mu.Lock()
	d.lists++
	d.mu.Unlock()
	if d.listErr != nil {
		return nil, "", d.listErr
	}
	return d.users, "", nil // one page holds everyone: tests here stay small
}

func (d *countingDir) User(ctx context.Context, key string) (chatapi.DirectoryUser, error) {
	d.mu.Lock()
	d.gets[key]++
	d.mu.Unlock()
	time.Sleep(d.getDelay)
	for _, u := range d.users {
		if u.PrimaryEmail == key {
			return u, nil
		}
	}
	return chatapi.DirectoryUser{}, chatapi.ErrNotFound
}

func (d *countingDir) count(k string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.gets[k]
}

func (d *countingDir) dups() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]int{}
	for k, n := range d.gets {
		if n > 1 {
			out[k] = n
		}
	}
	return out
}

func waitDone(t *testing.T, p *pass) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Fatal("early pass never ended")
	}
}

// 200 Directory users wanted in one space; the space's list carries every
// email (nothing needs the Directory for them), and the sources also want
// extra (not in the Directory pages: external, or a new hire search lags on).
func askedWorld(extra ...string) (*countingDir, membership.DesiredSpace, *membership.SpaceState) {
	d := &countingDir{gets: map[string]int{}}
	ds := membership.DesiredSpace{Name: "spaces/A"}
	st := &membership.SpaceState{Name: "spaces/A"}
	for i := 0; i < 200; i++ {
		e := fmt.Sprintf("u%03d@corp.test", i)
		d.users = append(d.users, chatapi.DirectoryUser{ID: fmt.Sprint(1000 + i), PrimaryEmail: e})
		ds.Members = append(ds.Members, membership.DesiredMember{Principal: membership.User(e), Role: membership.RoleMember})
		st.Memberships = append(st.Memberships, membership.Membership{Name: fmt.Sprintf("spaces/A/members/%d", 1000+i), Principal: membership.User(fmt.Sprint(1000 + i)), Email: e})
	}
	for _, e := range extra {
		ds.Members = append(ds.Members, membership.DesiredMember{Principal: membership.User(e), Role: membership.RoleMember})
	}
	return d, ds, st
}

// Admin access (VerifyAbsence): the pass Anticipate started ends on its
// own (a small Directory: one page). The first lookup adopts it inside
// lookupLocked: adoptEarlyLocked -> settlePendingLocked started a users.get
// for the new lookup, then lookupLocked a second one.
func TestAdoptedEarlyPassAsksOnceUnderVerifyAbsence(t *testing.T) {
	ctx := context.Background()
	ext := "newhire@corp.test"
	d, ds, st := askedWorld(ext)
	s := (&Resolver{Directory: d, DirectoryThrottle: freeThrottle(), VerifyAbsence: true}).NewService(membership.Desired{Spaces: []membership.DesiredSpace{ds}}, nil)
	s.Anticipate(ctx)
	if s.early == nil {
		t.Fatal("no early pass")
	}
	waitDone(t, s.early)
	_, out := s.Space(ctx, ds, st, nil)
	if !out.NotInDirectory[ext] {
		t.Fatalf("%s: want not in the Directory, got %+v", ext, out)
	}
	time.Sleep(50 * time.Millisecond)
	if n := d.count(ext); n != 1 {
		t.Errorf("%d users.get for %s, want 1", n, ext)
	}
}

// The pass Anticipate started fails (users.list refused, users.get works);
// lists carry every email. The lookup that makes PreferPass true adopts
// the failed pass inside lookupLocked; it was asked twice.
func TestAdoptedFailedEarlyPassAsksOnce(t *testing.T) {
	ctx := context.Background()
	var extra []string
	for i := 0; i < 5; i++ {
		extra = append(extra, fmt.Sprintf("new%d@corp.test", i))
	}
	d, ds, st := askedWorld(extra...)
	d.listErr = &chatapi.Error{Code: 403, Message: "Not Authorized to access this resource/api"}
	s := (&Resolver{Directory: d, DirectoryThrottle: freeThrottle()}).NewService(membership.Desired{Spaces: []membership.DesiredSpace{ds}}, nil)
	s.Anticipate(ctx)
	if s.early == nil {
		t.Fatal("no early pass")
	}
	waitDone(t, s.early)
	s.Space(ctx, ds, st, nil)
	time.Sleep(50 * time.Millisecond)
	if dups := d.dups(); len(dups) > 0 {
		t.Errorf("users.get asked more than once: %v", dups)
	}
}

// users.get started before a pass (a first space whose list carried
// emails), still under way (slow: retrying) when the pass ends having
// failed: the pass's end asked again.
func TestGetUnderWayWhenThePassFailsIsNotAskedAgain(t *testing.T) {
	ctx := context.Background()
	d, ds, _ := askedWorld()
	d.listErr = &chatapi.Error{Code: 403, Message: "Not Authorized to access this resource/api"}
	d.getDelay = 100 * time.Millisecond
	first := membership.DesiredSpace{Name: "spaces/F", Members: ds.Members[:2]}
	withEmails := &membership.SpaceState{Name: "spaces/F"}
	noEmails := &membership.SpaceState{Name: "spaces/A", Memberships: []membership.Membership{{Name: "spaces/A/members/9", Principal: "users/9"}}}
	s := (&Resolver{Directory: d, DirectoryThrottle: freeThrottle()}).NewService(membership.Desired{Spaces: []membership.DesiredSpace{first, ds}}, nil)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.Space(ctx, first, withEmails, nil) }() // two gets, no pass
	for deadline := time.Now().Add(5 * time.Second); d.count("u000@corp.test") == 0 && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
	}
	go func() { defer wg.Done(); s.Space(ctx, ds, noEmails, nil) }() // a pass, which fails at once
	wg.Wait()
	if dups := d.dups(); len(dups) > 0 {
		t.Errorf("users.get asked more than once: %v", dups)
	}
}

// pagedDir pages users (sorted) 500 at a time, the token being the offset.
type pagedDir struct{ countingDir }

func (d *pagedDir) UsersPage(ctx context.Context, query, token string) ([]chatapi.DirectoryUser, string, error) {
	prefix := strings.TrimSuffix(strings.TrimPrefix(query, "email:"), "*")
	var match []chatapi.DirectoryUser
	for _, u := range d.users {
		if strings.HasPrefix(u.PrimaryEmail, prefix) {
			match = append(match, u)
		}
	}
	off := 0
	if token != "" {
		off, _ = strconv.Atoi(token)
	}
	end := min(off+500, len(match))
	next := ""
	if end < len(match) {
		next = strconv.Itoa(end)
	}
	return match[off:end], next, nil
}

// A users.get under way (started for a space whose list carried emails)
// when a sparse pass hands its addresses to users.get: it was asked again.
func TestHandOffDoesNotAskAGetUnderWay(t *testing.T) {
	ctx := context.Background()
	d := &pagedDir{countingDir{gets: map[string]int{}, getDelay: 300 * time.Millisecond}}
	for i := 0; i < 20000; i++ {
		d.users = append(d.users, chatapi.DirectoryUser{ID: fmt.Sprint(500000 + i), PrimaryEmail: fmt.Sprintf("b%05d@corp.test", i)})
	}
	all := membership.DesiredSpace{Name: "spaces/A"}
	for i := 0; i < 10; i++ {
		all.Members = append(all.Members, membership.DesiredMember{Principal: membership.User(fmt.Sprintf("b%05d@corp.test", 15000+i*100)), Role: membership.RoleMember})
	}
	first := membership.DesiredSpace{Name: "spaces/F", Members: all.Members[:2]}
	s := (&Resolver{Directory: d, DirectoryThrottle: freeThrottle()}).NewService(membership.Desired{Spaces: []membership.DesiredSpace{first, all}}, nil)
	noEmails := &membership.SpaceState{Name: "spaces/A", Memberships: []membership.Membership{{Name: "spaces/A/members/9", Principal: "users/9"}}}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.Space(ctx, first, &membership.SpaceState{Name: "spaces/F"}, nil) }()
	for deadline := time.Now().Add(5 * time.Second); d.count("b15000@corp.test") == 0 && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
	}
	go func() { defer wg.Done(); s.Space(ctx, all, noEmails, nil) }()
	wg.Wait()
	if dups := d.dups(); len(dups) > 0 {
		t.Errorf("users.get asked more than once: %v", dups)
	}
}

// OwnsDomain: the domains of the users served.
func (d *countingDir) OwnsDomain(ctx context.Context, domain string) (bool, error) {
	return slices.ContainsFunc(d.users, func(u chatapi.DirectoryUser) bool { return domainOf(u.PrimaryEmail) == domain }), nil
}
