package job_test

import (
	"context"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/job"
	"github.com/syncer-dev/syncer/internal/membership"
)

// emptyGets answers the reads of one address in spaces/S with a membership
// that names nobody (a proxy's empty 200, or one without its member).
type emptyGets struct {
	job.Reader
	address string
	answer  membership.Membership
}

func (r *emptyGets) Get(ctx context.Context, space, member string) (membership.Membership, error) {
	if space == "spaces/S" && strings.EqualFold(member, r.address) {
		return r.answer, nil
	}
	return r.Reader.Get(ctx, space, member)
}

// A membership read by address answered without a member says nothing of
// who the address is: not "not a member", nor a member named "". Taken
// for either, the person the source names by that address (outside the
// organisation, listed without an email) matched no one, and policy sync
// removed them. The read counts as one that failed: nobody is removed
// there this run.
func TestAReadAnsweredWithoutAMemberSettlesNothing(t *testing.T) {
	for name, answer := range map[string]membership.Membership{
		"empty":          {},
		"without member": {Name: "spaces/S/members/x", Role: membership.RoleMember, State: membership.StateJoined},
	} {
		t.Run(name, func(t *testing.T) {
			seed := &emulator.Seed{
				Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}, {ID: "3", Email: "ext@gmail.com", External: true}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
					{User: "boss@example.com", Role: "owner"}, {User: "ann@example.com"}, {User: "ext@gmail.com"}}}},
			}
			f := newFixture(t, seed, emulator.Options{HideEmails: true}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,ann@example.com,\nspaces/S,ext@gmail.com,\n")
			f.syncing(t)
			f.resolve = true
			sync := f.tweak
			f.tweak = func(j *job.Job) {
				sync(j)
				j.Reader = &emptyGets{Reader: j.Reader, address: "ext@gmail.com", answer: answer}
				j.Resolver.Members = j.Reader.(*emptyGets) // the identity service's reads too
			}
			res, err := f.run(t, context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			logPlan(t, "plan", res)
			for _, c := range res.Plan.Changes {
				if c.Action == diff.Delete {
					t.Errorf("%s is removed, though the source names it and the space could not say who ext@gmail.com is: %+v", c.Member, c)
				}
			}
		})
	}
}
