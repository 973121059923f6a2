package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/auth/authtest"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
)

// offboarding seeds 3 spaces of 10 (an owner and 9 members each) and
// returns the emulator, the folder and a function writing the source with
// some members left out and the config with extra lines.
func offboarding(t *testing.T, opts emulator.Options) (*emulator.Server, string, func(leave map[string]bool, extra string) string) {
	t.Helper()
	seed := &emulator.Seed{}
	for i := 0; i < 3; i++ {
		sp := emulator.SeedSpace{Name: fmt.Sprintf("spaces/T%d", i)}
		for j := 0; j < 10; j++ {
			email := fmt.Sprintf("t%d-m%d@example.com", i, j)
			seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(1000 + i*100 + j), Email: email})
			role := "member"
			if j == 0 {
				role = "owner"
			}
			sp.Members = append(sp.Members, emulator.SeedMember{User: email, Role: role})
		}
		seed.Spaces = append(seed.Spaces, sp)
	}
	em, url := emulatortest.Start(t, seed, opts)
	dir := t.TempDir()
	return em, dir, func(leave map[string]bool, extra string) string {
		var csv strings.Builder
		csv.WriteString("space,member,role\n")
		for _, sp := range seed.Spaces {
			for _, m := range sp.Members {
				if !leave[m.User] {
					fmt.Fprintf(&csv, "%s,%s,%s\n", sp.Name, m.User, m.Role)
				}
			}
		}
		os.WriteFile(filepath.Join(dir, "members.csv"), []byte(csv.String()), 0o644)
		cfg := filepath.Join(dir, "config.yaml")
		os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q}\npolicy: sync\n%s", url, extra)), 0o644)
		return cfg
	}
}

type removalReport struct {
	Blocked    []string         `json:"blocked"`
	Summary    map[string]int   `json:"summary"`
	Changes    []map[string]any `json:"changes"`
	Pending    []map[string]any `json:"pending_removals"`
	Protected  []map[string]any `json:"protected"`
	Warnings   []string         `json:"warnings"`
	Incomplete []string         `json:"incomplete"`
}

func applyJSON(t *testing.T, args ...string) (int, removalReport, string) {
	t.Helper()
	code, out, errOut := runCLI(t, append([]string{"apply", "--output", "json"}, args...)...)
	var r removalReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("exit %d, stdout is not a report: %v\n%s\n%s", code, err, out, logText(errOut))
	}
	return code, r, errOut
}

func TestOffboardingFivePeopleAcrossThreeSpaces(t *testing.T) {
	em, _, write := offboarding(t, emulator.Options{})
	leave := map[string]bool{"t0-m1@example.com": true, "t0-m2@example.com": true, "t1-m3@example.com": true, "t2-m4@example.com": true, "t2-m5@example.com": true}
	cfg := write(leave, "")

	// The first run with sync stops and says what it would remove.
	code, r, _ := applyJSON(t, "--config", cfg)
	if code != exitBlocked || len(r.Blocked) != 1 || !strings.Contains(r.Blocked[0], "5 members would be removed (spaces/T0: 2, spaces/T1: 1, spaces/T2: 2)") || em.Stats().Writes != 0 {
		t.Fatalf("first run: exit %d, blocked %q, %d writes", code, r.Blocked, em.Stats().Writes)
	}
	// The admin read it and allows 5.
	code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "5")
	if code != exitOK || r.Summary["delete"] != 5 || r.Summary["applied"] != 5 || em.Stats().Writes != 5 {
		t.Fatalf("allowed run: exit %d, %v, %d writes\n%s", code, r.Summary, em.Stats().Writes, logText(errOut))
	}
	for _, c := range r.Changes {
		if c["action"] != "delete" || c["reason"] != "not in any source" || !leave[c["member"].(string)] {
			t.Errorf("change %v", c)
		}
	}
	snap := em.Snapshot()
	for space, members := range snap {
		for _, m := range members {
			if leave[m.Email] {
				t.Errorf("%s still holds %s", space, m.Email)
			}
		}
	}
	// A rerun writes nothing (and needs no flag: the state is there now).
	code, r, _ = applyJSON(t, "--config", cfg)
	if code != exitOK || r.Summary["delete"] != 0 || em.Stats().Writes != 5 {
		t.Errorf("rerun: exit %d, %v, %d writes", code, r.Summary, em.Stats().Writes)
	}
}

