package apply_test

// Answers that are not what was asked, and refusals that mean something
// else than they seem: a proxy in front of the emulator rewrites the
// emulator's answer (the write already made) or answers in its place.

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/apply"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
	m "github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/throttle"
)

// rewrite sees the nth request of its method and the emulator's answer
// to it; ok replaces the answer with status, body and retryAfter.
type rewrite func(n int, r *http.Request, status int) (newStatus int, body, retryAfter string, ok bool)

// rewriting starts a proxy to upstream that passes every answer through
// rw; it returns the proxy's URL.
func rewriting(t *testing.T, upstream string, rw rewrite) string {
	var mu sync.Mutex
	calls := map[string]int{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqBody, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls[r.Method]++
		n := calls[r.Method]
		mu.Unlock()
		req, _ := http.NewRequest(r.Method, strings.TrimSuffix(upstream, "/")+r.URL.RequestURI(), bytes.NewReader(reqBody))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		status := resp.StatusCode
		if s, b, after, ok := rw(n, r, status); ok {
			status, body = s, []byte(b)
			if after != "" {
				w.Header().Set("Retry-After", after)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(ts.Close)
	return ts.URL + "/"
}

// roles is what the space holds: role/state by member.
func roles(t *testing.T, url string) map[m.Principal]string {
	t.Helper()
	ms, _, err := emulatortest.Client(t, url).ListPage(context.Background(), "spaces/S", "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[m.Principal]string{}
	for _, mm := range ms {
		out[mm.Principal] = string(mm.Role) + "/" + string(mm.State)
	}
	return out
}

const bobsMembership = `{"name":"spaces/S/members/2","state":"JOINED","role":"ROLE_MEMBER","member":{"name":"users/2","type":"HUMAN"}}`

// answerCreatesWithBob answers every create that succeeded with bob's
// membership instead of the one made.
func answerCreatesWithBob(n int, r *http.Request, status int) (int, string, string, bool) {
	return 200, bobsMembership, "", r.Method == http.MethodPost && status == 200
}

// A create answered with someone else's membership: the role patch after
// it must not go to that other member. (Where the plan knows the member
// only by address and the answer carries no address, whom it names can't
// be told, and it is taken as it comes.)
func TestACreateAnsweredWithAnotherMembershipPatchesNobodyElse(t *testing.T) {
	s := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "alice@example.com"}, {ID: "2", Email: "bob@example.com"}, {ID: "3", Email: "carol@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
			{User: "alice@example.com", Role: "owner"}, {User: "bob@example.com"}}}},
	}
	_, up := emulatortest.Start(t, s, emulator.Options{})
	url := rewriting(t, up, answerCreatesWithBob)
	plan := diff.Plan{Changes: []diff.Change{
		{Space: "spaces/S", Member: "carol@example.com", Principal: m.User("carol@example.com"), ID: "users/3", Action: diff.Create},
		{Space: "spaces/S", Member: "carol@example.com", Principal: m.User("carol@example.com"), ID: "users/3", Action: diff.UpdateRole, FromRole: m.RoleMember, ToRole: m.RoleManager},
	}}
	engine(t, url).Apply(context.Background(), &plan)
	if got := roles(t, up)["users/2"]; got != "ROLE_MEMBER/JOINED" {
		t.Errorf("bob, whom no change names, is now %s", got)
	}
	if c := plan.Changes[0]; c.Status != diff.Failed || !strings.Contains(c.Error, "answered the create with the membership of users/2, not of users/3") {
		t.Errorf("the create answered with bob's membership: %s %q, want it failed", c.Status, c.Error)
	}
}

