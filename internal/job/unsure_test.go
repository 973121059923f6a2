package job_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/job"
	"github.com/syncer-dev/syncer/internal/state"
)

// syncing makes a fixture's spaces policy sync, with every rail open and
// its state in a folder beside the config.
func (f *fixture) syncing(t *testing.T) {
	t.Helper()
	dir := filepath.Dir(f.cfg.Path)
	cfg, err := config.Parse(f.cfg.Path, []byte(fmt.Sprintf(
		"sources: [{path: members.csv}]\napi: {endpoint: %q}\npolicy: sync\n"+
			"safety: {max_removals: unlimited, max_source_shrink_percent: 100, max_removal_percent: 100}\n"+
			"state: {location: st}\nlimits: {concurrency: 8, max_attempts: 3}\n", f.url)))
	if err != nil {
		t.Fatal(err)
	}
	f.cfg = cfg
	if err := os.MkdirAll(filepath.Join(dir, "st"), 0o700); err != nil {
		t.Fatal(err)
	}
	f.tweak = func(j *job.Job) { j.State = &state.Dir{Path: filepath.Join(dir, "st")} }
}

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

// The identity cache says carol@ is users/99 (an old account); the space
// lists users/7 (carol now) without an email. Only a users.get by ID can
// say users/7 is carol@, whom the sources want: when it fails, users/7 is
// kept, and the plan says it could not see who they are.
func TestRemovalKeptWhenItsDirectoryLookupFails(t *testing.T) {
	for _, broken := range []bool{false, true} {
		t.Run(fmt.Sprint("users.get broken ", broken), func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "identity-cache.json")
			csv := "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,carol@example.com,\n"
			seed1 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "99", Email: "carol@example.com"}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}}}
			f1 := newFixture(t, seed1, emulator.Options{HideEmails: true}, csv)
			f1.resolve, f1.cacheFile = true, cache
			if _, err := f1.run(t, context.Background(), false); err != nil {
				t.Fatal(err)
			}
			seed2 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "7", Email: "carol@example.com"}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "carol@example.com"}}}}}
			f := newFixture(t, seed2, emulator.Options{HideEmails: true}, csv)
			f.syncing(t)
			f.resolve, f.cacheFile = true, cache
			if broken {
				f.em.SetMisbehaviour("directory.users.get", emulator.Misbehaviour{Status: 503})
			}
			res, err := f.run(t, context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range res.Plan.Changes {
				if c.Action == diff.Delete {
					t.Errorf("carol (users/7) planned for removal: %+v", c)
				}
			}
			var why string
			for _, k := range res.Plan.Protected {
				if strings.Contains(k.Member, "users/7") || strings.Contains(k.Member, "carol") {
					why = k.Why
				}
			}
			if why == "" {
				t.Fatalf("users/7 is not among the kept: %+v", res.Plan.Protected)
			}
			if broken != !res.Plan.Complete() {
				t.Errorf("plan complete=%v with users.get broken=%v; incomplete: %q", res.Plan.Complete(), broken, res.Plan.Incomplete)
			}
			if broken && !strings.Contains(why, "can't tell who") {
				t.Errorf("kept because %q, want it to say who could not be told", why)
			}
		})
	}
}
