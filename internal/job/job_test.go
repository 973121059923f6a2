package job_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/state"

	"github.com/syncer-dev/syncer/internal/apply"
	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
	"github.com/syncer-dev/syncer/internal/identity"
	"github.com/syncer-dev/syncer/internal/job"
	"github.com/syncer-dev/syncer/internal/throttle"
)

type fixture struct {
	em  *emulator.Server
	url string
	cfg *config.Config
	// resolve adds identity resolution (Directory on the emulator, cache file when set).
	resolve   bool
	cacheFile string
	admin     bool // use_admin_access
	logs      *strings.Builder
	tweak     func(*job.Job) // last changes to the job before it runs
}

// runAs plans once with tweak applied to the job.
func (f *fixture) runAs(t testing.TB, ctx context.Context, tweak func(*job.Job)) (job.Result, error) {
	f.tweak = tweak
	defer func() { f.tweak = nil }()
	return f.run(t, ctx, false)
}

// newFixture writes a CSV source and a config pointing at a fresh emulator.
func newFixture(t testing.TB, seed *emulator.Seed, opts emulator.Options, csv string) *fixture {
	t.Helper()
	em, url := emulatortest.Start(t, seed, opts)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "members.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgText := fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q}\nlimits: {concurrency: 8, max_attempts: 12}\n", url)
	cfg, err := config.Parse(filepath.Join(dir, "config.yaml"), []byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{em: em, url: url, cfg: cfg}
}

// run runs the job once, with quotas out of the way and fast retries;
// write false only plans.
func (f *fixture) run(t testing.TB, ctx context.Context, write bool) (job.Result, error) {
	t.Helper()
	return f.runWith(t, ctx, write, throttle.New(throttle.Limits{ProjectWritesPerMinute: 1e6, ProjectReadsPerMinute: 1e6, SpaceReadsPerSecond: 1e4,
		MaxAttempts: f.cfg.Limits.MaxAttempts, BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond}))
}

func (f *fixture) runWith(t testing.TB, ctx context.Context, write bool, th *throttle.Throttle) (job.Result, error) {
	t.Helper()
	api := emulatortest.Client(t, f.url)
	if f.admin {
		var err error
		if api, err = chatapi.New(context.Background(), chatapi.Options{Endpoint: f.url, UseAdminAccess: true, ShowInvited: true, ShowGroups: true}); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	if f.logs != nil {
		log = slog.New(slog.NewTextHandler(f.logs, nil))
	}
	j := &job.Job{Config: f.cfg, Reader: api, Throttle: th, Logger: log, Output: "json", Stdout: io.Discard, AdminAccess: f.admin}
	if f.resolve {
		dir, err := chatapi.NewDirectory(context.Background(), f.url, chatapi.Options{})
		if err != nil {
			t.Fatal(err)
		}
		j.Resolver = &identity.Resolver{Directory: dir, DirectoryThrottle: th, Members: api, Throttle: th, Logger: log, VerifyAbsence: f.admin}
		if f.cacheFile != "" {
			j.Resolver.Cache = identity.OpenCache(context.Background(), &state.Dir{Path: filepath.Dir(f.cacheFile)}, filepath.Base(f.cacheFile), time.Hour, time.Now, func(msg string) { log.Warn(msg) })
		}
	}
	if write {
		j.Engine = &apply.Engine{API: api, Throttle: th, Concurrency: f.cfg.Limits.Concurrency, Logger: log}
	}
	if f.tweak != nil {
		f.tweak(j)
	}
	return j.Run(ctx)
}

func no() *bool { b := false; return &b }

// world is a seed with n users u0..u{n-1} and spaces S0..S{spaces-1}, each owned by boss.
func world(n, spaces int) *emulator.Seed {
	s := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}}, Groups: []emulator.SeedGroup{{ID: "eng"}}}
	for i := 0; i < n; i++ {
		s.Users = append(s.Users, emulator.SeedUser{ID: fmt.Sprint(1000 + i), Email: fmt.Sprintf("u%d@example.com", i)})
	}
	for i := 0; i < spaces; i++ {
		s.Spaces = append(s.Spaces, emulator.SeedSpace{Name: fmt.Sprintf("spaces/S%d", i), Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}})
	}
	return s
}

// desiredCSV puts every user in every space; every 7th is a manager, every 11th an owner.
func desiredCSV(n, spaces int) string {
	var b strings.Builder
	b.WriteString("space,member,role\n")
	for s := 0; s < spaces; s++ {
		for i := 0; i < n; i++ {
			role := ""
			switch {
			case i%11 == 0:
				role = "owner"
			case i%7 == 0:
				role = "manager"
			}
			fmt.Fprintf(&b, "spaces/S%d,u%d@example.com,%s\n", s, i, role)
		}
	}
	return b.String()
}

