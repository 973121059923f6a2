package job_test

import (
	"context"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/job"
	"github.com/syncer-dev/syncer/internal/membership"
)

// bentList answers spaces/S's list through bend, other spaces as the
// emulator does.
type bentList struct {
	job.Reader
	bend func(r job.Reader, ctx context.Context, token string) ([]membership.Membership, string, error)
}

func (r *bentList) ListPage(ctx context.Context, space, token string) ([]membership.Membership, string, error) {
	if space != "spaces/S" {
		return r.Reader.ListPage(ctx, space, token)
	}
	return r.bend(r.Reader, ctx, token)
}

// A space's list that shows a membership twice (a server whose paging
// started over: the first page again under a new token; or one person
// under two membership names) is a fault of the server's: the space is not
// read and nothing is planned there, least of all each removal twice, sent
// twice and counted twice against the rails.
func TestAListShowingAMembershipTwiceIsNotRead(t *testing.T) {
	for name, bend := range map[string]func(r job.Reader, ctx context.Context, token string) ([]membership.Membership, string, error){
		"the first page again": func(r job.Reader, ctx context.Context, token string) ([]membership.Membership, string, error) {
			page, _, err := r.ListPage(ctx, "spaces/S", "")
			if token == "" {
				return page, "again", err
			}
			return page, "", err
		},
		"one person under two names": func(r job.Reader, ctx context.Context, token string) ([]membership.Membership, string, error) {
			page, next, err := r.ListPage(ctx, "spaces/S", token)
			for _, m := range page {
				if m.Principal == "users/3" {
					m.Name = "spaces/S/members/bob"
					return append(page, m), next, err
				}
			}
			return page, next, err
		},
	} {
		t.Run(name, func(t *testing.T) {
			seed := &emulator.Seed{
				Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}, {ID: "3", Email: "bob@example.com"}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
					{User: "boss@example.com", Role: "owner"}, {User: "ann@example.com"}, {User: "bob@example.com"}}}},
			}
			f := newFixture(t, seed, emulator.Options{}, "space,member,role\nspaces/S,boss@example.com,owner\n")
			f.syncing(t)
			sync := f.tweak
			f.tweak = func(j *job.Job) {
				sync(j)
				j.Reader = &bentList{Reader: j.Reader, bend: bend}
			}
			res, err := f.run(t, context.Background(), true)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.SpaceErrors) != 1 || !strings.Contains(res.SpaceErrors[0].Error(), "twice") {
				t.Errorf("space errors %v; want spaces/S not read, its list showing a membership twice", res.SpaceErrors)
			}
			if len(res.Plan.Changes) != 0 || f.em.Stats().Count("members.delete") != 0 {
				t.Errorf("%d changes planned, %d deletes sent; want none: %+v", len(res.Plan.Changes), f.em.Stats().Count("members.delete"), res.Plan.Changes)
			}
		})
	}
}

// A list whose pages shifted while it was read (someone joined between
// two pages, and the second shows who the first did) is read again once:
// the space is planned from the second reading, not called unread.
func TestAListThatShiftedOnceIsReadAgain(t *testing.T) {
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}, {ID: "3", Email: "bob@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
			{User: "boss@example.com", Role: "owner"}, {User: "ann@example.com"}, {User: "bob@example.com"}}}},
	}
	f := newFixture(t, seed, emulator.Options{}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,ann@example.com,member\n")
	f.syncing(t)
	sync := f.tweak
	reads := 0
	f.tweak = func(j *job.Job) {
		sync(j)
		j.Reader = &bentList{Reader: j.Reader, bend: func(r job.Reader, ctx context.Context, token string) ([]membership.Membership, string, error) {
			page, next, err := r.ListPage(ctx, "spaces/S", token)
			if token == "" {
				reads++
			}
			if token == "" && reads == 1 && len(page) > 0 {
				return append(page, page[0]), next, err // the first reading only
			}
			return page, next, err
		}}
	}
	res, err := f.run(t, context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.SpaceErrors) != 0 || reads != 2 {
		t.Errorf("space errors %v after %d readings; want spaces/S read twice, the second time planned", res.SpaceErrors, reads)
	}
	if len(res.Plan.Changes) != 1 || res.Plan.Changes[0].Member != "bob@example.com" || f.em.Stats().Count("members.delete") != 1 {
		t.Errorf("plan %+v, %d deletes; want bob removed once", res.Plan.Changes, f.em.Stats().Count("members.delete"))
	}
}
