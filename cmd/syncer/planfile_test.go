package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/membership"
)

// reviewed is a world for reviewed plans: spaces/S with its owner, five
// people to add (u0..u4), and u5, whom nobody plans for.
func reviewed(t *testing.T) (*emulator.Server, string, string) {
	t.Helper()
	em, cfg := setup(t, 6, emulator.Options{}, "max_attempts: 2")
	csv := "space,member,role\n"
	for _, u := range []string{"u0", "u1", "u2", "u3", "u4"} {
		csv += "spaces/S," + u + "@example.com,\n"
	}
	os.WriteFile(filepath.Join(filepath.Dir(cfg), "members.csv"), []byte(csv), 0o644)
	return em, cfg, filepath.Join(filepath.Dir(cfg), "plan.json")
}

// handAdd adds someone to a space as an admin would in the Chat UI.
func handAdd(t *testing.T, em *emulator.Server, cfg, space, who string) {
	t.Helper()
	c, err := chatapi.New(context.Background(), chatapi.Options{Endpoint: endpointOf(t, cfg)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(context.Background(), space, membership.User(who)); err != nil {
		t.Fatal(err)
	}
}

func endpointOf(t *testing.T, cfg string) string {
	data, _ := os.ReadFile(cfg)
	for _, line := range strings.Split(string(data), "\n") {
		if _, rest, ok := strings.Cut(line, `endpoint: "`); ok {
			return strings.SplitN(rest, `"`, 2)[0]
		}
	}
	t.Fatal("no endpoint in the config")
	return ""
}

func TestReviewedPlanAppliesExactlyOnce(t *testing.T) {
	em, cfg, plan := reviewed(t)
	code, md, errOut := runCLI(t, "plan", "--config", cfg, "--output", "markdown", "--out", plan)
	if code != exitOK || !strings.Contains(md, "Plan: 5 to add") {
		t.Fatalf("plan --out: exit %d\n%s%s", code, md, logText(errOut))
	}
	if st, err := os.Stat(plan); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("plan file: %v %v", err, st)
	}
	// The HR export moves on after the review: the plan, not the sources, is applied.
	os.WriteFile(filepath.Join(filepath.Dir(cfg), "members.csv"), []byte("space,member,role\nspaces/S,u0@example.com,owner\n"), 0o644)
	before := em.Stats()
	code, r, errOut := applyJSON(t, "--config", cfg, "--plan", plan)
	if code != exitOK || r.Summary["applied"] != 5 || r.Summary["create"] != 5 || r.Summary["update_role"] != 0 {
		t.Fatalf("apply --plan: exit %d %v\n%s", code, r.Summary, logText(errOut))
	}
	st := em.Stats()
	if st.Writes != 5 || st.Count("members.create") != 5 || st.Count("members.list") != before.Count("members.list")+1 {
		t.Errorf("apply --plan made %d writes (want the 5 planned) and %d lists (want the 1 space touched): %v", st.Writes, st.Count("members.list")-before.Count("members.list"), st.Requests)
	}
	if st.Count("directory.users.get")+st.Count("directory.users.list") != before.Count("directory.users.get")+before.Count("directory.users.list") {
		t.Errorf("apply --plan asked the Directory: %v", st.Requests)
	}
	// The same file again: a retried pipeline step is safe.
	code, out, errOut := runCLI(t, "apply", "--config", cfg, "--plan", plan)
	if code != exitOK || !strings.Contains(out, "This plan was already applied") || em.Stats().Writes != 5 {
		t.Errorf("second apply: exit %d, %d writes\n%s%s", code, em.Stats().Writes, out, logText(errOut))
	}
}

func TestReviewedPlanRefusesAMovedSpace(t *testing.T) {
	em, cfg, plan := reviewed(t)
	if code, out, errOut := runCLI(t, "plan", "--config", cfg, "--out", plan); code != exitOK {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errOut)
	}
	handAdd(t, em, cfg, "spaces/S", "u3@example.com") // someone added one of the five by hand...
	writes := em.Stats().Writes
	code, out, errOut := runCLI(t, "apply", "--config", cfg, "--plan", plan)
	// ...which looks like part of the plan applied: not moved. Then
	// someone nobody planned for.
	if code != exitOK || em.Stats().Writes != writes+4 {
		t.Fatalf("a planned member added by hand counts as done: exit %d, %d writes\n%s%s", code, em.Stats().Writes-writes, out, logText(errOut))
	}

	em2, cfg2, plan2 := reviewed(t)
	if code, _, _ := runCLI(t, "plan", "--config", cfg2, "--out", plan2); code != exitOK {
		t.Fatal("plan")
	}
	handAdd(t, em2, cfg2, "spaces/S", "u5@example.com")
	writes = em2.Stats().Writes
	code, out, errOut = runCLI(t, "apply", "--config", cfg2, "--plan", plan2)
	if code != exitBlocked || em2.Stats().Writes != writes {
		t.Errorf("moved space: exit %d, %d writes\n%s", code, em2.Stats().Writes-writes, out)
	}
	if want := "spaces/S changed since the plan was made: 1 member added (u5@example.com)"; !strings.Contains(out, want) || !strings.Contains(logText(errOut), want) {
		t.Errorf("the report and the log don't say %q:\n%s\n%s", want, out, logText(errOut))
	}
}

