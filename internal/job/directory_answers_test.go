package job_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/identity"
	"github.com/syncer-dev/syncer/internal/job"
)

// askedOther answers users.get for one key as the Directory answers
// another (key "" in as: the asked user, without an address).
type askedOther struct {
	identity.Directory
	key, as string
}

func (d askedOther) User(ctx context.Context, key string) (chatapi.DirectoryUser, error) {
	if key != d.key {
		return d.Directory.User(ctx, key)
	}
	if d.as != "" {
		return d.Directory.User(ctx, d.as)
	}
	u, err := d.Directory.User(ctx, key)
	u.PrimaryEmail, u.Aliases = "", nil
	return u, err
}

// A member listed without an email is looked up by ID before removal, and
// protect matches the addresses the Directory gives. An answer that names
// no address, or another user than the one asked about, tells nothing of
// who the member is: a protected partner must not be removed on it.
func TestADirectoryAnswerNotAboutTheMemberRemovesNobody(t *testing.T) {
	for _, as := range []string{"", "888"} {
		t.Run("as "+as, func(t *testing.T) {
			csv := "space,member,role\nspaces/R,boss@example.com,owner\n"
			seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "777", Email: "pat@partner.example.com"}, {ID: "888", Email: "olaf@example.com"}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "users/777"}}}}}
			f := newFixture(t, seed, emulator.Options{HideEmails: true}, csv)
			f.syncing(t)
			f.cfg.Protect = []string{"*@partner.example.com"}
			f.resolve = true
			tw := f.tweak
			f.tweak = func(j *job.Job) {
				tw(j)
				j.Resolver.Directory = askedOther{Directory: j.Resolver.Directory, key: "777", as: as}
			}
			res, err := f.run(t, context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			logPlan(t, "run", res)
			if deletedID(res, "users/777") {
				t.Fatalf("pat (users/777, protected by *@partner.example.com) planned for removal on a Directory answer about someone else")
			}
			if why := keptWhy(res, "users/777"); !strings.Contains(why, "can't tell who this is") {
				t.Errorf("pat kept for %q; want: can't tell who this is", why)
			}
		})
	}
}

// A users.get by address answered with a user who has no such address
// (neither primary nor alias) names nobody: the address is not taken as
// that user's, who is a member already, so the person the source names
// is added (by address) rather than never.
func TestADirectoryAnswerForAnotherAddressIsNotTheAddresssUser(t *testing.T) {
	for _, hide := range []bool{false, true} {
		t.Run(map[bool]string{false: "emails listed", true: "emails hidden"}[hide], func(t *testing.T) {
			csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,alice@example.com,\n"
			seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "alice@example.com"}, {ID: "3", Email: "bob@example.com"}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "bob@example.com"}}}}}
			f := newFixture(t, seed, emulator.Options{HideEmails: hide}, csv)
			f.resolve = true
			f.tweak = func(j *job.Job) {
				j.Resolver.Directory = askedOther{Directory: j.Resolver.Directory, key: "alice@example.com", as: "bob@example.com"}
			}
			res, err := f.run(t, context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			logPlan(t, "run", res)
			if !slices.ContainsFunc(res.Plan.Changes, func(c diff.Change) bool { return c.Action == diff.Create && c.Member == "alice@example.com" }) {
				t.Errorf("alice@example.com is not added: the Directory's answer about bob was taken as hers")
			}
		})
	}
}
