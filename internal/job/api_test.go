package job_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/job"
)

// An outsider already known by ID (listed in another space) is created by
// the address the source gave: Google refuses users/{id} for people
// outside the organisation, and so does the emulator.
func TestOutsiderIsCreatedByEmail(t *testing.T) {
	seed := identitySeed()
	seed.Spaces = append(seed.Spaces, emulator.SeedSpace{Name: "spaces/T", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}})
	f := newFixture(t, seed, emulator.Options{}, "space,member\nspaces/S,ext@partner.test\nspaces/T,ext@partner.test\n")
	f.resolve = true
	res, err := f.run(t, context.Background(), true)
	if err != nil || res.Failed() || len(res.Plan.Changes) != 1 {
		t.Fatalf("%v %+v", err, res.Plan)
	}
	// Whether S's list (which shows ext@ as users/5) was read before T's
	// plan decides if the ID is known; the create goes by email either way.
	c := res.Plan.Changes[0]
	if c.Space != "spaces/T" || c.Principal != "users/ext@partner.test" || (c.ID != "users/5" && c.ID != "") || c.Status != diff.Applied {
		t.Errorf("change %+v; want ext@ created by email in T", c)
	}
	checkConverged(t, f)
}

// A consumer address sorts before everyone else; its Directory lookup is
// refused (a domain the customer doesn't own) and the lookups go on.
func TestForeignDomainAnswerDoesNotStopLookups(t *testing.T) {
	for _, status := range []int{403, 400} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			seed := identitySeed()
			seed.Users = append(seed.Users, emulator.SeedUser{ID: "7", Email: "aaron@gmail.test", External: true})
			f := newFixture(t, seed, emulator.Options{HideEmails: true, ForeignDomainStatus: status},
				"space,member,role\nspaces/S,aaron@gmail.test,\nspaces/S,ali@example.com,manager\nspaces/S,bob@example.com,\n")
			f.resolve = true
			res, err := f.run(t, context.Background(), false)
			if err != nil || res.Failed() {
				t.Fatalf("%v %+v", err, res.Plan)
			}
			got := map[string]string{}
			for _, c := range res.Plan.Changes {
				got[string(c.Action)+" "+c.Member] = c.ResolvedBy
			}
			// ali@ is alice's alias: a patch, found by the Directory after aaron's refusal.
			want := map[string]string{"create aaron@gmail.test": "", "update_role ali@example.com": "directory", "create bob@example.com": "directory"}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("changes %v, want %v", got, want)
			}
		})
	}
}

// On the paged users.list path (many unknown addresses), an address in an
// alias domain (nonEditableAliases) is found, not taken for an outsider.
func TestAliasDomainAddressOnTheDirectoryPass(t *testing.T) {
	seed := identitySeed()
	seed.Users[2].NonEditableAliases = []string{"bob@example.org"}
	var csv strings.Builder
	csv.WriteString("space,member\nspaces/S,bob@example.org\n")
	for i := 0; i < 120; i++ { // past the users.get threshold
		seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(1000 + i), Email: fmt.Sprintf("u%d@example.com", i)})
		fmt.Fprintf(&csv, "spaces/S,u%d@example.com\n", i)
	}
	f := newFixture(t, seed, emulator.Options{HideEmails: true}, csv.String())
	f.resolve, f.admin = true, true
	res, err := f.run(t, context.Background(), false)
	if err != nil || res.Failed() {
		t.Fatalf("%v %+v", err, res.Plan.Incomplete)
	}
	for _, c := range res.Plan.Changes {
		if c.Member == "bob@example.org" && (c.ID != "users/3" || c.ResolvedBy != "directory") {
			t.Errorf("bob's alias-domain address: %+v", c)
		}
	}
	if w := strings.Join(res.Plan.Warnings, "\n"); strings.Contains(w, "bob@example.org") {
		t.Errorf("bob@example.org taken for an outsider: %s", w)
	}
	if n := f.em.Stats().Count("directory.users.list"); n != 1 {
		t.Errorf("%d Directory pages", n)
	}
}

// Under Chat app authentication an empty member list means a restricted
// list, not an empty space: nobody is planned into it.
func TestAppAuthEmptyListIsUnread(t *testing.T) {
	seed := identitySeed()
	seed.Spaces = append(seed.Spaces, emulator.SeedSpace{Name: "spaces/EMPTY"})
	f := newFixture(t, seed, emulator.Options{}, "space,member\nspaces/EMPTY,bob@example.com\nspaces/S,bob@example.com\n")
	res, err := f.runAs(t, context.Background(), func(j *job.Job) { j.AppAuth = true })
	if err != nil {
		t.Fatal(err)
	}
	if !res.Failed() || len(res.Plan.Changes) != 1 || res.Plan.Changes[0].Space != "spaces/S" || !strings.Contains(res.Plan.Spaces[0].Error, "restrict") {
		t.Errorf("plan %+v\nspaces %+v", res.Plan.Changes, res.Plan.Spaces)
	}
}