func TestReviewedPlanPartlyAppliedFinishes(t *testing.T) {
	em, cfg := setup(t, 3, emulator.Options{}, "max_attempts: 2")
	// Three to add as managers: create then patch each.
	os.WriteFile(filepath.Join(filepath.Dir(cfg), "members.csv"), []byte("space,member,role\nspaces/S,u0@example.com,manager\nspaces/S,u1@example.com,manager\nspaces/S,u2@example.com,manager\n"), 0o644)
	plan := filepath.Join(filepath.Dir(cfg), "plan.json")
	if code, out, errOut := runCLI(t, "plan", "--config", cfg, "--out", plan); code != exitOK || !strings.Contains(out, "3 to add, 3 to change") {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errOut)
	}
	em.SetMisbehaviour("members.patch", emulator.Misbehaviour{Status: 503})
	code, r, _ := applyJSON(t, "--config", cfg, "--plan", plan)
	if code != exitFailure || r.Summary["applied"] != 3 || r.Summary["failed"] != 3 {
		t.Fatalf("first apply: exit %d %v", code, r.Summary)
	}
	em.SetMisbehaviour("members.patch", emulator.Misbehaviour{})
	creates := em.Stats().Count("members.create")
	code, r, errOut := applyJSON(t, "--config", cfg, "--plan", plan)
	if code != exitOK || r.Summary["already_done"] != 3 || r.Summary["applied"] != 3 {
		t.Fatalf("rerun: exit %d %v\n%s", code, r.Summary, logText(errOut))
	}
	if em.Stats().Count("members.create") != creates {
		t.Errorf("the rerun created again")
	}
	for _, m := range em.Snapshot()["spaces/S"] {
		if strings.HasPrefix(m.Email, "u") && m.Role != string(membership.RoleManager) {
			t.Errorf("%s is %s", m.Email, m.Role)
		}
	}
}

