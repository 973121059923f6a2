package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
)

// handover is a space whose only owner (old@) leaves every source while the
// source names a successor (new@) who is not a member yet, as owner, under
// policy sync. joins says whether the successor's membership joins at once
// or waits as an invitation.
func handover(t *testing.T, joins bool) (*emulator.Server, string) {
	t.Helper()
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "old@example.com"}, {ID: "2", Email: "stays@example.com"},
			{ID: "9", Email: "new@example.com", AutoAccept: &joins}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/H", Members: []emulator.SeedMember{
			{User: "old@example.com", Role: "owner"}, {User: "stays@example.com", Role: "member"}}}},
	}
	em, url := emulatortest.Start(t, seed, emulator.Options{})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "members.csv"), []byte("space,member,role\nspaces/H,stays@example.com,member\nspaces/H,new@example.com,owner\n"), 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q}\npolicy: sync\n", url)), 0o644)
	return em, cfg
}

// refused lists the requests the emulator refused (4xx), which Google would
// have refused too.
func refused(em *emulator.Server) []string {
	var out []string
	for k, n := range em.Stats().Requests {
		if _, status, _ := strings.Cut(k, " "); status >= "400" && status < "500" {
			out = append(out, fmt.Sprintf("%s ×%d", k, n))
		}
	}
	return out
}

func memberState(em *emulator.Server, space, email string) string {
	for _, m := range em.Snapshot()[space] {
		if m.Email == email {
			return m.Role + " " + m.State
		}
	}
	return "absent"
}

func changeOf(r removalReport, member, action string) map[string]any {
	for _, c := range r.Changes {
		if c["member"] == member && c["action"] == action {
			return c
		}
	}
	return nil
}

func TestHandoverToANewOwnerInOneRun(t *testing.T) {
	em, cfg := handover(t, true)
	code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "1")
	if code != exitOK || r.Summary["applied"] != 3 || r.Summary["failed"]+r.Summary["skipped"] != 0 {
		t.Fatalf("exit %d, %v\n%+v\n%s", code, r.Summary, r.Changes, logText(errOut))
	}
	if c := changeOf(r, "old@example.com", "delete"); c == nil || c["successor"] != "users/new@example.com" || c["status"] != "applied" {
		t.Errorf("the old owner's removal: %v", c)
	}
	if got := memberState(em, "spaces/H", "new@example.com"); got != "ROLE_MANAGER JOINED" {
		t.Errorf("successor is %s", got)
	}
	if got := memberState(em, "spaces/H", "old@example.com"); got != "absent" {
		t.Errorf("old owner is %s", got)
	}
	if bad := refused(em); len(bad) > 0 {
		t.Errorf("requests Google would refuse were sent: %v", bad)
	}
	// Converged: nothing left to do.
	if code, out, errOut := runCLI(t, "plan", "--config", cfg, "--detailed-exitcode"); code != exitOK {
		t.Errorf("rerun plan: exit %d\n%s%s", code, out, logText(errOut))
	}
}