func TestATruncatedSourceIsBlocked(t *testing.T) {
	em, dir, write := offboarding(t, emulator.Options{})
	cfg := write(nil, "")
	if code, _, _ := applyJSON(t, "--config", cfg); code != exitOK {
		t.Fatalf("adoption run (nothing to remove): exit %d", code)
	}
	// The export is cut in half.
	data, _ := os.ReadFile(filepath.Join(dir, "members.csv"))
	lines := strings.SplitAfter(string(data), "\n")
	os.WriteFile(filepath.Join(dir, "members.csv"), []byte(strings.Join(lines[:len(lines)/2], "")), 0o644)
	for _, cmd := range []string{"plan", "apply"} {
		code, out, _ := runCLI(t, cmd, "--config", cfg, "--output", "json")
		if code != exitBlocked || !strings.Contains(out, "shrank from 30 to 15 memberships (-50%)") {
			t.Errorf("%s: exit %d\n%s", cmd, code, out)
		}
	}
	if n := em.Stats().Writes; n != 0 {
		t.Errorf("%d writes after a truncated export", n)
	}
}

func TestGraceHoldsARemovalThenAppliesIt(t *testing.T) {
	em, _, write := offboarding(t, emulator.Options{})
	cfg := write(nil, "safety: {removal_grace: 3}\n")
	if code, _, _ := applyJSON(t, "--config", cfg); code != exitOK {
		t.Fatal("adoption run failed")
	}
	cfg = write(map[string]bool{"t1-m1@example.com": true}, "safety: {removal_grace: 3}\n")
	for run := 1; run <= 2; run++ {
		code, r, _ := applyJSON(t, "--config", cfg)
		if code != exitOK || len(r.Pending) != 1 || r.Pending[0]["why"] != fmt.Sprintf("removal pending (%d of 3 runs)", run) || em.Stats().Writes != 0 {
			t.Fatalf("run %d: exit %d, pending %v, %d writes", run, code, r.Pending, em.Stats().Writes)
		}
	}
	code, r, _ := applyJSON(t, "--config", cfg)
	if code != exitOK || r.Summary["applied"] != 1 || len(r.Pending) != 0 || em.Stats().Writes != 1 {
		t.Errorf("run 3: exit %d, %v, %d writes", code, r.Summary, em.Stats().Writes)
	}
}

func TestActingUserAndProtectedMembersSurvive(t *testing.T) {
	ts := authtest.Start(t)
	key, _ := ts.ServiceAccountKey(t, t.TempDir())
	em, dir, write := offboarding(t, emulator.Options{HideEmails: true})
	// Only t0-m9 stays wanted in T0; t0-m1 is the acting user, t0-m2 is protected by address, t0-m3 by domain pattern (a partner alias).
	leave := map[string]bool{}
	for j := 0; j < 9; j++ {
		leave[fmt.Sprintf("t0-m%d@example.com", j)] = true
	}
	extra := fmt.Sprintf("auth: {mode: service-account, credentials_file: %q, subject: T0-M1@example.com}\nprotect: [t0-m2@example.com, users/1003]\n", key)
	cfg := write(leave, extra)
	code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "10")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, logText(errOut))
	}
	kept := map[string]string{}
	for _, k := range r.Protected {
		kept[k["member"].(string)] = k["why"].(string)
	}
	want := map[string]string{
		"t0-m0@example.com": "the space's last owner is not removed (make someone else owner first)",
		"t0-m1@example.com": "the user the syncer acts as",
		"t0-m2@example.com": "protected by t0-m2@example.com",
		"t0-m3@example.com": "protected by users/1003",
	}
	if fmt.Sprint(kept) != fmt.Sprint(want) {
		t.Errorf("kept %v\nwant %v", kept, want)
	}
	if r.Summary["delete"] != 5 || em.Stats().Writes != 5 { // t0-m4..m8
		t.Errorf("%v, %d writes", r.Summary, em.Stats().Writes)
	}
	// A source that lists nobody is still refused as empty: nobody is removed.
	os.WriteFile(filepath.Join(dir, "members.csv"), []byte("space,member,role\n"), 0o644)
	if code, _, errOut := runCLI(t, "apply", "--config", cfg, "--allow-removals", "100"); code != exitInvalid || !strings.Contains(logText(errOut), "source has no members") {
		t.Errorf("an empty source: exit %d\n%s", code, logText(errOut))
	}
	if em.Stats().Writes != 5 {
		t.Errorf("%d writes after an empty source", em.Stats().Writes)
	}
}

