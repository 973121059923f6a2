package identity

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/membership"
)

// lagDir's pages leave hidden out, as Google's search may for a new
// account (its results can lag behind by up to 36 hours); users.get
// finds it.
type lagDir struct {
	*countingDir
	hidden string
}

func (d lagDir) UsersPage(ctx context.Context, query, token string) ([]chatapi.DirectoryUser, string, error) {
	page, next, err := d.countingDir.UsersPage(ctx, query, token)
	var out []chatapi.DirectoryUser
	for _, u := range page {
		if u.PrimaryEmail != d.hidden {
			out = append(out, u)
		}
	}
	return out, next, err
}

// A users.get under way when a complete pass ends silent on its address
// (search lags behind a new account): the get's answer is taken, not the
// pass's silence (which read it as outside the Directory).
func TestAGetUnderWayWinsOverASilentPass(t *testing.T) {
	ctx := context.Background()
	late := "late@corp.test"
	d, ds, _ := askedWorld()
	d.users = append(d.users, chatapi.DirectoryUser{ID: "9999", PrimaryEmail: late})
	d.getDelay = 200 * time.Millisecond
	first := membership.DesiredSpace{Name: "spaces/F", Members: []membership.DesiredMember{{Principal: membership.User(late), Role: membership.RoleMember}}}
	s := (&Resolver{Directory: lagDir{d, late}, DirectoryThrottle: freeThrottle()}).NewService(membership.Desired{Spaces: []membership.DesiredSpace{first, ds}}, nil)
	var wg sync.WaitGroup
	var ids map[string]membership.Principal
	var notIn bool
	wg.Add(2)
	go func() {
		defer wg.Done()
		got, out := s.Space(ctx, first, &membership.SpaceState{Name: "spaces/F"}, nil)
		ids, notIn = got.Aliases, out.NotInDirectory[late]
	}()
	for deadline := time.Now().Add(5 * time.Second); d.count(late) == 0 && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
	}
	noEmails := &membership.SpaceState{Name: "spaces/A", Memberships: []membership.Membership{{Name: "spaces/A/members/9", Principal: "users/9"}}}
	go func() { defer wg.Done(); s.Space(ctx, ds, noEmails, nil) }()
	wg.Wait()
	if d.lists == 0 {
		t.Fatal("no pass")
	}
	if ids[late] != "users/9999" || notIn {
		t.Errorf("%s: %q, not in Directory %v; want users/9999 from its users.get", late, ids[late], notIn)
	}
}