func TestReviewedPlanRefusals(t *testing.T) {
	em, cfg, plan := reviewed(t)
	if code, _, _ := runCLI(t, "plan", "--config", cfg, "--out", plan); code != exitOK {
		t.Fatal("plan")
	}
	good, _ := os.ReadFile(plan)
	dir := filepath.Dir(cfg)
	cases := []struct {
		name string
		file func() string // the plan file to apply
		args []string
		code int
		want string
	}{
		{"edited", func() string {
			p := filepath.Join(dir, "edited.json")
			os.WriteFile(p, []byte(strings.Replace(string(good), "u1@example.com", "u9@example.com", 1)), 0o600)
			return p
		}, nil, exitInvalid, "Editing a plan is not a review path"},
		{"a report, not a plan", func() string {
			p := filepath.Join(dir, "report.json")
			_, out, _ := runCLI(t, "plan", "--config", cfg, "--output", "json")
			os.WriteFile(p, []byte(out), 0o600)
			return p
		}, nil, exitInvalid, "not a syncer plan"},
		{"a future format", func() string {
			p := filepath.Join(dir, "future.json")
			os.WriteFile(p, []byte(strings.Replace(string(good), "syncer-plan/2", "syncer-plan/3", 1)), 0o600)
			return p
		}, nil, exitInvalid, "written by another syncer version"},
		{"another endpoint", func() string { return plan }, []string{"--endpoint", "http://127.0.0.1:1/"}, exitInvalid, "the plan is for endpoint"},
		{"too old", func() string {
			data, _ := os.ReadFile(cfg)
			os.WriteFile(filepath.Join(dir, "old.yaml"), append(data, []byte("plan: {max_age: 1ns}\n")...), 0o644)
			return plan
		}, []string{"--config", filepath.Join(dir, "old.yaml")}, exitBlocked, "more than plan.max_age (1ns)"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.file()
			total := em.Stats().Total()
			args := append([]string{"apply", "--config", cfg, "--plan", path}, tt.args...)
			code, out, errOut := runCLI(t, args...)
			if code != tt.code || !strings.Contains(out+errOut, tt.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s\n%s", code, tt.code, tt.want, out, logText(errOut))
			}
			if n := em.Stats().Total() - total; n != 0 {
				t.Errorf("%d API calls", n)
			}
		})
	}
	if em.Stats().Writes != 0 {
		t.Errorf("%d writes", em.Stats().Writes)
	}
}

func TestReviewedPlanCarriesTheRemovalsConsent(t *testing.T) {
	em, dir, write := offboarding(t, emulator.Options{})
	leave := map[string]bool{"t0-m1@example.com": true, "t1-m3@example.com": true, "t2-m4@example.com": true}
	cfg := write(leave, "")
	plan := filepath.Join(dir, "plan.json")

	// Without consent the plan is written, but as not applicable.
	if code, _, _ := runCLI(t, "plan", "--config", cfg, "--out", plan); code != exitBlocked {
		t.Fatalf("plan without --allow-removals: exit %d", code)
	}
	code, out, _ := runCLI(t, "apply", "--config", cfg, "--plan", plan)
	if code != exitBlocked || !strings.Contains(out, "a safety check blocked it") || em.Stats().Writes != 0 {
		t.Errorf("blocked plan: exit %d, %d writes\n%s", code, em.Stats().Writes, out)
	}

	// The review is the consent: plan --allow-removals 3, apply with no flag.
	if code, out, errOut := runCLI(t, "plan", "--config", cfg, "--out", plan, "--allow-removals", "3"); code != exitOK {
		t.Fatalf("plan --allow-removals 3: exit %d\n%s%s", code, out, logText(errOut))
	}
	var f struct {
		Settings struct {
			AllowRemovals *int `json:"allow_removals"`
		} `json:"settings"`
	}
	data, _ := os.ReadFile(plan)
	if json.Unmarshal(data, &f); f.Settings.AllowRemovals == nil || *f.Settings.AllowRemovals != 3 {
		t.Errorf("the consent is not recorded: %+v", f.Settings)
	}
	code, r, errOut := applyJSON(t, "--config", cfg, "--plan", plan)
	if code != exitOK || r.Summary["delete"] != 3 || r.Summary["applied"] != 3 || em.Stats().Writes != 3 {
		t.Fatalf("apply --plan: exit %d %v, %d writes\n%s", code, r.Summary, em.Stats().Writes, logText(errOut))
	}
	// The rails' state moved as a regular apply would have moved it: the
	// next regular run is no first run and needs no flag.
	if code, r, errOut := applyJSON(t, "--config", cfg); code != exitOK || len(r.Blocked) != 0 || em.Stats().Writes != 3 {
		t.Errorf("the next regular run: exit %d, blocked %v\n%s", code, r.Blocked, logText(errOut))
	}
}