// handOverToC applies a handover from a (owner) to c (new, to be made
// owner) in a space with b, through a proxy answering as rw does; it
// checks that b is still a member and a still owner, and returns the plan.
func handOverToC(t *testing.T, rw rewrite) diff.Plan {
	t.Helper()
	s := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "a@example.com"}, {ID: "2", Email: "b@example.com"}, {ID: "3", Email: "c@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
			{User: "a@example.com", Role: "owner"}, {User: "b@example.com"}}}},
	}
	_, up := emulatortest.Start(t, s, emulator.Options{})
	plan := diff.Plan{Changes: []diff.Change{
		{Space: "spaces/S", Member: "a@example.com", Principal: "users/1", Membership: "spaces/S/members/1", Action: diff.Delete, FromRole: m.RoleOwner, Successor: "users/c@example.com"},
		{Space: "spaces/S", Member: "c@example.com", Principal: "users/c@example.com", ID: "users/3", Action: diff.Create},
		{Space: "spaces/S", Member: "c@example.com", Principal: "users/c@example.com", ID: "users/3", Action: diff.UpdateRole, FromRole: m.RoleMember, ToRole: m.RoleOwner},
	}}
	engine(t, rewriting(t, up, rw)).Apply(context.Background(), &plan)
	if got := roles(t, up); got["users/2"] != "ROLE_MEMBER/JOINED" || got["users/1"] != "ROLE_MANAGER/JOINED" {
		t.Errorf("space now %v: want b a member and a still owner", got)
	}
	return plan
}

// A handover to a new member whose create is answered with bob's
// membership: bob must not become owner, nor the old owner leave.
func TestAHandoverWhoseCreateIsAnsweredWithAnotherMembershipStops(t *testing.T) {
	if plan := handOverToC(t, answerCreatesWithBob); plan.Summary.Failed == 0 {
		t.Errorf("nothing failed: %+v", plan.Changes)
	}
}

// The same, where the space can't be asked whom the create made (the
// read answered 503): the answer is not taken as it comes.
func TestAHandoverWhoseCreateCantBeConfirmedStops(t *testing.T) {
	plan := handOverToC(t, func(n int, r *http.Request, status int) (int, string, string, bool) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/members/c@example.com") {
			return 503, `{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}`, "", true
		}
		return answerCreatesWithBob(n, r, status)
	})
	if c := plan.Changes[1]; c.Status != diff.Failed || !strings.Contains(c.Error, "could not be read") {
		t.Errorf("the create: %s %q, want failed", c.Status, c.Error)
	}
}

// A role change answered 200 with another role than asked is not made,
// and an owner's removal waiting for it does not go.
func TestARoleChangeAnsweredWithAnotherRoleFails(t *testing.T) {
	s := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "alice@example.com"}, {ID: "2", Email: "bob@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
			{User: "alice@example.com", Role: "owner"}, {User: "bob@example.com"}}}},
	}
	_, up := emulatortest.Start(t, s, emulator.Options{Seed: 1})
	// The emulator made bob owner; the answer says member. (Which is true
	// is unknown to the run: it must not count the change made.)
	url := rewriting(t, up, func(n int, r *http.Request, status int) (int, string, string, bool) {
		return 200, bobsMembership, "", r.Method == http.MethodPatch
	})
	plan := diff.Plan{Changes: []diff.Change{
		{Space: "spaces/S", Member: "alice@example.com", Principal: "users/1", Membership: "spaces/S/members/1", Action: diff.Delete, FromRole: m.RoleOwner, Successor: "users/2"},
		{Space: "spaces/S", Member: "bob@example.com", Principal: "users/2", Membership: "spaces/S/members/2", Action: diff.UpdateRole, FromRole: m.RoleMember, ToRole: m.RoleOwner},
	}}
	engine(t, url).Apply(context.Background(), &plan)
	if c := plan.Changes[1]; c.Status != diff.Failed || !strings.Contains(c.Error, "answered the role change with ROLE_MEMBER") {
		t.Errorf("the promotion: %s %q, want failed", c.Status, c.Error)
	}
	if c := plan.Changes[0]; c.Status != diff.Skipped {
		t.Errorf("the old owner's removal: %s %q, want held", c.Status, c.Error)
	}
	if _, in := roles(t, up)["users/1"]; !in {
		t.Error("alice, the old owner, was removed")
	}
}

