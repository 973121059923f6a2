package apply_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/syncer-dev/syncer/internal/apply"
	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/diff"
	m "github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/throttle"
)

// callerSpace is one space as Google guards it for a caller without admin
// access: only an owner (ROLE_MANAGER) changes an owner's role or removes
// an owner; a member (ROLE_MEMBER) changes no role and removes no one.
// Every call takes a moment, and is judged on the caller's role when it
// lands, as a server does.
type callerSpace struct {
	mu     sync.Mutex
	caller m.Principal
	roles  map[string]m.Role // by membership name
	denied []string
}

func (s *callerSpace) judge(name string, target m.Role) error {
	time.Sleep(2 * time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	mine := s.roles["spaces/S/members/"+s.caller.ID()]
	if name == "spaces/S/members/"+s.caller.ID() {
		return nil // anyone may lower their own role
	}
	if mine == m.RoleMember || target == m.RoleOwner && mine != m.RoleOwner {
		s.denied = append(s.denied, name)
		return chatapi.Classify(&googleapi.Error{Code: 403, Message: "The caller does not have permission",
			Body: `{"error":{"code":403,"message":"The caller does not have permission","status":"PERMISSION_DENIED"}}`})
	}
	return nil
}

func (s *callerSpace) Create(ctx context.Context, space string, p m.Principal) (m.Membership, error) {
	return m.Membership{}, fmt.Errorf("no creates here")
}

func (s *callerSpace) PatchRole(ctx context.Context, name string, role m.Role) (m.Membership, error) {
	if name != "spaces/S/members/"+s.caller.ID() {
		s.mu.Lock()
		from := s.roles[name]
		s.mu.Unlock()
		if err := s.judge(name, from); err != nil {
			return m.Membership{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[name] = role
	return m.Membership{Name: name, Role: role, State: m.StateJoined}, nil
}

func (s *callerSpace) Delete(ctx context.Context, name string) error {
	s.mu.Lock()
	from := s.roles[name]
	s.mu.Unlock()
	if err := s.judge(name, from); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.roles, name)
	return nil
}

func (s *callerSpace) Get(ctx context.Context, space, member string) (m.Membership, error) {
	return m.Membership{}, fmt.Errorf("no gets here")
}

func (s *callerSpace) OwnersPage(ctx context.Context, space, token string) ([]m.Membership, string, error) {
	return nil, "", nil
}

// The sources make the user the syncer acts as (an owner) a member, and in
// the same space demote another owner and remove a member. Its own
// demotion goes last: sent first, it would take away the rights the
// others need, and Google would refuse them.
func TestTheActingUsersOwnDemotionGoesLast(t *testing.T) {
	for run := 0; run < 10; run++ {
		api := &callerSpace{caller: "users/1", roles: map[string]m.Role{
			"spaces/S/members/1": m.RoleOwner, "spaces/S/members/2": m.RoleOwner, "spaces/S/members/3": m.RoleOwner, "spaces/S/members/4": m.RoleMember}}
		plan := diff.Plan{Changes: []diff.Change{
			{Space: "spaces/S", Member: "acting@example.com", Principal: "users/1", Membership: "spaces/S/members/1", Action: diff.UpdateRole, FromRole: m.RoleOwner, ToRole: m.RoleMember},
			{Space: "spaces/S", Member: "b@example.com", Principal: "users/2", Membership: "spaces/S/members/2", Action: diff.UpdateRole, FromRole: m.RoleOwner, ToRole: m.RoleManager},
			{Space: "spaces/S", Member: "d@example.com", Principal: "users/4", Membership: "spaces/S/members/4", Action: diff.Delete, FromRole: m.RoleMember},
		}}
		th := throttle.New(throttle.Limits{ProjectWritesPerMinute: 1e6, ProjectReadsPerMinute: 1e6, MaxAttempts: 1})
		e := &apply.Engine{API: api, Throttle: th, Concurrency: 4, Acting: "Acting@example.com"}
		if err := e.Apply(context.Background(), &plan); err != nil {
			t.Fatal(err)
		}
		for _, c := range plan.Changes {
			if c.Status != diff.Applied {
				t.Fatalf("run %d: %s %s: %s %q (refused: %v)", run, c.Action, c.Member, c.Status, c.Error, api.denied)
			}
		}
	}
}
