package apply_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/apply"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
	m "github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/throttle"
)

func seed() *emulator.Seed {
	return &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "owner@example.com"}, {ID: "2", Email: "alice@example.com"}, {ID: "3", Email: "bob@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
			{User: "owner@example.com", Role: "owner"}, {User: "alice@example.com", Role: "manager"}, {User: "bob@example.com"}}}},
	}
}

func engine(t *testing.T, url string) *apply.Engine {
	th := throttle.New(throttle.Limits{ProjectWritesPerMinute: 1e6, ProjectReadsPerMinute: 1e6, SpaceReadsPerSecond: 1e4, MaxAttempts: 3, BaseDelay: time.Millisecond})
	return &apply.Engine{API: emulatortest.Client(t, url), Throttle: th, Concurrency: 4}
}

// Plans here are built by hand to stand for a stale view of the space,
// which is what a lost answer or a concurrent admin leaves behind.
func TestStalePlansConvergeWithoutWastedWrites(t *testing.T) {
	em, url := emulatortest.Start(t, seed(), emulator.Options{})
	plan := diff.Plan{Changes: []diff.Change{
		// alice is already in, already a manager: create -> 409, then the role check reads and finds nothing to do.
		{Space: "spaces/S", Member: "alice@example.com", Principal: m.User("alice@example.com"), Action: diff.Create},
		{Space: "spaces/S", Member: "alice@example.com", Principal: m.User("alice@example.com"), Action: diff.UpdateRole, FromRole: m.RoleMember, ToRole: m.RoleManager},
		// nobody: the create fails, so the role change after it is not attempted.
		{Space: "spaces/S", Member: "nobody@example.com", Principal: m.User("nobody@example.com"), Action: diff.Create},
		{Space: "spaces/S", Member: "nobody@example.com", Principal: m.User("nobody@example.com"), Action: diff.UpdateRole, FromRole: m.RoleMember, ToRole: m.RoleOwner},
		// bob leaves; a second delete of him finds him gone.
		{Space: "spaces/S", Member: "bob@example.com", Principal: "users/3", Membership: "spaces/S/members/3", Action: diff.Delete},
		{Space: "spaces/S", Member: "bob@example.com", Principal: "users/3", Membership: "spaces/S/members/bob@example.com", Action: diff.Delete},
	}}
	if err := engine(t, url).Apply(context.Background(), &plan); err != nil {
		t.Fatal(err)
	}
	want := []diff.Status{diff.AlreadyDone, diff.AlreadyDone, diff.Failed, diff.Skipped, diff.Applied, diff.AlreadyDone}
	for i, c := range plan.Changes {
		if c.Status != want[i] {
			t.Errorf("change %d (%s %s): %s %q, want %s", i, c.Action, c.Member, c.Status, c.Error, want[i])
		}
	}
	if c := plan.Changes[3]; c.Error != "not attempted: the create before it did not succeed" {
		t.Errorf("skipped change says %q", c.Error)
	}
	st := em.Stats()
	if st.Count("members.patch") != 0 || st.Count("members.get") != 1 || st.Writes != 1 {
		t.Errorf("requests %v, writes %d: want no patch, one read, one write (the delete)", st.Requests, st.Writes)
	}
	if !plan.Applied || plan.Summary.Applied != 1 || plan.Summary.AlreadyDone != 3 || plan.Summary.Failed != 1 || plan.Summary.Skipped != 1 {
		t.Errorf("summary %+v", plan.Summary)
	}
}

