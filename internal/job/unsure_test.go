package job_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/job"
)

// A sync space wants bob@example.org, an alias-domain address of
// robert@example.com, who is a member (listed with his email). With many
// other new people the Directory is read by a pass split into prefix
// queries, which match primary emails and editable aliases only: not
// being shown bob@ must not make him a stranger, and robert one to remove.
func TestAliasDomainAddressASplitPassNeverShowed(t *testing.T) {
	for _, others := range []int{0, 6000} {
		t.Run(fmt.Sprint(others, " others"), func(t *testing.T) {
			seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"},
				{ID: "2", Email: "robert@example.com", NonEditableAliases: []string{"bob@example.org"}}}}
			seed.Spaces = append(seed.Spaces, emulator.SeedSpace{Name: "spaces/R", Members: []emulator.SeedMember{
				{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com"}}})
			var csv strings.Builder
			csv.WriteString("space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,bob@example.org,\n")
			for i := range others {
				seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(1000 + i), Email: fmt.Sprintf("u%d@example.com", i)})
			}
			for s := 0; s < 20 && others > 0; s++ {
				seed.Spaces = append(seed.Spaces, emulator.SeedSpace{Name: fmt.Sprintf("spaces/N%d", s), Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}})
				fmt.Fprintf(&csv, "spaces/N%d,boss@example.com,owner\n", s)
			}
			for i := range others {
				fmt.Fprintf(&csv, "spaces/N%d,u%d@example.com,\n", i%20, i)
			}
			f := newFixture(t, seed, emulator.Options{}, csv.String()) // lists carry emails
			f.syncing(t)
			f.resolve = true
			res, err := f.run(t, context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			creates := 0
			for _, c := range res.Plan.Changes {
				if c.Space != "spaces/R" {
					continue
				}
				switch c.Action {
				case diff.Delete:
					t.Errorf("robert, whom bob@example.org names, planned for removal: %+v", c)
				case diff.Create:
					creates++
				}
			}
			if creates != 0 {
				t.Errorf("%d creates in spaces/R, want none: bob@example.org is robert, a member", creates)
			}
			if others > 0 && f.em.Stats().Count("directory.users.list") < 2 {
				t.Errorf("%d users.list calls: the case meant a pass", f.em.Stats().Count("directory.users.list"))
			}
		})
	}
}

// A member listed without an email is named by a users.get on its ID.
// When that lookup fails (a 503 after retries) the member may be anyone,
// someone the sources want under a stale identity included: kept, and the
// plan says what it could not see. When it answers, dave, whom no source
// names, is removed.
func TestRemovalKeptWhenItsDirectoryLookupFails(t *testing.T) {
	for _, broken := range []bool{false, true} {
		t.Run(fmt.Sprint("users.get broken ", broken), func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "identity-cache.json")
			csv := "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,carol@example.com,\n"
			users := []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "7", Email: "carol@example.com"}, {ID: "8", Email: "dave@example.com"}}
			members := []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "carol@example.com"}}
			// Run 1 fills the cache: boss and carol, as they are.
			fillCache(t, cache, &emulator.Seed{Users: users, Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: members}}}, emulator.Options{HideEmails: true}, csv, nil)
			// Run 2: dave is a member too, and the Directory can't be asked who he is.
			seed := &emulator.Seed{Users: users, Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: append(members, emulator.SeedMember{User: "dave@example.com"})}}}
			f := newFixture(t, seed, emulator.Options{HideEmails: true}, csv)
			f.syncing(t)
			f.resolve, f.cacheFile = true, cache
			if broken {
				f.em.SetMisbehaviour("directory.users.get", emulator.Misbehaviour{Status: 503})
			}
			res, err := f.run(t, context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			var deletes []string
			for _, c := range res.Plan.Changes {
				if c.Action == diff.Delete {
					deletes = append(deletes, c.Member)
				}
			}
			if !broken {
				if len(deletes) != 1 || deletes[0] != "dave@example.com" || !res.Plan.Complete() {
					t.Errorf("removals %q, complete %v (%q); want dave@example.com on a complete plan", deletes, res.Plan.Complete(), res.Plan.Incomplete)
				}
				return
			}
			if len(deletes) != 0 {
				t.Errorf("removals %q, who could not be told apart from anyone the sources want", deletes)
			}
			if len(res.Plan.Protected) != 1 || !strings.Contains(res.Plan.Protected[0].Why, "can't tell who") {
				t.Errorf("kept: %+v; want users/8, as someone who could not be told", res.Plan.Protected)
			}
			if res.Plan.Complete() {
				t.Error("plan complete, though a member could not be looked up")
			}
		})
	}
}

