package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/auth/authtest"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
)

// Under Chat app authentication the syncer sees no groups and has no
// Directory, so people in a space through a Google Group look like
// anyone else: sync plans their removal, and Google refuses each. A later
// run does not ask again (for a week): they are listed under "Not
// removed" with Google's refusal, and they don't count against
// max_removals, which they would exceed every run, blocking every run.
func TestRemovalsGoogleRefusedAreNotAskedAgainNorCounted(t *testing.T) {
	for _, viaPlanFile := range []bool{false, true} {
		t.Run(fmt.Sprintf("plan file %v", viaPlanFile), func(t *testing.T) { refusedRemovals(t, viaPlanFile) })
	}
}

func refusedRemovals(t *testing.T, viaPlanFile bool) {
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "v1@example.com"},
			{ID: "3", Email: "v2@example.com"}, {ID: "4", Email: "v3@example.com"}, {ID: "5", Email: "direct@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "eng"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/G", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"},
			{Group: "eng"}, {User: "v1@example.com", ViaGroup: "eng"}, {User: "v2@example.com", ViaGroup: "eng"},
			{User: "v3@example.com", ViaGroup: "eng"}, {User: "direct@example.com"}, {App: true}}}},
	}
	ts := authtest.Start(t)
	em, url := emulatortest.Start(t, seed, emulator.Options{Caller: "app", RequireToken: authtest.AccessToken})
	dir := t.TempDir()
	key, _ := ts.ServiceAccountKey(t, dir)
	csv := "space,member\nspaces/G,boss@example.com\nspaces/G,direct@example.com\n"
	os.WriteFile(filepath.Join(dir, "members.csv"), []byte(csv), 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q}\npolicy: sync\n"+
		"auth: {mode: app, credentials_file: %q}\nsafety: {max_removals: 2, max_removal_percent: unlimited}\n", url, key)), 0o644)

	// The first run: the admin read the plan and allowed three removals;
	// Google keeps all three. A plan file applied twice: the second finds
	// the state saved already.
	args := []string{"--config", cfg, "--allow-removals", "3"}
	if viaPlanFile {
		plan := filepath.Join(dir, "plan.json")
		if code, _, errOut := runCLI(t, append([]string{"plan", "--out", plan}, args...)...); code != exitOK {
			t.Fatalf("plan --out: exit %d\n%s", code, logText(errOut))
		}
		args = []string{"--config", cfg, "--plan", plan}
	}
	for i := 0; i < 1+btoi(viaPlanFile); i++ {
		code, r, errOut := applyJSON(t, args...)
		if code != exitOK || r.Summary["skipped"] != 3 || r.Summary["failed"] != 0 {
			t.Fatalf("first run (%d): exit %d %v %v\n%s", i, code, r.Summary, r.Incomplete, logText(errOut))
		}
	}
	deletes := em.Stats().Count("members.delete")

	// The next run asks Google nothing, blocks nothing, and says why.
	code, r, errOut := applyJSON(t, "--config", cfg)
	if code != exitOK || r.Summary["delete"] != 0 || len(r.Blocked) != 0 {
		t.Fatalf("second run: exit %d %v %v\n%s", code, r.Summary, r.Blocked, logText(errOut))
	}
	if n := em.Stats().Count("members.delete"); n != deletes {
		t.Errorf("second run sent %d deletes", n-deletes)
	}
	kept := map[string]bool{}
	for _, k := range r.Protected {
		if strings.Contains(fmt.Sprint(k["why"]), "Google refused this removal") && strings.Contains(fmt.Sprint(k["why"]), "through the Google Group groups/eng") {
			kept[fmt.Sprint(k["member"])] = true
		}
	}
	if len(kept) != 3 {
		t.Errorf("not removed, with Google's refusal: %v; the report's protected: %v", kept, r.Protected)
	}

	// A member the sources stop wanting is still removed, and counted.
	os.WriteFile(filepath.Join(dir, "members.csv"), []byte("space,member\nspaces/G,boss@example.com\n"), 0o644)
	code, r, errOut = applyJSON(t, "--config", cfg, "--allow-removals", "1")
	if c := changeOf(r, "direct@example.com", "delete"); code != exitOK || c == nil || c["status"] != "applied" || r.Summary["delete"] != 1 {
		t.Errorf("third run: exit %d %v %v\n%s", code, r.Summary, r.Changes, logText(errOut))
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// The same plan applied again, once the member Google refused to remove
// has left the space (with the group, or taken out of it, as the report
// advises): every change is in effect, and the state the first apply saved
// (the plan's, with the refusal noted) is found saved, not taken for
// another run's.
func TestAPlanAppliedAgainAfterARefusedMemberLeft(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "v1@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "eng"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/G", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"},
			{Group: "eng"}, {User: "v1@example.com", ViaGroup: "eng"}, {App: true}}}},
	}
	ts := authtest.Start(t)
	em, url := emulatortest.Start(t, seed, emulator.Options{Caller: "app", RequireToken: authtest.AccessToken})
	dir := t.TempDir()
	key, _ := ts.ServiceAccountKey(t, dir)
	os.WriteFile(filepath.Join(dir, "members.csv"), []byte("space,member\nspaces/G,boss@example.com\n"), 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q}\npolicy: sync\n"+
		"auth: {mode: app, credentials_file: %q}\nsafety: {max_removal_percent: unlimited}\n", url, key)), 0o644)
	plan := filepath.Join(dir, "plan.json")
	if code, _, errOut := runCLI(t, "plan", "--out", plan, "--config", cfg, "--allow-removals", "1"); code != exitOK {
		t.Fatalf("plan --out: exit %d\n%s", code, logText(errOut))
	}
	code, r, errOut := applyJSON(t, "--config", cfg, "--plan", plan)
	if code != exitOK || r.Summary["skipped"] != 1 {
		t.Fatalf("first apply: exit %d %v\n%s", code, r.Summary, logText(errOut))
	}
	// v1 leaves between the applies: Google answers their removal
	// "not found" (as it does once they have gone).
	em.SetMisbehaviour("members.delete", emulator.Misbehaviour{Status: 404, Message: "Membership not found."})
	code, r, errOut = applyJSON(t, "--config", cfg, "--plan", plan)
	if code != exitOK || len(r.Incomplete) != 0 {
		t.Errorf("second apply: exit %d %v %v\n%s", code, r.Summary, r.Incomplete, logText(errOut))
	}
}