// A plan that adds someone by an alias (no ID in the plan, the list shows
// the primary address): applying the file again is "already applied", not
// "someone was added by hand".
func TestReviewedPlanByAliasAppliesOnce(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "alice@example.com", Aliases: []string{"ali@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}},
	}
	em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member\nspaces/S,boss@example.com\nspaces/S,ali@example.com\n", "identity: {directory: false}\n")
	plan := filepath.Join(filepath.Dir(cfg), "plan.json")
	if code, out, errOut := runCLI(t, "plan", "--config", cfg, "--out", plan); code != exitOK {
		t.Fatalf("plan: exit %d\n%s%s", code, out, logText(errOut))
	}
	for run := 1; run <= 2; run++ {
		code, out, errOut := runCLI(t, "apply", "--config", cfg, "--plan", plan)
		if code != exitOK || em.Stats().Writes != 1 {
			t.Errorf("apply %d: exit %d, %d writes\n%s%s", run, code, em.Stats().Writes, out, logText(errOut))
		}
	}
}

// A removal in effect already (the first apply died before saving the
// rails' state): the rerun says "already applied" and saves the state.
func TestReviewedPlanAlreadyAppliedSavesTheState(t *testing.T) {
	em, dir, write := offboarding(t, emulator.Options{})
	cfg := write(map[string]bool{"t0-m1@example.com": true}, "")
	plan := filepath.Join(dir, "plan.json")
	if code, _, errOut := runCLI(t, "plan", "--config", cfg, "--out", plan, "--allow-removals", "1"); code != exitOK {
		t.Fatalf("plan: exit %d\n%s", code, logText(errOut))
	}
	c, _ := chatapi.New(context.Background(), chatapi.Options{Endpoint: endpointOf(t, cfg)})
	if err := c.Delete(context.Background(), "spaces/T0/members/1001"); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "syncer-state", "removals.json")
	if _, err := os.Stat(state); err == nil {
		t.Fatal("state saved before the apply")
	}
	code, out, errOut := runCLI(t, "apply", "--config", cfg, "--plan", plan)
	if code != exitOK || !strings.Contains(out, "already applied") || em.Stats().Writes != 1 {
		t.Fatalf("exit %d, %d writes\n%s%s", code, em.Stats().Writes, out, logText(errOut))
	}
	if _, err := os.Stat(state); err != nil {
		t.Errorf("the rails' state was not saved: %v", err)
	}
}

// The rails' state that can't be saved after the plan's changes (another
// run saved it since the plan was made) is not overwritten, and the run
// fails, as a regular apply does.
func TestReviewedPlanStateNotSavedFailsTheRun(t *testing.T) {
	em, dir, write := offboarding(t, emulator.Options{})
	cfg := write(map[string]bool{"t0-m1@example.com": true}, "")
	plan := filepath.Join(dir, "plan.json")
	if code, _, errOut := runCLI(t, "plan", "--config", cfg, "--out", plan, "--allow-removals", "1"); code != exitOK {
		t.Fatalf("plan: exit %d\n%s", code, logText(errOut))
	}
	state := filepath.Join(dir, "syncer-state", "removals.json")
	other := `{"version":1,"saved":"2026-11-27T00:00:00Z","totals":{},"absent":{}}`
	os.MkdirAll(filepath.Dir(state), 0o755)
	os.WriteFile(state, []byte(other), 0o600)
	code, out, errOut := runCLI(t, "apply", "--config", cfg, "--plan", plan)
	if code != exitFailure || em.Stats().Writes != 1 || !strings.Contains(logText(errOut), "removals state not saved: another run changed it") {
		t.Errorf("exit %d (want %d), %d writes\n%s%s", code, exitFailure, em.Stats().Writes, out, logText(errOut))
	}
	if data, _ := os.ReadFile(state); string(data) != other {
		t.Errorf("the other run's state was overwritten: %s", data)
	}
	// Again: the plan is in effect already, and the state still can't be saved.
	code, out, errOut = runCLI(t, "apply", "--config", cfg, "--plan", plan)
	if code != exitFailure || em.Stats().Writes != 1 || !strings.Contains(out, "already applied") {
		t.Errorf("already applied: exit %d (want %d), %d writes\n%s%s", code, exitFailure, em.Stats().Writes, out, logText(errOut))
	}
}