func TestHandoverToAnInvitedSuccessorKeepsTheOldOwner(t *testing.T) {
	em, cfg := handover(t, false)
	code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "1")
	if code != exitOK || r.Summary["failed"] != 0 {
		t.Fatalf("exit %d, %v\n%+v\n%s", code, r.Summary, r.Changes, logText(errOut))
	}
	c := changeOf(r, "old@example.com", "delete")
	if c == nil || c["status"] != "skipped" || !strings.Contains(fmt.Sprint(c["error"]), "successor new@example.com is invited, not joined") {
		t.Errorf("the old owner's removal: %v", c)
	}
	if got := memberState(em, "spaces/H", "old@example.com"); got != "ROLE_MANAGER JOINED" {
		t.Errorf("old owner is %s", got)
	}
	st := em.Stats()
	if bad := refused(em); len(bad) > 0 || st.Count("members.delete") != 0 || st.Count("members.patch") != 0 {
		t.Errorf("refused %v; %d deletes and %d patches sent for an invited successor", bad, st.Count("members.delete"), st.Count("members.patch"))
	}
	// Next run, still invited: the plan keeps the old owner and says why.
	code, out, _ := runCLI(t, "plan", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "successor new@example.com is invited, not joined") {
		t.Errorf("plan while invited: exit %d\n%s", code, out)
	}
	// Once they accept, the next run finishes the handover.
	if err := em.Accept("spaces/H", "new@example.com"); err != nil {
		t.Fatal(err)
	}
	code, r, errOut = applyJSON(t, "--config", cfg)
	if code != exitOK || memberState(em, "spaces/H", "new@example.com") != "ROLE_MANAGER JOINED" || memberState(em, "spaces/H", "old@example.com") != "absent" {
		t.Errorf("after accepting: exit %d, %v, new %s, old %s\n%s", code, r.Summary, memberState(em, "spaces/H", "new@example.com"),
			memberState(em, "spaces/H", "old@example.com"), logText(errOut))
	}
	if bad := refused(em); len(bad) > 0 {
		t.Errorf("requests Google would refuse were sent: %v", bad)
	}
}

func TestHandoverWhosePromotionIsRefusedKeepsTheOldOwner(t *testing.T) {
	em, cfg := handover(t, true)
	em.SetMisbehaviour("members.patch", emulator.Misbehaviour{Status: 403, Reason: "forbidden", Message: "The caller can't make owners."})
	code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "1")
	if code != exitFailure {
		t.Errorf("exit %d, want 1", code)
	}
	promote, removal := changeOf(r, "new@example.com", "update_role"), changeOf(r, "old@example.com", "delete")
	if promote == nil || promote["status"] != "failed" || removal == nil || removal["status"] != "skipped" ||
		!strings.Contains(fmt.Sprint(removal["error"]), "making successor new@example.com owner did not succeed, and old@example.com is the space's last owner") {
		t.Errorf("promotion %v\nremoval %v", promote, removal)
	}
	if got := memberState(em, "spaces/H", "old@example.com"); got != "ROLE_MANAGER JOINED" {
		t.Errorf("old owner is %s", got)
	}
	if em.Stats().Count("members.delete") != 0 {
		t.Errorf("the last owner's removal was sent: %v", em.Stats().Requests)
	}
	if logs := logText(errOut); !strings.Contains(logs, "new@example.com") || !strings.Contains(logs, "old@example.com") {
		t.Errorf("the logs don't name both:\n%s", logs)
	}
}

func TestHandoverThroughAReviewedPlan(t *testing.T) {
	for _, joins := range []bool{true, false} {
		t.Run(fmt.Sprintf("joins=%t", joins), func(t *testing.T) {
			em, cfg := handover(t, joins)
			plan := filepath.Join(filepath.Dir(cfg), "plan.json")
			code, md, errOut := runCLI(t, "plan", "--config", cfg, "--output", "markdown", "--out", plan, "--allow-removals", "1")
			if code != exitOK || !strings.Contains(md, "old@example.com (not in any source; after new@example.com is owner)") {
				t.Fatalf("plan --out: exit %d\n%s%s", code, md, logText(errOut))
			}
			data, _ := os.ReadFile(plan)
			if !strings.Contains(string(data), `"successor": "users/new@example.com"`) {
				t.Errorf("the plan file doesn't record the dependency:\n%s", data)
			}
			code, r, errOut := applyJSON(t, "--config", cfg, "--plan", plan)
			removal := changeOf(r, "old@example.com", "delete")
			switch {
			case code != exitOK || removal == nil:
				t.Fatalf("apply --plan: exit %d %v\n%s", code, r.Summary, logText(errOut))
			case joins && (removal["status"] != "applied" || memberState(em, "spaces/H", "old@example.com") != "absent"):
				t.Errorf("removal %v; old owner %s", removal, memberState(em, "spaces/H", "old@example.com"))
			case !joins && (removal["status"] != "skipped" || !strings.Contains(fmt.Sprint(removal["error"]), "is invited, not joined") ||
				memberState(em, "spaces/H", "old@example.com") != "ROLE_MANAGER JOINED"):
				t.Errorf("removal %v; old owner %s", removal, memberState(em, "spaces/H", "old@example.com"))
			}
			if bad := refused(em); len(bad) > 0 {
				t.Errorf("requests Google would refuse were sent: %v", bad)
			}
			if joins {
				return
			}
			// The same plan applied again: the successor's invitation is
			// in effect now, and the owner role still waits for them.
			code, r, errOut = applyJSON(t, "--config", cfg, "--plan", plan)
			promote := changeOf(r, "new@example.com", "update_role")
			if code != exitOK || promote == nil || promote["status"] != "skipped" || em.Stats().Count("members.patch") != 0 ||
				memberState(em, "spaces/H", "new@example.com") != "ROLE_MEMBER INVITED" {
				t.Errorf("apply --plan again: exit %d, promotion %v, %d patches sent, successor %s\n%s", code, promote,
					em.Stats().Count("members.patch"), memberState(em, "spaces/H", "new@example.com"), logText(errOut))
			}
		})
	}
}