// checkConverged asserts a plan run finds nothing to do and every create was accepted once.
func checkConverged(t *testing.T, f *fixture) {
	t.Helper()
	res, err := f.run(t, context.Background(), false)
	if err != nil || res.Failed() {
		t.Fatalf("plan after apply: %v %+v", err, res.SpaceErrors)
	}
	if !res.Plan.Empty() {
		t.Errorf("not converged, still planned: %+v", res.Plan.Changes)
	}
	for k, n := range f.em.Stats().Creates {
		if n != 1 {
			t.Errorf("%s was created %d times", k, n)
		}
	}
}

func TestApplyConvergesAndRerunWritesNothing(t *testing.T) {
	f := newFixture(t, world(30, 3), emulator.Options{}, desiredCSV(30, 3)+"spaces/S0,groups/eng,\n")
	res, err := f.run(t, context.Background(), true)
	if err != nil || res.Failed() {
		t.Fatalf("apply: %v, failed=%d %v", err, res.Plan.Summary.Failed, res.Plan.Changes)
	}
	s := res.Plan.Summary
	if s.Create != 91 || s.UpdateRole != 3*(3+4) || s.Applied != s.Create+s.UpdateRole {
		t.Errorf("summary %+v", s)
	}
	writes := f.em.Stats().Writes
	checkConverged(t, f)
	res, err = f.run(t, context.Background(), true)
	if err != nil || !res.Plan.Empty() || f.em.Stats().Writes != writes {
		t.Errorf("second apply: %v, %d changes, writes %d -> %d", err, len(res.Plan.Changes), writes, f.em.Stats().Writes)
	}
	if got := f.em.Snapshot()["spaces/S1"]; len(got) != 31 {
		t.Errorf("spaces/S1 has %d members, want 31", len(got))
	}
}

func TestApplyConvergesUnderFaults(t *testing.T) {
	f := newFixture(t, world(60, 4), emulator.Options{FaultRate: 0.1, Seed: 7}, desiredCSV(60, 4))
	res, err := f.run(t, context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() {
		var failed []string
		for _, c := range res.Plan.Changes {
			if c.Status == diff.Failed {
				failed = append(failed, c.Member+": "+c.Error)
			}
		}
		t.Fatalf("with 12 attempts nothing should fail: %v %v", res.SpaceErrors, failed)
	}
	st := f.em.Stats()
	for _, kind := range emulator.AllFaults {
		if st.Faults[string(kind)] == 0 {
			t.Errorf("no %s fault was injected; the test proves less than it says (%v)", kind, st.Faults)
		}
	}
	if res.Plan.Summary.AlreadyDone == 0 {
		t.Errorf("no create ended already_done, though %d answers were lost after the write", st.Faults["applied-then-500"])
	}
	checkConverged(t, f)
}

func TestRefusedChangesFailAloneWithTheAPIMessage(t *testing.T) {
	seed := world(3, 1)
	seed.Spaces = append(seed.Spaces, emulator.SeedSpace{Name: "spaces/CHAT", Type: "GROUP_CHAT", Members: []emulator.SeedMember{{User: "boss@example.com"}}})
	csv := "space,member,role\nspaces/S0,u0@example.com,\nspaces/S0,nobody@example.com,\nspaces/S0,u1@example.com,manager\nspaces/CHAT,u2@example.com,owner\n"
	f := newFixture(t, seed, emulator.Options{}, csv)
	res, err := f.run(t, context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range res.Plan.Changes {
		got[c.Space+" "+string(c.Action)+" "+c.Member] = string(c.Status) + " " + c.Error
	}
	want := map[string]string{
		"spaces/S0 create u0@example.com":        "applied",
		"spaces/S0 create nobody@example.com":    "failed 404 NOT_FOUND: User users/nobody@example.com not found.",
		"spaces/S0 create u1@example.com":        "applied",
		"spaces/S0 update_role u1@example.com":   "applied",
		"spaces/CHAT create u2@example.com":      "applied",
		"spaces/CHAT update_role u2@example.com": "failed 400 INVALID_ARGUMENT: Only ROLE_MEMBER exists in a GROUP_CHAT.",
	}
	for k := range got {
		got[k] = strings.TrimSpace(got[k])
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("outcomes\n got %v\nwant %v", got, want)
	}
	if !res.Failed() {
		t.Error("a run with failed changes must report failure")
	}
}

func TestMalformedSourceMakesNoRequest(t *testing.T) {
	f := newFixture(t, world(1, 1), emulator.Options{}, "space,member,role\nspaces/S0,u0@example.com,boss\n")
	_, err := f.run(t, context.Background(), true)
	var inputErr *job.InputError
	if !errors.As(err, &inputErr) || !strings.Contains(err.Error(), `members.csv:2:26: unknown role "boss"`) {
		t.Fatalf("err = %v", err)
	}
	if n := f.em.Stats().Total(); n != 0 {
		t.Errorf("the emulator received %d requests", n)
	}
}

func TestInterruptedApplyStopsAndRerunConverges(t *testing.T) {
	f := newFixture(t, world(200, 2), emulator.Options{LatencyMin: 5 * time.Millisecond, LatencyMax: 10 * time.Millisecond}, desiredCSV(200, 2))
	f.cfg.Limits.Concurrency = 2
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	res, err := f.run(t, ctx, true)
	if err != nil || !res.Interrupted {
		t.Fatalf("interrupted run: %v, interrupted=%v", err, res.Interrupted)
	}
	s := res.Plan.Summary
	if s.Skipped == 0 || s.Applied == 0 || s.Applied+s.Skipped+s.Failed+s.AlreadyDone != len(res.Plan.Changes) {
		t.Errorf("every change needs an outcome, some applied and some skipped: %+v", s)
	}
	res, err = f.run(t, context.Background(), true)
	if err != nil || res.Failed() || res.Plan.Summary.Create+res.Plan.Summary.UpdateRole != s.Skipped {
		t.Errorf("rerun planned %d changes, want the %d skipped: %v", len(res.Plan.Changes), s.Skipped, err)
	}
	checkConverged(t, f)
}

func TestInvitedMembersRoles(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("api refuses=%v", refuse), func(t *testing.T) {
			seed := world(1, 1)
			seed.Users[1].AutoAccept = no()
			f := newFixture(t, seed, emulator.Options{RefuseInvitedRoleChanges: refuse}, "space,member,role\nspaces/S0,u0@example.com,manager\n")
			res, err := f.run(t, context.Background(), true)
			if err != nil || res.Failed() {
				t.Fatalf("%v %+v", err, res.Plan.Changes)
			}
			wantStatus := map[bool]diff.Status{false: diff.Applied, true: diff.Skipped}[refuse]
			if c := res.Plan.Changes[1]; c.Action != diff.UpdateRole || c.Status != wantStatus || !c.Invited {
				t.Errorf("role change on a pending invitation: %+v, want %s", c, wantStatus)
			}
			if st := f.em.Snapshot()["spaces/S0"]; st[1].State != "INVITED" {
				t.Errorf("state %+v", st)
			}
		})
	}
}

