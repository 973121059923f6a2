package job_test

import (
	"context"
	"testing"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
)

// Membership.state NOT_A_MEMBER: "The user doesn't belong to the space and
// doesn't have a pending invitation to join the space" (chat/v1 discovery
// document). A membership listed so is someone absent: wanted, they are
// created; not wanted, there is nothing to remove.
func TestNotAMemberIsAbsent(t *testing.T) {
	seed := identitySeed()
	seed.Spaces = []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
		{User: "boss@example.com", Role: "owner"}, {User: "bob@example.com", State: "NOT_A_MEMBER"}, {User: "carol@example.com", State: "NOT_A_MEMBER"}}}}
	f := newFixture(t, seed, emulator.Options{}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,bob@example.com,\n")
	res, err := f.run(t, context.Background(), true)
	if err != nil || res.Failed() {
		t.Fatalf("%v %+v", err, res.Plan)
	}
	if len(res.Plan.Changes) != 1 {
		t.Fatalf("changes %+v; want one: bob's create", res.Plan.Changes)
	}
	if c := res.Plan.Changes[0]; c.Action != diff.Create || c.Member != "bob@example.com" || c.Status != diff.Applied {
		t.Errorf("change %+v; want bob created", c)
	}
	for _, ms := range f.em.Snapshot()["spaces/S"] {
		if ms.Email == "bob@example.com" && ms.State != "JOINED" {
			t.Errorf("bob is %s", ms.State)
		}
	}
	checkConverged(t, f)
}