// Two joined owners, a and d; the sources drop a and make x (invited, not
// yet accepted) a second owner. d stays, so a's removal needs no successor
// and does not wait for x.
func TestAnOwnersRemovalWithOthersStayingDoesNotWaitForAnInvitee(t *testing.T) {
	no := false
	s := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "a@example.com"}, {ID: "2", Email: "d@example.com"}, {ID: "3", Email: "x@example.com", AutoAccept: &no}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
			{User: "a@example.com", Role: "owner"}, {User: "d@example.com", Role: "owner"}}}},
	}
	_, url := emulatortest.Start(t, s, emulator.Options{})
	plan := diff.Plan{Changes: []diff.Change{
		{Space: "spaces/S", Member: "a@example.com", Principal: "users/1", Membership: "spaces/S/members/1", Action: diff.Delete, FromRole: m.RoleOwner},
		{Space: "spaces/S", Member: "x@example.com", Principal: "users/x@example.com", ID: "users/3", Action: diff.Create},
		{Space: "spaces/S", Member: "x@example.com", Principal: "users/x@example.com", ID: "users/3", Action: diff.UpdateRole, FromRole: m.RoleMember, ToRole: m.RoleOwner},
	}}
	engine(t, url).Apply(context.Background(), &plan)
	if c := plan.Changes[0]; c.Status != diff.Applied {
		t.Errorf("a's removal: %s %q, want applied", c.Status, c.Error)
	}
	if c := plan.Changes[2]; c.Status != diff.Skipped || !c.Invited {
		t.Errorf("x's promotion: %s %q, want waiting for x to accept", c.Status, c.Error)
	}
	if got := roles(t, url); got["users/2"] != "ROLE_MANAGER/JOINED" {
		t.Errorf("space now %v: want d still owner", got)
	}
}

// The plan saw two owners and removes one; before the delete goes, the
// other is demoted by someone else. Google keeps the last owner: that is
// a failure (the space keeps someone the sources dropped), not a member
// kept through a Google Group.
func TestALastOwnerGoogleKeepsIsAFailure(t *testing.T) {
	s := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "a@example.com"}, {ID: "2", Email: "d@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
			{User: "a@example.com", Role: "owner"}, {User: "d@example.com", Role: "owner"}}}},
	}
	_, url := emulatortest.Start(t, s, emulator.Options{})
	if _, err := emulatortest.Client(t, url).PatchRole(context.Background(), "spaces/S/members/2", m.RoleMember); err != nil {
		t.Fatal(err)
	}
	plan := diff.Plan{Changes: []diff.Change{
		{Space: "spaces/S", Member: "a@example.com", Principal: "users/1", Membership: "spaces/S/members/1", Action: diff.Delete, FromRole: m.RoleOwner},
	}}
	engine(t, url).Apply(context.Background(), &plan)
	if c := plan.Changes[0]; c.Status != diff.Failed || strings.Contains(c.Error, "Google Group") || !strings.Contains(c.Error, "make someone else owner") {
		t.Errorf("the removal: %s %q, want failed, saying to make someone else owner", c.Status, c.Error)
	}
}

// A delete made but answered 503; its retry refused for quota, and the run
// stopped while it waited. The member is gone: the change may have
// happened, so it is failed ("may have"), not skipped ("not made").
func TestAWriteWhoseOutcomeIsUnknownStaysUnknownAfterA429(t *testing.T) {
	s := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "a@example.com"}, {ID: "2", Email: "b@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
			{User: "a@example.com", Role: "owner"}, {User: "b@example.com"}}}},
	}
	_, up := emulatortest.Start(t, s, emulator.Options{})
	url := rewriting(t, up, func(n int, r *http.Request, status int) (int, string, string, bool) {
		switch {
		case r.Method == http.MethodDelete && n == 1:
			return 503, `{"error":{"code":503,"message":"backend","status":"UNAVAILABLE"}}`, "0", true
		case r.Method == http.MethodDelete:
			return 429, `{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}`, "5", true
		}
		return 0, "", "", false
	})
	th := throttle.New(throttle.Limits{ProjectWritesPerMinute: 1e6, ProjectReadsPerMinute: 1e6, SpaceReadsPerSecond: 1e4, MaxAttempts: 6, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Second})
	eng := &apply.Engine{API: emulatortest.Client(t, url), Throttle: th, Concurrency: 4}
	plan := diff.Plan{Changes: []diff.Change{
		{Space: "spaces/S", Member: "b@example.com", Principal: "users/2", Membership: "spaces/S/members/2", Action: diff.Delete, FromRole: m.RoleMember},
	}}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	eng.Apply(ctx, &plan)
	c := plan.Changes[0]
	if _, in := roles(t, up)["users/2"]; in {
		t.Fatal("the emulator did not remove b: the test is not testing anything")
	}
	if c.Status != diff.Failed || !c.Stopped || !strings.Contains(c.Error, "may have happened") {
		t.Errorf("the removal: %s %q stopped=%v, want failed (it may have happened) and stopped", c.Status, c.Error, c.Stopped)
	}
}