func TestRemovalsGroupsInvitationsAndGroupDerivedMembers(t *testing.T) {
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "inv@example.com", AutoAccept: func() *bool { b := false; return &b }()},
			{ID: "3", Email: "viagroup@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "eng"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/G", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"},
			{User: "inv@example.com", State: "INVITED"}, {Group: "eng"}, {User: "viagroup@example.com", ViaGroup: "eng"}, {App: true}}}},
	}
	em, url := emulatortest.Start(t, seed, emulator.Options{})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "members.csv"), []byte("space,member\nspaces/G,boss@example.com\nspaces/G,viagroup@example.com\n"), 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q}\npolicy: sync\n", url)), 0o644)
	code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "3")
	if code != exitOK || r.Summary["applied"] != 1 || !strings.Contains(fmt.Sprint(r.Protected), "the sources want viagroup@example.com here") {
		t.Fatalf("exit %d %v %v\n%s", code, r.Summary, r.Protected, logText(errOut))
	}
	// The invitation is cancelled, the app untouched, and the group stays:
	// Google would take viagroup@, whom the sources want, with it.
	got := map[string]bool{}
	for _, m := range em.Snapshot()["spaces/G"] {
		got[m.Member] = true
	}
	if got["users/2"] || !got["groups/eng"] || !got["users/app"] || !got["users/1"] {
		t.Errorf("left %v", got)
	}

	// Now viagroup@ is no longer wanted: the group goes, and viagroup@
	// with it. Their own delete goes after the group's (sent first, Google
	// would keep a group-derived member): they are gone already (404,
	// already_done). (The source halved: the shrink rail wants the admin's
	// word.)
	os.WriteFile(filepath.Join(dir, "members.csv"), []byte("space,member\nspaces/G,boss@example.com\n"), 0o644)
	if code, _, _ := applyJSON(t, "--config", cfg); code != exitBlocked {
		t.Errorf("a source halved: exit %d, want %d", code, exitBlocked)
	}
	code, r, errOut = applyJSON(t, "--config", cfg, "--allow-removals", "2")
	via := changeOf(r, "viagroup@example.com", "delete")
	viaOK := via != nil && via["status"] == "already_done"
	if c := changeOf(r, "groups/eng", "delete"); code != exitOK || c == nil || c["status"] != "applied" || !viaOK || r.Summary["failed"] != 0 {
		t.Errorf("exit %d %v %v\n%s", code, r.Summary, r.Changes, logText(errOut))
	}
	for _, m := range em.Snapshot()["spaces/G"] {
		if m.Member == "users/3" || m.Member == "groups/eng" {
			t.Errorf("%s is still in the space", m.Member)
		}
	}
}

// A group the sources want holds everyone in the domain (a CUSTOMER
// member): anyone in the space may be there through it, so nobody in the
// space is removed, and the report says why.
func TestAGroupOfEveryoneInTheDomainRemovesNobody(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "x@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "all", Email: "all@example.com", Members: []string{"*"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/G", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"},
			{Group: "all"}, {User: "x@example.com", ViaGroup: "all"}}}},
	}
	em, url := emulatortest.Start(t, seed, emulator.Options{})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "members.csv"), []byte("space,member\nspaces/G,boss@example.com\nspaces/G,group:all@example.com\n"), 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q}\npolicy: sync\n", url)), 0o644)
	code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "5")
	if code != exitOK || r.Summary["delete"] != 0 || em.Stats().Count("members.delete") != 0 {
		t.Fatalf("exit %d %v, %d deletes sent\n%s", code, r.Summary, em.Stats().Count("members.delete"), logText(errOut))
	}
	if out := fmt.Sprintf("%+v", r); !strings.Contains(out, "holds everyone in the domain") {
		t.Errorf("the report does not say why nobody is removed: %s", out)
	}
}

func TestUpsertNeverRemoves(t *testing.T) {
	em, _, write := offboarding(t, emulator.Options{})
	cfg := write(map[string]bool{"t0-m1@example.com": true}, "")
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(data), "policy: sync", "policy: upsert", 1)), 0o644)
	if code, r, _ := applyJSON(t, "--config", cfg); code != exitOK || r.Summary["delete"] != 0 || em.Stats().Writes != 0 {
		t.Errorf("upsert: exit %d %v", code, r.Summary)
	}
}

func TestAppNotConfiguredIsNotAlreadyDone(t *testing.T) {
	em, _, write := offboarding(t, emulator.Options{})
	cfg := write(map[string]bool{"t0-m1@example.com": true, "t1-m1@example.com": true}, "")
	// As `syncer emulator --misbehave members.delete=no-chat-app` would.
	method, m, err := emulator.ParseMisbehaviour("members.delete=no-chat-app")
	if err != nil {
		t.Fatal(err)
	}
	em.SetMisbehaviour(method, m)
	code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "2")
	if code != exitFailure || r.Summary["already_done"] != 0 || !strings.Contains(logText(errOut), "no Chat app configured") {
		t.Errorf("exit %d %v\n%s", code, r.Summary, logText(errOut))
	}
	if n := em.Stats().Count("members.delete"); n != 1 {
		t.Errorf("%d deletes sent; the first answer should have stopped the run", n)
	}
}

