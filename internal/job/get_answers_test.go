package job_test

import (
	"context"
	"os"
	"testing"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/job"
	"github.com/syncer-dev/syncer/internal/membership"
)

// getAnswersSpace is a space whose list names its members by ID without
// their emails, one of them someone outside the organisation whom the
// Directory can't name: a membership read by address tells who they are.
func getAnswersSpace(t *testing.T) *fixture {
	t.Helper()
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}, {ID: "3", Email: "ext@gmail.com", External: true}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
			{User: "boss@example.com", Role: "owner"}, {User: "ann@example.com"}, {User: "ext@gmail.com"}}}},
	}
	f := newFixture(t, seed, emulator.Options{HideEmails: true}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,ann@example.com,\nspaces/S,ext@gmail.com,\n")
	f.syncing(t)
	f.resolve = true
	return f
}

// checkNobodyRemoved fails t when the plan removes anyone: every member is
// one a source names, protect or the acting user.
func checkNobodyRemoved(t *testing.T, f *fixture) {
	t.Helper()
	res, err := f.run(t, context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	logPlan(t, "plan", res)
	for _, c := range res.Plan.Changes {
		if c.Action == diff.Delete {
			t.Errorf("%s is removed, though every member is one a source, protect or the acting user names: %+v", c.Member, c)
		}
	}
}

// A membership read by address answered with the member named by that
// address (users/ext@gmail.com), not by ID: it does not say which of the
// members listed by ID the address is. Taken as the address's identity,
// it matched no one, and policy sync removed the person the source names.
func TestAReadAnsweredByAddressSettlesNothing(t *testing.T) {
	for name, answer := range map[string]membership.Membership{
		"without email": {Name: "spaces/S/members/ext@gmail.com", Principal: "users/ext@gmail.com", Role: membership.RoleMember, State: membership.StateJoined},
		"with email":    {Name: "spaces/S/members/3", Principal: "users/ext@gmail.com", Email: "ext@gmail.com", Role: membership.RoleMember, State: membership.StateJoined},
	} {
		t.Run(name, func(t *testing.T) {
			f := getAnswersSpace(t)
			sync := f.tweak
			f.tweak = func(j *job.Job) {
				sync(j)
				j.Reader = &emptyGets{Reader: j.Reader, address: "ext@gmail.com", answer: answer}
				j.Resolver.Members = j.Reader.(*emptyGets)
			}
			checkNobodyRemoved(t, f)
		})
	}
}

// The same answer to the read that ties the user the syncer acts as, an
// address the Directory can't name, to their member here: as that
// member's ID, the address matched none of the members listed by ID, and
// the acting user was removed from the space (policy sync never removes
// them: they would lose the access the run needs).
func TestTheActingUsersReadAnsweredByAddressRemovesNobody(t *testing.T) {
	f := getAnswersSpace(t)
	if err := os.WriteFile(f.cfg.Sources[0].Path, []byte("space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,ann@example.com,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sync := f.tweak
	f.tweak = func(j *job.Job) {
		sync(j)
		j.Acting = "ext@gmail.com"
		j.Reader = &emptyGets{Reader: j.Reader, address: "ext@gmail.com", answer: membership.Membership{Name: "spaces/S/members/ext@gmail.com", Principal: "users/ext@gmail.com", Role: membership.RoleMember, State: membership.StateJoined}}
		j.Resolver.Members = j.Reader.(*emptyGets)
	}
	checkNobodyRemoved(t, f)
}

// A membership read answered 404 without Google's status (every error
// Google's Chat API writes carries one): a proxy's or a front end's page
// for a path it does not route, not "no such membership". Taken as "not a
// member", the address matched none of the members listed by ID, and
// policy sync removed the person the source names.
func TestAReadAnswered404WithoutAStatusSettlesNothing(t *testing.T) {
	for name, body := range map[string]string{
		"an HTML page":        `<html><body>404. That's an error. The requested URL was not found on this server.</body></html>`,
		"JSON without status": `{"error":{"code":404,"message":"Not Found"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := getAnswersSpace(t)
			f.em.SetMisbehaviour("members.get", emulator.Misbehaviour{Status: 404, Body: body})
			checkNobodyRemoved(t, f)
		})
	}
}
