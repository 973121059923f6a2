package job_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/identity"
	"github.com/syncer-dev/syncer/internal/job"
	"github.com/syncer-dev/syncer/internal/state"
)

// What the removal-safety tests (unsure, stale_cache, scoped,
// review_scenarios) share.

// syncing makes a fixture's spaces policy sync, with every rail open (the
// first run's consent given) and its state in a folder beside the config.
func (f *fixture) syncing(t testing.TB) {
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
	f.tweak = func(j *job.Job) { j.State = &state.Dir{Path: filepath.Join(dir, "st")}; j.AllowRemovals = 1000 }
}

// fillCache plans once against seed, which leaves the identity cache in
// the file cache knowing that world: the first run of a two-run test.
// tweak (may be nil) adjusts the job, as a fixture's does.
func fillCache(t testing.TB, cache string, seed *emulator.Seed, opts emulator.Options, csv string, tweak func(*job.Job)) {
	t.Helper()
	f := newFixture(t, seed, opts, csv)
	f.resolve, f.cacheFile, f.tweak = true, cache, tweak
	if _, err := f.run(t, context.Background(), false); err != nil {
		t.Fatal(err)
	}
}

// logPlan logs a run's plan, for a failing test's reader.
func logPlan(t testing.TB, label string, res job.Result) {
	t.Helper()
	for _, c := range res.Plan.Changes {
		t.Logf("%s change: %s %s %s id=%s by=%s reason=%s", label, c.Action, c.Space, c.Member, c.ID, c.ResolvedBy, c.Reason)
	}
	for _, k := range res.Plan.Protected {
		t.Logf("%s kept: %s %s: %s", label, k.Space, k.Member, k.Why)
	}
	for _, k := range res.Plan.Pending {
		t.Logf("%s pending: %s %s: %s", label, k.Space, k.Member, k.Why)
	}
	t.Logf("%s incomplete=%q blocked=%q", label, res.Plan.Incomplete, res.Plan.Blocked)
}

func countDeletes(res job.Result) (n int) {
	for _, c := range res.Plan.Changes {
		if c.Action == diff.Delete {
			n++
		}
	}
	return n
}

// deletedID reports whether the plan removes the member matched to id.
func deletedID(res job.Result, id string) bool {
	return slices.ContainsFunc(res.Plan.Changes, func(c diff.Change) bool { return c.Action == diff.Delete && string(c.ID) == id })
}

// keptWhy is why the plan keeps member, or "".
func keptWhy(res job.Result, member string) string {
	for _, k := range res.Plan.Protected {
		if k.Member == member {
			return k.Why
		}
	}
	return ""
}

// scoped is the Directory as an admin role scoped to some OUs sees it: the
// hidden users are not in users.list, and users.get answers them 403
// (Google's "Not Authorized to access this resource/api"), as it answers an
// address in a domain the customer doesn't own.
type scoped struct {
	identity.Directory
	hidden []string // ids and addresses
}

func (d scoped) User(ctx context.Context, key string) (chatapi.DirectoryUser, error) {
	if slices.Contains(d.hidden, strings.ToLower(key)) {
		return d.Directory.User(ctx, "nobody@not-ours.test") // the emulator's 403 for a foreign domain
	}
	return d.Directory.User(ctx, key)
}

func (d scoped) UsersPage(ctx context.Context, query, token string) ([]chatapi.DirectoryUser, string, error) {
	page, next, err := d.Directory.UsersPage(ctx, query, token)
	out := page[:0]
	for _, u := range page {
		if !slices.Contains(d.hidden, u.ID) {
			out = append(out, u)
		}
	}
	return out, next, err
}