// A role patch sent to a membership named by address is answered with its
// canonical name: that is the membership asked for, not another.
func TestARoleChangeByAddressAnsweredByIDIsMade(t *testing.T) {
	_, url := emulatortest.Start(t, seed(), emulator.Options{})
	plan := diff.Plan{Changes: []diff.Change{
		{Space: "spaces/S", Member: "bob@example.com", Principal: "users/3", Membership: "spaces/S/members/bob@example.com", Action: diff.UpdateRole, FromRole: m.RoleMember, ToRole: m.RoleManager},
	}}
	engine(t, url).Apply(context.Background(), &plan)
	if c := plan.Changes[0]; c.Status != diff.Applied {
		t.Errorf("the role change: %s %q, want applied", c.Status, c.Error)
	}
	if got := roles(t, url)["users/3"]; got != "ROLE_ASSISTANT_MANAGER/JOINED" {
		t.Errorf("bob is %s, want manager", got)
	}
}

// Two joined owners; b is owner through a Google Group. Google keeps b
// because of the group, not because b is the last owner: skipped, as any
// member kept through a group.
func TestAnOwnerKeptThroughAGroupIsNotTheLastOwner(t *testing.T) {
	s := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "a@example.com"}, {ID: "2", Email: "b@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
			{User: "a@example.com", Role: "owner"}, {User: "b@example.com", Role: "owner", ViaGroup: "groups/eng"}}}},
	}
	_, url := emulatortest.Start(t, s, emulator.Options{})
	plan := diff.Plan{Changes: []diff.Change{
		{Space: "spaces/S", Member: "b@example.com", Principal: "users/2", Membership: "spaces/S/members/2", Action: diff.Delete, FromRole: m.RoleOwner},
	}}
	engine(t, url).Apply(context.Background(), &plan)
	if c := plan.Changes[0]; c.Status != diff.Skipped || !strings.Contains(c.Error, "through a Google Group") {
		t.Errorf("b, kept through a group while a stays owner: %s %q, want skipped", c.Status, c.Error)
	}
}

// The app is added, and Google names it by a numeric ID of its own.
func TestAddingTheAppAnsweredWithItsOwnIDIsMade(t *testing.T) {
	s := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "a@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "a@example.com", Role: "owner"}}}},
	}
	_, up := emulatortest.Start(t, s, emulator.Options{})
	url := rewriting(t, up, func(n int, r *http.Request, status int) (int, string, string, bool) {
		return 200, `{"name":"spaces/S/members/987","state":"JOINED","role":"ROLE_MEMBER","member":{"name":"users/987","type":"BOT"}}`, "", r.Method == http.MethodPost && status == 200
	})
	sp := diff.NewPlanner(diff.Upsert).Space(
		m.DesiredSpace{Name: "spaces/S", Members: []m.DesiredMember{{Principal: "users/1", Role: m.RoleOwner}, {Principal: m.App, Role: m.RoleUnmanaged}}},
		&m.SpaceState{Name: "spaces/S", Memberships: []m.Membership{{Name: "spaces/S/members/1", Principal: "users/1", Role: m.RoleOwner, State: m.StateJoined}}},
		diff.Identities{})
	plan := diff.Plan{Changes: sp.Changes}
	engine(t, url).Apply(context.Background(), &plan)
	if len(plan.Changes) != 1 || plan.Changes[0].Status != diff.Applied {
		t.Errorf("adding the app: %+v, want one create applied", plan.Changes)
	}
}