// Two successors, the one the source names first only invited: the other,
// joined at once, stands in, and the old owner leaves in the same run.
func TestHandoverWithTwoSuccessorsTakesTheOneWhoJoined(t *testing.T) {
	no := false
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "old@example.com"}, {ID: "2", Email: "new@example.com"},
			{ID: "3", Email: "inv@example.com", AutoAccept: &no}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/M", Members: []emulator.SeedMember{{User: "old@example.com", Role: "owner"}}}},
	}
	em, url := emulatortest.Start(t, seed, emulator.Options{})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "members.csv"), []byte("space,member,role\nspaces/M,inv@example.com,owner\nspaces/M,new@example.com,owner\n"), 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q}\npolicy: sync\n", url)), 0o644)
	code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "1")
	if code != exitOK || r.Summary["failed"] != 0 {
		t.Fatalf("exit %d, %v\n%+v\n%s", code, r.Summary, r.Changes, logText(errOut))
	}
	if c := changeOf(r, "old@example.com", "delete"); c == nil || c["status"] != "applied" || c["successor"] != "users/new@example.com" {
		t.Errorf("the old owner's removal: %v", c)
	}
	if old, nw := memberState(em, "spaces/M", "old@example.com"), memberState(em, "spaces/M", "new@example.com"); old != "absent" || nw != "ROLE_MANAGER JOINED" {
		t.Errorf("old owner %s, new %s", old, nw)
	}
	if bad := refused(em); len(bad) > 0 {
		t.Errorf("requests Google would refuse were sent: %v", bad)
	}
}

// Under upsert nobody is removed, but roles move: demoting the only owner
// in favour of a newcomer is the same handover, and demoting them with no
// successor is a request Google refuses, so it is not sent.
func TestHandoverUnderUpsert(t *testing.T) {
	t.Run("with a successor", func(t *testing.T) {
		em, cfg := handover(t, true)
		os.WriteFile(filepath.Join(filepath.Dir(cfg), "members.csv"),
			[]byte("space,member,role\nspaces/H,old@example.com,member\nspaces/H,new@example.com,owner\n"), 0o644)
		data, _ := os.ReadFile(cfg)
		os.WriteFile(cfg, []byte(strings.Replace(string(data), "policy: sync", "policy: upsert", 1)), 0o644)
		code, r, errOut := applyJSON(t, "--config", cfg)
		if code != exitOK || r.Summary["applied"] != 3 {
			t.Fatalf("exit %d %v\n%+v\n%s", code, r.Summary, r.Changes, logText(errOut))
		}
		if memberState(em, "spaces/H", "old@example.com") != "ROLE_MEMBER JOINED" || memberState(em, "spaces/H", "new@example.com") != "ROLE_MANAGER JOINED" {
			t.Errorf("old %s, new %s", memberState(em, "spaces/H", "old@example.com"), memberState(em, "spaces/H", "new@example.com"))
		}
		if bad := refused(em); len(bad) > 0 {
			t.Errorf("requests Google would refuse were sent: %v", bad)
		}
	})
	t.Run("without one", func(t *testing.T) {
		em, cfg := handover(t, true)
		os.WriteFile(filepath.Join(filepath.Dir(cfg), "members.csv"), []byte("space,member,role\nspaces/H,old@example.com,member\n"), 0o644)
		data, _ := os.ReadFile(cfg)
		os.WriteFile(cfg, []byte(strings.Replace(string(data), "policy: sync", "policy: upsert", 1)), 0o644)
		code, r, errOut := applyJSON(t, "--config", cfg)
		if code != exitOK || len(r.Protected) != 1 || !strings.Contains(fmt.Sprint(r.Protected[0]["why"]), "the space's last owner is not demoted") {
			t.Fatalf("exit %d %v %v\n%s", code, r.Summary, r.Protected, logText(errOut))
		}
		if bad := refused(em); len(bad) > 0 || em.Stats().Count("members.patch") != 0 {
			t.Errorf("requests Google would refuse were sent: %v", bad)
		}
	})
}