func TestOneListCallPerThousandMembers(t *testing.T) {
	f := newFixture(t, world(2500, 2), emulator.Options{}, desiredCSV(2500, 1))
	if _, err := f.run(t, context.Background(), false); err != nil {
		t.Fatal(err)
	}
	st := f.em.Stats()
	// spaces/S0 holds 1 member and is listed once; the desired state names only S0.
	if st.Count("members.list") != 1 || st.Count("spaces.get") != 0 || st.Count("members.get") != 0 {
		t.Errorf("requests %v", st.Requests)
	}
	if _, err := f.run(t, context.Background(), true); err != nil {
		t.Fatal(err)
	}
	before := f.em.Stats()
	if _, err := f.run(t, context.Background(), false); err != nil {
		t.Fatal(err)
	}
	after := f.em.Stats()
	// 2,501 members: 3 pages of 1,000; no per-member reads.
	if n := after.Count("members.list") - before.Count("members.list"); n != 3 || after.Count("members.get") != before.Count("members.get") {
		t.Errorf("%d list calls for 2,501 members, want 3; requests %v", n, after.Requests)
	}
}

func TestSpacesGetRefusedStillPlans(t *testing.T) {
	// A group chat (no owner listed, so the list can't tell the type) where
	// a source wants a manager: the plan asks spaces.get, which is refused.
	seed := world(2, 1)
	seed.Spaces[0].Type, seed.Spaces[0].Members[0].Role = "GROUP_CHAT", "member"
	f := newFixture(t, seed, emulator.Options{RefuseSpacesGet: true}, "space,member,role\nspaces/S0,u0@example.com,\nspaces/S0,u1@example.com,manager\n")
	res, err := f.run(t, context.Background(), true)
	if err != nil || res.Plan.Summary.Applied != 2 || res.Plan.Summary.Failed != 1 {
		t.Fatalf("%v; %+v", err, res.Plan.Summary)
	}
	if w := strings.Join(res.Plan.Warnings, "\n"); !strings.Contains(w, "spaces/S0: the space's type is unknown (spaces.get: 403 PERMISSION_DENIED") {
		t.Errorf("warnings %q", res.Plan.Warnings)
	}
	if n := f.em.Stats().Count("spaces.get"); n != 1 {
		t.Errorf("%d spaces.get", n)
	}
}
