package job_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/job"
	"github.com/syncer-dev/syncer/internal/membership"
)

// threeUsers is boss (owner of spaces/S), ann and bob; spaces/S holds
// boss, ann and, with bobIn, bob.
func threeUsers(bobIn bool) *emulator.Seed {
	s := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}, {ID: "3", Email: "bob@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "ann@example.com"}}}},
	}
	if bobIn {
		s.Spaces[0].Members = append(s.Spaces[0].Members, emulator.SeedMember{User: "bob@example.com"})
	}
	return s
}

// writtenWhileListed is a list of spaces/S during which the source at path
// is written with data (renamed into place, with rename): an export's
// writer finishing while the run reads the spaces.
func writtenWhileListed(t *testing.T, r job.Reader, path, data string, rename bool) job.Reader {
	return &bentList{Reader: r, bend: func(r job.Reader, ctx context.Context, token string) ([]membership.Membership, string, error) {
		to := path
		if rename {
			to = path + ".new"
		}
		if err := os.WriteFile(to, []byte(data), 0o644); err != nil {
			t.Error(err)
		}
		if rename {
			if err := os.Rename(to, path); err != nil {
				t.Error(err)
			}
		}
		return r.ListPage(ctx, "spaces/S", token)
	}}
}

// An export read while it was still being written: its last row cut to
// bob@example.co, a removal of bob@example.com and an outsider's create
// planned from it. The writer finishes while the spaces are read; the
// run that waits for its whole plan sees the file changed and writes
// nothing, and the next run, reading the whole file, keeps bob.
func TestASourceWrittenWhileReadStopsTheWrites(t *testing.T) {
	seed := threeUsers(true)
	const whole = "space,role,member\nspaces/S,owner,boss@example.com\nspaces/S,member,ann@example.com\nspaces/S,member,bob@example.com\n"
	half := whole[:len(whole)-len("m\n")] // spaces/S,member,bob@example.co
	f := newFixture(t, seed, emulator.Options{}, half)
	f.syncing(t)
	csv := filepath.Join(filepath.Dir(f.cfg.Path), "members.csv")
	sync := f.tweak
	f.tweak = func(j *job.Job) {
		sync(j)
		j.Reader = writtenWhileListed(t, j.Reader, csv, whole, false) // the export's writer finishes
	}
	res, err := f.run(t, context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if st := f.em.Stats(); st.Count("members.delete") != 0 || st.Count("members.create") != 0 {
		t.Errorf("%d deletes, %d creates sent from a source half-written when read; want none", st.Count("members.delete"), st.Count("members.create"))
	}
	if !res.Blocked() || !strings.Contains(strings.Join(res.Plan.Blocked, "\n"), "members.csv was written at") {
		t.Errorf("blocked %q; want the run stopped, members.csv named as changed since read", res.Plan.Blocked)
	}

	// The next run reads the whole file: nothing to do.
	f.tweak = sync
	res, err = f.run(t, context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Plan.Changes) != 0 || res.Blocked() {
		t.Errorf("the next run: changes %+v, blocked %q; want none", res.Plan.Changes, res.Plan.Blocked)
	}
}

// The same under policy upsert, whose writes start as each space is
// planned: the space planned after the file changed is not written (the
// cut address would invite an outsider), and the run says why.
func TestASourceWrittenWhileReadStopsStreamedWrites(t *testing.T) {
	seed := threeUsers(false)
	const whole = "space,role,member\nspaces/S,owner,boss@example.com\nspaces/S,member,ann@example.com\nspaces/S,member,bob@example.com\n"
	f := newFixture(t, seed, emulator.Options{}, whole[:len(whole)-len("m\n")])
	csv := filepath.Join(filepath.Dir(f.cfg.Path), "members.csv")
	f.tweak = func(j *job.Job) {
		j.SourceStamps = nil                                          // stamped by the run itself, from the config
		j.Reader = writtenWhileListed(t, j.Reader, csv, whole, false) // the export's writer finishes
	}
	res, err := f.run(t, context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if n := f.em.Stats().Count("members.create"); n != 0 {
		t.Errorf("%d creates sent from a source half-written when read; want none", n)
	}
	if !res.Failed() || !strings.Contains(strings.Join(res.Plan.Incomplete, "\n"), "members.csv was written at") {
		t.Errorf("incomplete %q; want the run failed, members.csv named as changed since read", res.Plan.Incomplete)
	}
	for _, c := range res.Plan.Changes {
		if c.Status != "skipped" {
			t.Errorf("%s %s: %s, want skipped", c.Action, c.Member, c.Status)
		}
	}
}

// The export written again while the run reads the spaces, with the same
// bytes and renamed into place (as README advises): nothing changed, and
// the run writes.
func TestASourceRenamedIntoPlaceWithTheSameBytesIsNoChange(t *testing.T) {
	seed := threeUsers(true)
	const csv = "space,role,member\nspaces/S,owner,boss@example.com\nspaces/S,member,ann@example.com\n"
	f := newFixture(t, seed, emulator.Options{}, csv)
	f.syncing(t)
	path := filepath.Join(filepath.Dir(f.cfg.Path), "members.csv")
	sync := f.tweak
	f.tweak = func(j *job.Job) {
		sync(j)
		j.Reader = writtenWhileListed(t, j.Reader, path, csv, true)
	}
	res, err := f.run(t, context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Blocked() || f.em.Stats().Count("members.delete") != 1 {
		t.Errorf("blocked %q, %d deletes; want bob removed, the same bytes no change", res.Plan.Blocked, f.em.Stats().Count("members.delete"))
	}
}

// A plan saved for apply --plan (which reads no source) from a source
// written while it was read is blocked, not applicable, as a gated apply
// would be: its creates from a cut address would otherwise go out.
func TestAPlanSavedFromASourceWrittenWhileReadIsBlocked(t *testing.T) {
	seed := threeUsers(false)
	const whole = "space,role,member\nspaces/S,owner,boss@example.com\nspaces/S,member,ann@example.com\nspaces/S,member,bob@example.com\n"
	f := newFixture(t, seed, emulator.Options{}, whole[:len(whole)-len("m\n")])
	csv := filepath.Join(filepath.Dir(f.cfg.Path), "members.csv")
	f.tweak = func(j *job.Job) {
		j.SavesPlan = true
		j.Reader = writtenWhileListed(t, j.Reader, csv, whole, false) // the export's writer finishes
	}
	res, err := f.run(t, context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Blocked() || !strings.Contains(strings.Join(res.Plan.Blocked, "\n"), "members.csv was written at") {
		t.Errorf("blocked %q; want the plan blocked, members.csv named as changed since read", res.Plan.Blocked)
	}
}