// A state folder that can't be written stops apply --plan of a plan with
// removals before its first write, as it stops a regular apply: removals
// must never happen unrecorded.
func TestReviewedPlanUnwritableStateWritesNothing(t *testing.T) {
	em, dir, write := offboarding(t, emulator.Options{})
	cfg := write(map[string]bool{"t0-m1@example.com": true}, "")
	plan := filepath.Join(dir, "plan.json")
	if code, _, errOut := runCLI(t, "plan", "--config", cfg, "--out", plan, "--allow-removals", "1"); code != exitOK {
		t.Fatalf("plan: exit %d\n%s", code, logText(errOut))
	}
	// The apply's runner has the state on a read-only mount (root included).
	cfg = write(map[string]bool{"t0-m1@example.com": true}, "state: {location: /proc/self/syncer-state}\n")
	code, out, errOut := runCLI(t, "apply", "--config", cfg, "--plan", plan)
	if code != exitFailure || em.Stats().Writes != 0 || !strings.Contains(logText(errOut), "can't be written") {
		t.Errorf("exit %d, %d writes\n%s%s", code, em.Stats().Writes, out, logText(errOut))
	}
}

// A plan that removes bob, and a later change to the sources that wants
// him back (two pull requests merged in turn): applying the plan would
// remove someone the sources want, which nobody reviewed. It stops, exit
// 4, nothing written. By the address the plan knew (any case), he is
// named; by an alias no address in the plan matches, but the sources say
// something else of the space than when the plan was made.
func TestReviewedPlanRefusesARemovalTheSourcesUndid(t *testing.T) {
	for _, tt := range []struct {
		name, back, want string
		hide             bool
	}{
		{"by the same address, lists without emails", "Bob@example.com", "the sources want bob@example.com there again", true},
		{"by an alias", "bobby@example.com", "spaces/S: the sources say something else of this space", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			seed := &emulator.Seed{
				Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "alice@example.com"}, {ID: "3", Email: "bob@example.com", Aliases: []string{"bobby@example.com"}}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
					{User: "boss@example.com", Role: "owner"}, {User: "alice@example.com"}, {User: "bob@example.com"}}}},
			}
			const kept = "space,member\nspaces/S,boss@example.com\nspaces/S,alice@example.com\n"
			em, cfg := syncWorld(t, seed, emulator.Options{HideEmails: tt.hide}, kept, "")
			plan := filepath.Join(filepath.Dir(cfg), "plan.json")
			if code, out, errOut := runCLI(t, "plan", "--config", cfg, "--allow-removals", "5", "--out", plan); code != exitOK || !strings.Contains(out, "bob@example.com") {
				t.Fatalf("plan --out: exit %d\n%s%s", code, out, logText(errOut))
			}
			os.WriteFile(filepath.Join(filepath.Dir(cfg), "members.csv"), []byte(kept+"spaces/S,"+tt.back+"\n"), 0o644)
			code, r, errOut := applyJSON(t, "--config", cfg, "--plan", plan)
			if code != exitBlocked || deletes(em) != 0 || !strings.Contains(strings.Join(r.Blocked, "\n"), tt.want) {
				t.Errorf("apply --plan after the sources took bob back as %s: exit %d, %d deletes, blocked %q; want exit %d, none, %q\n%s", tt.back, code, deletes(em), r.Blocked, exitBlocked, tt.want, logText(errOut))
			}
		})
	}
}