func TestCancelledBeforeStartSkipsEverything(t *testing.T) {
	em, url := emulatortest.Start(t, seed(), emulator.Options{})
	plan := diff.Plan{Changes: []diff.Change{{Space: "spaces/S", Member: "x", Principal: m.User("bob@example.com"), Action: diff.Create}}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := engine(t, url).Apply(ctx, &plan); err == nil {
		t.Error("Apply returned no error for a cancelled run")
	}
	if plan.Changes[0].Status != diff.Skipped || em.Stats().Total() != 0 {
		t.Errorf("status %s, %d requests", plan.Changes[0].Status, em.Stats().Total())
	}
}

// An owner swap: alice (the only owner) becomes a member, bob becomes the
// owner. Demoting alice first would be refused (the last owner); the
// engine promotes first, so one run converges whatever the scheduling.
func TestOwnerSwapConvergesInOneRun(t *testing.T) {
	for i := 0; i < 20; i++ {
		s := &emulator.Seed{
			Users: []emulator.SeedUser{{ID: "1", Email: "alice@example.com"}, {ID: "2", Email: "bob@example.com"}},
			Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
				{User: "alice@example.com", Role: "owner"}, {User: "bob@example.com"}}}},
		}
		_, url := emulatortest.Start(t, s, emulator.Options{LatencyMin: time.Millisecond, LatencyMax: 3 * time.Millisecond})
		// The demotion comes first in the plan, as sorting by member puts it.
		plan := diff.Plan{Changes: []diff.Change{
			{Space: "spaces/S", Member: "alice@example.com", Principal: "users/1", Membership: "spaces/S/members/1", Action: diff.UpdateRole, FromRole: m.RoleOwner, ToRole: m.RoleMember},
			{Space: "spaces/S", Member: "bob@example.com", Principal: "users/2", Membership: "spaces/S/members/2", Action: diff.UpdateRole, FromRole: m.RoleMember, ToRole: m.RoleOwner},
		}}
		if err := engine(t, url).Apply(context.Background(), &plan); err != nil {
			t.Fatal(err)
		}
		for _, c := range plan.Changes {
			if c.Status != diff.Applied {
				t.Fatalf("run %d: %s → %s: %s %s", i, c.Member, c.ToRole, c.Status, c.Error)
			}
		}
	}
}

// The plan's last-owner guard names the successor the demotion waits for.
func TestOwnerSwapWhosePromotionFailsKeepsTheOwner(t *testing.T) {
	s := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "alice@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "alice@example.com", Role: "owner"}}}},
	}
	em, url := emulatortest.Start(t, s, emulator.Options{})
	plan := diff.Plan{Changes: []diff.Change{
		{Space: "spaces/S", Member: "alice@example.com", Principal: "users/1", Membership: "spaces/S/members/1", Action: diff.UpdateRole, FromRole: m.RoleOwner, ToRole: m.RoleMember,
			Successor: m.User("ghost@example.com")},
		{Space: "spaces/S", Member: "ghost@example.com", Principal: m.User("ghost@example.com"), Action: diff.Create},
		{Space: "spaces/S", Member: "ghost@example.com", Principal: m.User("ghost@example.com"), Action: diff.UpdateRole, FromRole: m.RoleMember, ToRole: m.RoleOwner},
	}}
	engine(t, url).Apply(context.Background(), &plan)
	if c := plan.Changes[0]; c.Status != diff.Skipped || !strings.Contains(c.Error, "making successor ghost@example.com owner did not succeed") {
		t.Errorf("the demotion: %s %q", c.Status, c.Error)
	}
	if n := em.Stats().Count("members.patch"); n != 0 {
		t.Errorf("%d patches sent", n)
	}
}

// google.rpc.Code maps ABORTED (a concurrency conflict: nothing was made)
// to 409, as it does ALREADY_EXISTS. A create answered so is tried again,
// not counted as done.
func TestACreateAbortedIsRetriedNotAlreadyDone(t *testing.T) {
	s := seed()
	s.Users = append(s.Users, emulator.SeedUser{ID: "4", Email: "carol@example.com"})
	em, url := emulatortest.Start(t, s, emulator.Options{})
	em.SetMisbehaviour("members.create", emulator.Misbehaviour{Status: 409, StatusName: "ABORTED", Message: "The operation was aborted.", AtCall: 1})
	plan := diff.Plan{Changes: []diff.Change{
		{Space: "spaces/S", Member: "carol@example.com", Principal: m.User("carol@example.com"), Action: diff.Create},
	}}
	if err := engine(t, url).Apply(context.Background(), &plan); err != nil {
		t.Fatal(err)
	}
	if c := plan.Changes[0]; c.Status != diff.Applied {
		t.Errorf("create: %s %q, want applied", c.Status, c.Error)
	}
	found := false
	for _, ms := range em.Snapshot()["spaces/S"] {
		found = found || ms.Email == "carol@example.com"
	}
	if !found {
		t.Errorf("carol is not in the space: %v", em.Snapshot()["spaces/S"])
	}
}