// The identity cache matched a wanted address to an account the space
// does not hold, and the space holds someone the sources don't name: that
// someone may be the address's owner now. An alias moved to another
// person (lists with emails), or carol's account replaced (lists without,
// and no Directory to ask by ID: identity.directory off, app auth).
func TestRemovalKeptWhenTheCacheIsOutOfDate(t *testing.T) {
	type world struct {
		name         string
		want, member string // the address the sources want; the member's primary email
		aliases      []string
		hide, nodir  bool
	}
	for _, w := range []world{
		{name: "alias moved", want: "bob@example.org", member: "robert@example.com", aliases: []string{"bob@example.org"}},
		{name: "account replaced, no Directory", want: "carol@example.com", member: "carol@example.com", hide: true, nodir: true},
	} {
		t.Run(w.name, func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "identity-cache.json")
			csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R," + w.want + ",\n"
			// Run 1: the address is users/99's, who is a member; the cache learns it.
			old := emulator.SeedUser{ID: "99", Email: w.want}
			if w.want != w.member {
				old = emulator.SeedUser{ID: "99", Email: "carl@example.com", NonEditableAliases: []string{w.want}}
			}
			seed1 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, old},
				Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: old.Email}}}}}
			f1 := newFixture(t, seed1, emulator.Options{HideEmails: w.hide}, csv)
			f1.resolve, f1.cacheFile = true, cache
			if w.nodir {
				f1.tweak = func(j *job.Job) { j.Resolver.Directory = nil }
			}
			if _, err := f1.run(t, context.Background(), false); err != nil {
				t.Fatal(err)
			}
			// Run 2: the address is users/2's, a member; users/99 is gone.
			seed2 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: w.member, NonEditableAliases: w.aliases}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: w.member}}}}}
			f := newFixture(t, seed2, emulator.Options{HideEmails: w.hide}, csv)
			f.syncing(t)
			f.resolve, f.cacheFile = true, cache
			if w.nodir {
				dirless := f.tweak
				f.tweak = func(j *job.Job) { dirless(j); j.Resolver.Directory = nil }
			}
			res, err := f.run(t, context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range res.Plan.Changes {
				if c.Action == diff.Delete {
					t.Errorf("users/2, whom %s names now, planned for removal: %+v", w.want, c)
				}
			}
			if len(res.Plan.Protected) != 1 || !strings.Contains(res.Plan.Protected[0].Why, "someone else") {
				t.Errorf("kept: %+v; want users/2, kept as an out-of-date identity", res.Plan.Protected)
			}
		})
	}
}

// A by-ID lookup answered 403 after a whole Directory pass answered: the
// Directory serves the caller, so the 403 says the member is outside the
// organisation, and the plan is complete (it was read as "the Directory
// refuses us" while only lookups, not pages, counted as answers).
func TestRefusedLookupAfterAPassIsAnOutsider(t *testing.T) {
	const n = 3000
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "500", Email: "ext@gmail.com", External: true}}}
	sp := emulator.SeedSpace{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "ext@gmail.com"}}}
	var csv strings.Builder
	csv.WriteString("space,member,role\nspaces/S,boss@example.com,owner\n")
	for i := range n {
		seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(1000 + i), Email: fmt.Sprintf("u%d@example.com", i)})
		sp.Members = append(sp.Members, emulator.SeedMember{User: fmt.Sprintf("u%d@example.com", i)})
		fmt.Fprintf(&csv, "spaces/S,u%d@example.com,\n", i)
	}
	seed.Spaces = []emulator.SeedSpace{sp}
	f := newFixture(t, seed, emulator.Options{HideEmails: true}, csv.String())
	f.syncing(t)
	f.resolve = true
	f.em.SetMisbehaviour("directory.users.get", emulator.Misbehaviour{Status: 403, Reason: "forbidden", Message: "Not Authorized to access this resource/api"})
	res, err := f.run(t, context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if f.em.Stats().Count("directory.users.list") == 0 {
		t.Fatal("no users.list page: the case meant a pass")
	}
	if !res.Plan.Complete() {
		t.Errorf("plan incomplete: %q", res.Plan.Incomplete)
	}
	deletes := 0
	for _, c := range res.Plan.Changes {
		if c.Action == diff.Delete {
			deletes++
		}
	}
	if deletes != 1 {
		t.Errorf("%d removals, want 1 (ext@gmail.com, whom no source names): %+v", deletes, res.Plan.Changes)
	}
}

// People outside the organisation wanted in spaces whose lists show
// emails. Where nothing is removed, an address the Directory doesn't name
// and the list doesn't show is taken as not a member (at worst its create
// is answered "already exists"): no read. In a sync space "not in the
// Directory" is not enough (an admin role scoped to some units neither
// lists nor gets the rest, and a prefix query never shows an alias-domain
// address), so the space is asked: a read per space and such address.
func TestOutsidersCostMemberReadsOnlyWhereRemovalsFollow(t *testing.T) {
	for _, sync := range []bool{false, true} {
		t.Run(fmt.Sprint("sync ", sync), func(t *testing.T) {
			seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}}}
			var csv strings.Builder
			csv.WriteString("space,member,role\n")
			for i := range 600 {
				seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(1000 + i), Email: fmt.Sprintf("u%d@example.com", i)})
			}
			for s := range 4 {
				seed.Spaces = append(seed.Spaces, emulator.SeedSpace{Name: fmt.Sprintf("spaces/S%d", s), Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}})
				fmt.Fprintf(&csv, "spaces/S%d,boss@example.com,owner\n", s)
				for i := range 150 {
					fmt.Fprintf(&csv, "spaces/S%d,u%d@example.com,\n", s, s*150+i)
				}
				for i := range 3 {
					fmt.Fprintf(&csv, "spaces/S%d,guest%d@gmail.com,\n", s, i)
				}
			}
			f := newFixture(t, seed, emulator.Options{}, csv.String())
			if sync {
				f.syncing(t)
			}
			f.resolve = true
			res, err := f.run(t, context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			st := f.em.Stats()
			if st.Count("directory.users.list") == 0 {
				t.Fatal("no users.list page: the case meant a pass")
			}
			want := 0
			if sync {
				want = 4 * 3
			}
			if n := st.Count("members.get"); n != want {
				t.Errorf("%d members.get, want %d", n, want)
			}
			if res.Plan.Summary.Create != 4*153 {
				t.Errorf("%d creates, want %d", res.Plan.Summary.Create, 4*153)
			}
		})
	}
}