// A state folder that can't be written stops an apply under sync before
// its first write: removals must never happen unrecorded.
func TestUnwritableStateStopsSyncBeforeAnyWrite(t *testing.T) {
	em, _, write := offboarding(t, emulator.Options{})
	// A folder nobody can create, root included (a read-only mount in production).
	cfg := write(map[string]bool{"t0-m1@example.com": true}, "state: {location: /proc/self/syncer-state}\n")
	code, _, errOut := runCLI(t, "apply", "--config", cfg, "--allow-removals", "1")
	if code != exitFailure || em.Stats().Writes != 0 || !strings.Contains(logText(errOut), "can't be written") {
		t.Errorf("exit %d, %d writes\n%s", code, em.Stats().Writes, logText(errOut))
	}
}

// A space put under policy sync after the first sync run (added to the
// sources, or switched from upsert) has no completed sync run behind it:
// its removals stop the run, like a first run's, until the admin consents.
func TestASpaceNewToSyncStopsLikeAFirstRun(t *testing.T) {
	em, dir, write := offboarding(t, emulator.Options{})
	cfg := write(nil, "")
	source := func(spaces map[string]string, leave map[string]bool) {
		var b strings.Builder
		b.WriteString("spaces:\n")
		for _, name := range []string{"spaces/T0", "spaces/T1", "spaces/T2"} {
			policy, ok := spaces[name]
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "  - space: %s\n    policy: %s\n    members:\n", name, policy)
			for j := 0; j < 10; j++ {
				email := fmt.Sprintf("t%s-m%d@example.com", name[len(name)-1:], j)
				role := "member"
				if j == 0 {
					role = "owner"
				}
				if !leave[email] {
					fmt.Fprintf(&b, "      - {user: %s, role: %s}\n", email, role)
				}
			}
		}
		os.WriteFile(filepath.Join(dir, "members.yaml"), []byte(b.String()), 0o644)
		data, _ := os.ReadFile(cfg)
		os.WriteFile(cfg, []byte(strings.Replace(string(data), "members.csv", "members.yaml", 1)), 0o644)
	}
	// T0 has been synced for a while.
	source(map[string]string{"spaces/T0": "sync"}, nil)
	if code, r, errOut := applyJSON(t, "--config", cfg); code != exitOK {
		t.Fatalf("adoption run: exit %d %v\n%s", code, r.Blocked, logText(errOut))
	}
	// T1 joins the sources under sync, T2 under upsert; one person left each.
	leave := map[string]bool{"t0-m1@example.com": true, "t1-m1@example.com": true, "t2-m1@example.com": true}
	source(map[string]string{"spaces/T0": "sync", "spaces/T1": "sync", "spaces/T2": "upsert"}, leave)
	code, out, _ := runCLI(t, "apply", "--config", cfg)
	if code != exitBlocked || em.Stats().Writes != 0 ||
		!strings.Contains(out, "spaces new to policy sync (no completed sync run behind them): 1 member would be removed there (spaces/T1: 1)") ||
		!strings.Contains(out, "rerun with --allow-removals 2") || !strings.Contains(out, "1 space new to policy sync") {
		t.Fatalf("a space added under sync: exit %d, %d writes\n%s", code, em.Stats().Writes, out)
	}
	code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "2")
	if code != exitOK || r.Summary["delete"] != 2 || em.Stats().Writes != 2 {
		t.Fatalf("consented: exit %d %v, %d writes\n%s", code, r.Summary, em.Stats().Writes, logText(errOut))
	}
	// T1 is synced now: a later removal there needs no flag.
	leave["t1-m2@example.com"] = true
	source(map[string]string{"spaces/T0": "sync", "spaces/T1": "sync", "spaces/T2": "upsert"}, leave)
	if code, r, errOut = applyJSON(t, "--config", cfg); code != exitOK || r.Summary["delete"] != 1 {
		t.Fatalf("T1 again: exit %d %v %v\n%s", code, r.Summary, r.Blocked, logText(errOut))
	}
	// T2 switches from upsert to sync: new to sync, it stops.
	source(map[string]string{"spaces/T0": "sync", "spaces/T1": "sync", "spaces/T2": "sync"}, leave)
	code, out, _ = runCLI(t, "plan", "--config", cfg, "--output", "json")
	var plan struct {
		Blocked []string `json:"blocked"`
		Spaces  []struct {
			Name      string `json:"space"`
			NewToSync bool   `json:"new_to_sync"`
		} `json:"spaces"`
	}
	json.Unmarshal([]byte(out), &plan)
	if code != exitBlocked || len(plan.Blocked) != 1 || !strings.Contains(plan.Blocked[0], "(spaces/T2: 1)") ||
		len(plan.Spaces) != 3 || plan.Spaces[0].NewToSync || plan.Spaces[1].NewToSync || !plan.Spaces[2].NewToSync {
		t.Errorf("T2 switched to sync: exit %d %+v", code, plan)
	}
}