// A handover whose successor's create is answered oddly but not wrongly:
// it converges in one run.
func TestAHandoverWhoseCreateIsAnsweredOddlyConverges(t *testing.T) {
	for name, body := range map[string]string{
		"empty":         `{}`,
		"by address":    `{"name":"spaces/S/members/3","state":"JOINED","role":"ROLE_MEMBER","member":{"name":"users/c@example.com","type":"HUMAN"}}`,
		"by an alias":   `{"name":"spaces/S/members/3","state":"JOINED","role":"ROLE_MEMBER","member":{"name":"users/cee@example.com","type":"HUMAN"}}`,
		"with no state": `{"name":"spaces/S/members/3","role":"ROLE_MEMBER","member":{"name":"users/3","type":"HUMAN"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			s := &emulator.Seed{
				Users:  []emulator.SeedUser{{ID: "1", Email: "a@example.com"}, {ID: "3", Email: "c@example.com", Aliases: []string{"cee@example.com"}}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "a@example.com", Role: "owner"}}}},
			}
			_, up := emulatortest.Start(t, s, emulator.Options{})
			url := rewriting(t, up, func(n int, r *http.Request, status int) (int, string, string, bool) {
				return 200, body, "", r.Method == http.MethodPost && status == 200
			})
			plan := diff.Plan{Changes: []diff.Change{
				{Space: "spaces/S", Member: "a@example.com", Principal: "users/1", Membership: "spaces/S/members/1", Action: diff.Delete, FromRole: m.RoleOwner, Successor: "users/c@example.com"},
				{Space: "spaces/S", Member: "c@example.com", Principal: "users/c@example.com", ID: "users/3", Action: diff.Create},
				{Space: "spaces/S", Member: "c@example.com", Principal: "users/c@example.com", ID: "users/3", Action: diff.UpdateRole, FromRole: m.RoleMember, ToRole: m.RoleOwner},
			}}
			engine(t, url).Apply(context.Background(), &plan)
			if plan.Summary.Failed+plan.Summary.Skipped > 0 {
				t.Errorf("not converged in one run: %+v", plan.Changes)
			}
		})
	}
}

// A role change that reads the membership first: the read is answered
// 503, then 429, and the run stops. No write was sent: skipped, not
// "may have happened".
func TestAnUnknownReadLeavesAnUnsentWriteNotMade(t *testing.T) {
	s := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "a@example.com"}, {ID: "2", Email: "b@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "a@example.com", Role: "owner"}, {User: "b@example.com"}}}},
	}
	_, up := emulatortest.Start(t, s, emulator.Options{})
	url := rewriting(t, up, func(n int, r *http.Request, status int) (int, string, string, bool) {
		switch {
		case r.Method == http.MethodGet && n == 1:
			return 503, `{"error":{"code":503,"message":"backend","status":"UNAVAILABLE"}}`, "0", true
		case r.Method == http.MethodGet:
			return 429, `{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}`, "5", true
		}
		return 0, "", "", false
	})
	th := throttle.New(throttle.Limits{ProjectWritesPerMinute: 1e6, ProjectReadsPerMinute: 1e6, SpaceReadsPerSecond: 1e4, MaxAttempts: 6, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Second})
	eng := &apply.Engine{API: emulatortest.Client(t, url), Throttle: th, Concurrency: 4}
	plan := diff.Plan{Changes: []diff.Change{
		{Space: "spaces/S", Member: "b@example.com", Principal: m.User("b@example.com"), Action: diff.UpdateRole, FromRole: m.RoleMember, ToRole: m.RoleManager},
	}}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	eng.Apply(ctx, &plan)
	if c := plan.Changes[0]; c.Status != diff.Skipped || !c.Stopped {
		t.Errorf("a patch never sent: %s %q stopped=%v, want skipped", c.Status, c.Error, c.Stopped)
	}
}

// A create answered 200 with no membership ({}: a proxy's empty answer;
// Google's names the membership it made) tells nothing: the space is asked
// whom it made. Made, the create is applied and the owner role follows;
// not made, the change fails, its outcome unknown, and nothing that
// depends on it is sent.
func TestACreateAnsweredWithNoMembershipIsConfirmed(t *testing.T) {
	s := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "a@example.com"}, {ID: "3", Email: "c@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "a@example.com", Role: "owner"}}}},
	}
	newPlan := func() diff.Plan {
		return diff.Plan{Changes: []diff.Change{
			{Space: "spaces/S", Member: "c@example.com", Principal: "users/c@example.com", ID: "users/3", Action: diff.Create},
			{Space: "spaces/S", Member: "c@example.com", Principal: "users/c@example.com", ID: "users/3", Action: diff.UpdateRole, FromRole: m.RoleMember, ToRole: m.RoleManager},
		}}
	}
	_, up := emulatortest.Start(t, s, emulator.Options{})
	var gets atomic.Int32
	plan := newPlan()
	engine(t, rewriting(t, up, func(n int, r *http.Request, status int) (int, string, string, bool) {
		if r.Method == http.MethodGet {
			gets.Add(1)
		}
		return 200, `{}`, "", r.Method == http.MethodPost && status == 200
	})).Apply(context.Background(), &plan)
	if c := plan.Changes[0]; c.Status != diff.Applied || c.Membership != "spaces/S/members/3" || gets.Load() == 0 {
		t.Errorf("a create made and answered {}: %s %q %q after %d reads, want it applied, as the space shows", c.Status, c.Membership, c.Error, gets.Load())
	}
	if got := roles(t, up)["users/3"]; got != "ROLE_ASSISTANT_MANAGER/JOINED" || plan.Changes[1].Status != diff.Applied {
		t.Errorf("c is %s (%s), want the manager the plan makes them", got, plan.Changes[1].Status)
	}

	// Not made: every create is answered {} and not carried out.
	em, up2 := emulatortest.Start(t, s, emulator.Options{})
	em.SetMisbehaviour("members.create", emulator.Misbehaviour{Body: `{}`})
	plan = newPlan()
	engine(t, up2).Apply(context.Background(), &plan)
	if c := plan.Changes[0]; c.Status != diff.Failed || !strings.Contains(c.Error, "whether c@example.com was added is unknown") {
		t.Errorf("a create answered {} and not made: %s %q, want it failed, its outcome unknown", c.Status, c.Error)
	}
	if c := plan.Changes[1]; c.Status == diff.Applied {
		t.Errorf("the role after a create answered {} and not made was sent: %+v", c)
	}
}

// A create answered 409 with a body that says nothing (a proxy's page, or
// one too long to read): "already exists" or ABORTED can't be told, so the
// space is asked. Taken as "already a member", c would never be added.
func TestACreateAnswered409WithoutAStatusIsConfirmed(t *testing.T) {
	for _, tt := range []struct {
		name    string
		present bool
		want    diff.Status
	}{
		{"not made", false, diff.Failed},
		{"a member already", true, diff.AlreadyDone},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &emulator.Seed{
				Users:  []emulator.SeedUser{{ID: "1", Email: "a@example.com"}, {ID: "3", Email: "c@example.com"}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "a@example.com", Role: "owner"}}}},
			}
			if tt.present {
				s.Spaces[0].Members = append(s.Spaces[0].Members, emulator.SeedMember{User: "c@example.com"})
			}
			em, up := emulatortest.Start(t, s, emulator.Options{})
			em.SetMisbehaviour("members.create", emulator.Misbehaviour{Status: 409, Body: "<html><body>409 Conflict</body></html>"})
			plan := diff.Plan{Changes: []diff.Change{
				{Space: "spaces/S", Member: "c@example.com", Principal: "users/c@example.com", ID: "users/3", Action: diff.Create},
			}}
			engine(t, up).Apply(context.Background(), &plan)
			c := plan.Changes[0]
			if c.Status != tt.want || tt.want == diff.Failed && !strings.Contains(c.Error, "whether they were added is unknown") {
				t.Errorf("a create answered 409 with no status, c %s in the space: %s %q, want %s", map[bool]string{true: "already", false: "not"}[tt.present], c.Status, c.Error, tt.want)
			}
		})
	}
}

// A removal answered 404 without Google's status (a proxy's or a front
// end's page: every error the Chat API writes carries NOT_FOUND) says
// nothing of the member: it is not "already done", which the report would
// show while the member stays.
func TestARemovalAnswered404WithoutAStatusIsNotDone(t *testing.T) {
	s := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "a@example.com"}, {ID: "2", Email: "b@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
			{User: "a@example.com", Role: "owner"}, {User: "b@example.com"}}}},
	}
	em, url := emulatortest.Start(t, s, emulator.Options{})
	em.SetMisbehaviour("members.delete", emulator.Misbehaviour{Status: 404, Body: `<html><body>404. That's an error.</body></html>`})
	plan := diff.Plan{Changes: []diff.Change{
		{Space: "spaces/S", Member: "b@example.com", Principal: "users/2", Membership: "spaces/S/members/2", Action: diff.Delete},
	}}
	engine(t, url).Apply(context.Background(), &plan)
	if c := plan.Changes[0]; c.Status != diff.Failed {
		t.Errorf("the removal answered a bare 404: %s %q, want failed (b is still in the space)", c.Status, c.Error)
	}
}
