package identity

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/membership"
)

// bossFirst: the pages show boss@ at once; the rest of the Directory
// (u*) is slow, answering only when the run's context ends.
type bossFirst struct{ gatedDir }

func (d *bossFirst) UsersPage(ctx context.Context, query, token string) ([]chatapi.DirectoryUser, string, error) {
	prefix := strings.TrimSuffix(strings.TrimPrefix(query, "email:"), "*")
	if token == "" && strings.HasPrefix("boss@corp.test", prefix) {
		next := ""
		if prefix == "" {
			next = "more"
		}
		return []chatapi.DirectoryUser{{ID: "1", PrimaryEmail: "boss@corp.test"}}, next, nil
	}
	<-ctx.Done()
	return nil, "", ctx.Err()
}

// Every space is planned (B needed boss@, A's list showed its people);
// the pass still pages for addresses nobody waits on. planSpaces' normal
// end cancels it: that is no failure of the pass, and no warning says so.
func TestARunsEndIsNotAPassFailure(t *testing.T) {
	a := membership.DesiredSpace{Name: "spaces/A"}
	listA := &membership.SpaceState{}
	for i := 0; i < 300; i++ {
		e := fmt.Sprintf("u%03d@corp.test", i)
		a.Members = append(a.Members, membership.DesiredMember{Principal: membership.User(e), Role: membership.RoleMember})
		listA.Memberships = append(listA.Memberships, membership.Membership{Name: fmt.Sprintf("spaces/A/members/%d", i), Principal: membership.User(fmt.Sprint(100 + i)), Email: e, Role: membership.RoleMember})
	}
	b := membership.DesiredSpace{Name: "spaces/B", Members: []membership.DesiredMember{{Principal: membership.User("boss@corp.test"), Role: membership.RoleMember}}}
	listB := &membership.SpaceState{Memberships: []membership.Membership{{Name: "spaces/B/members/9", Principal: "users/9", Role: membership.RoleMember}}} // no email
	s := (&Resolver{Directory: &bossFirst{}, DirectoryThrottle: freeThrottle()}).NewService(membership.Desired{Spaces: []membership.DesiredSpace{a, b}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	s.Await(ctx, b, true, nil)
	if s.pass == nil {
		t.Fatal("no pass: the test shows nothing")
	}
	if ids, _ := s.Space(ctx, b, listB, nil); ids.Aliases["boss@corp.test"] != "users/1" {
		t.Fatalf("boss@: %q", ids.Aliases["boss@corp.test"])
	}
	s.Space(ctx, a, listA, nil)
	cancel() // planSpaces returns: every space planned
	s.Wait()
	out := s.Outcome()
	for _, w := range out.Warnings {
		if strings.Contains(w, "directory listing stopped") {
			t.Errorf("a run that planned every space reports: %s", w)
		}
	}
}