// Sources that can't be read when a plan with removals is applied: a
// broken edit (it may also take someone back) stops the plan, exit 4,
// nothing written; sources that are not there at all (the plan applied
// where they are not kept) are not checked, the reviewed removal goes
// ahead, and the report says so, not only the log.
func TestReviewedPlanWithSourcesItCannotRead(t *testing.T) {
	for _, tt := range []struct {
		name    string
		edit    func(csv string)
		code    int
		deletes int
		report  func(r removalReport) string
		want    string
	}{
		{"a broken edit", func(csv string) {
			os.WriteFile(csv, []byte("space,member\nspaces/S,boss@example.com\nspaces/S,\"alice@example.com\nspaces/S,dan@example.com\n"), 0o644)
		}, exitBlocked, 0, func(r removalReport) string { return strings.Join(r.Blocked, "\n") }, "members.csv:4:26: malformed CSV"},
		{"no sources here", func(csv string) { os.Remove(csv) }, exitOK, 1,
			func(r removalReport) string { return strings.Join(r.Warnings, "\n") }, "not checked against"},
		// A link whose file is gone, or that can't be followed, is a
		// source that is there: its entry is, what it says can't be read.
		{"a link to a file that is gone", func(csv string) { os.Remove(csv); os.Symlink(csv+".gone", csv) }, exitBlocked, 0,
			func(r removalReport) string { return strings.Join(r.Blocked, "\n") }, "can't be read now"},
		{"a link that can't be followed", func(csv string) { os.Remove(csv); os.Symlink(filepath.Base(csv), csv) }, exitBlocked, 0,
			func(r removalReport) string { return strings.Join(r.Blocked, "\n") }, "can't be read now"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			seed := &emulator.Seed{
				Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "alice@example.com"}, {ID: "3", Email: "dan@example.com"}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
					{User: "boss@example.com", Role: "owner"}, {User: "alice@example.com"}, {User: "dan@example.com"}}}},
			}
			em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member\nspaces/S,boss@example.com\nspaces/S,alice@example.com\n", "")
			plan := filepath.Join(filepath.Dir(cfg), "plan.json")
			if code, out, errOut := runCLI(t, "plan", "--config", cfg, "--allow-removals", "5", "--out", plan); code != exitOK || !strings.Contains(out, "dan@example.com") {
				t.Fatalf("plan --out: exit %d\n%s%s", code, out, logText(errOut))
			}
			tt.edit(filepath.Join(filepath.Dir(cfg), "members.csv"))
			code, r, errOut := applyJSON(t, "--config", cfg, "--plan", plan)
			if code != tt.code || deletes(em) != tt.deletes || !strings.Contains(tt.report(r), tt.want) {
				t.Errorf("apply --plan: exit %d, %d deletes, report %q; want exit %d, %d, %q\n%s", code, deletes(em), tt.report(r), tt.code, tt.deletes, tt.want, logText(errOut))
			}
		})
	}
}

// With remove_suspended, a suspended member the sources name is planned
// for removal for being suspended: the sources named her when the plan
// was made and still do. Applying the reviewed plan removes her, not
// "the sources want her there again" (which held it at exit 4 forever).
func TestReviewedPlanRemovesASuspendedMemberTheSourcesName(t *testing.T) {
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "alice@example.com"}, {ID: "3", Email: "mal@example.com", Suspended: true}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
			{User: "boss@example.com", Role: "owner"}, {User: "alice@example.com"}, {User: "mal@example.com"}}}},
	}
	em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member\nspaces/S,boss@example.com\nspaces/S,alice@example.com\nspaces/S,mal@example.com\n", "remove_suspended: true\n")
	plan := filepath.Join(filepath.Dir(cfg), "plan.json")
	if code, out, errOut := runCLI(t, "plan", "--config", cfg, "--allow-removals", "5", "--out", plan); code != exitOK || !strings.Contains(out, "mal@example.com") {
		t.Fatalf("plan --out: exit %d\n%s%s", code, out, logText(errOut))
	}
	code, r, errOut := applyJSON(t, "--config", cfg, "--plan", plan)
	if code != exitOK || deletes(em) != 1 || len(r.Blocked) != 0 {
		t.Errorf("apply --plan of a suspended member's removal: exit %d, %d deletes, blocked %q; want exit %d, mal removed\n%s", code, deletes(em), r.Blocked, exitOK, logText(errOut))
	}
}