// An owner in the space through a Google Group, dropped by the sources
// while another owner stays: Google keeps them because of the group, the
// run says so and ends well (as for any member kept through a group), and
// the next does not ask again: it lists them under "Not removed".
func TestAnOwnerThroughAGroupIsKeptRunAfterRun(t *testing.T) {
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "a@example.com"}, {ID: "2", Email: "b@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/G", Members: []emulator.SeedMember{
			{User: "a@example.com", Role: "owner"}, {User: "b@example.com", Role: "owner", ViaGroup: "groups/eng"}}}},
	}
	em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/G,a@example.com,owner\n", "")
	code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "1")
	if c := changeOf(r, "b@example.com", "delete"); code != exitOK || c == nil || c["status"] != "skipped" || !strings.Contains(fmt.Sprint(c["error"]), "through a Google Group") {
		t.Errorf("run 1: exit %d, b's removal %v\n%s", code, c, logText(errOut))
	}
	code, r, errOut = applyJSON(t, "--config", cfg)
	if code != exitOK || len(r.Changes) != 0 || len(r.Protected) != 1 || !strings.Contains(fmt.Sprint(r.Protected[0]["why"]), "Google refused this removal") {
		t.Errorf("run 2: exit %d, changes %v, not removed %v\n%s", code, r.Changes, r.Protected, logText(errOut))
	}
	if n := em.Stats().Count("members.delete"); n != 1 {
		t.Errorf("%d deletes sent, want 1", n)
	}
	if got := memberState(em, "spaces/G", "b@example.com"); got != "ROLE_MANAGER JOINED" {
		t.Errorf("b is %s", got)
	}
}

// The identity cache says bob@ is users/99, out of date: bob@ is users/3
// now. The sources add bob@ as a manager; the create goes by address, and
// Google answers with users/3. That is bob: the first run does it all.
func TestACreateByAddressWithAStaleCachedIDIsMade(t *testing.T) {
	for _, hide := range []bool{false, true} {
		t.Run(fmt.Sprintf("hide-emails=%v", hide), func(t *testing.T) {
			seed := &emulator.Seed{
				Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "3", Email: "bob@example.com"}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}},
			}
			em, cfg := syncWorld(t, seed, emulator.Options{HideEmails: hide}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,bob@example.com,manager\n", "identity: {cache_file: cache.json}\n")
			expires := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
			os.WriteFile(filepath.Join(filepath.Dir(cfg), "cache.json"), []byte(`{"version":1,"entries":{"bob@example.com":{"principal":"users/99","expires":"`+expires+`"}}}`), 0o600)
			code, r, errOut := applyJSON(t, "--config", cfg)
			if code != exitOK || memberState(em, "spaces/S", "bob@example.com") != "ROLE_ASSISTANT_MANAGER JOINED" {
				t.Errorf("exit %d, bob is %s: %v\n%s", code, memberState(em, "spaces/S", "bob@example.com"), r.Changes, logText(errOut))
			}
		})
	}
}
