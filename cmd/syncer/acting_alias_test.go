package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/auth/authtest"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
)

// The subject me@example.com owns spaces/A with four others; the source
// names them by their alias boss@example.com, as a member, and demotes
// three of the other owners. Planned, saved, then applied with apply
// --plan: their own demotion must go last there too, or Google (the
// emulator judging by the caller's role) refuses the others to a member.
func TestApplyPlanDemotesTheActingUserLastWhenNamedByAlias(t *testing.T) {
	ts := authtest.Start(t)
	key, _ := ts.ServiceAccountKey(t, t.TempDir())
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "me@example.com", Aliases: []string{"boss@example.com"}}, {ID: "2", Email: "o2@example.com"},
		{ID: "3", Email: "o3@example.com"}, {ID: "4", Email: "o4@example.com"}, {ID: "5", Email: "o5@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/A", Members: []emulator.SeedMember{{User: "me@example.com", Role: "owner"}, {User: "o2@example.com", Role: "owner"},
			{User: "o3@example.com", Role: "owner"}, {User: "o4@example.com", Role: "owner"}, {User: "o5@example.com", Role: "owner"}}}}}
	csv := "space,member,role\nspaces/A,boss@example.com,member\nspaces/A,o2@example.com,member\nspaces/A,o3@example.com,member\nspaces/A,o4@example.com,member\nspaces/A,o5@example.com,owner\n"
	for _, hide := range []bool{false, true} {
		for run := 0; run < 3; run++ {
			_, url := emulatortest.Start(t, seed, emulator.Options{Caller: "me@example.com", HideEmails: hide, Seed: uint64(run + 1),
				LatencyMin: time.Millisecond, LatencyMax: 15 * time.Millisecond})
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "members.csv"), []byte(csv), 0o644)
			cfg := filepath.Join(dir, "config.yaml")
			os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q}\nidentity: {directory: true}\n"+
				"auth: {mode: service-account, credentials_file: %q, subject: me@example.com}\nlimits: {concurrency: 8}\n", url, key)), 0o644)
			plan := filepath.Join(dir, "plan.json")
			if code, _, errOut := runCLI(t, "plan", "--config", cfg, "--out", plan); code != exitOK && code != exitChanges {
				t.Fatalf("plan: exit %d\n%s", code, logText(errOut))
			}
			code, out, errOut := runCLI(t, "apply", "--config", cfg, "--plan", plan)
			if code != exitOK {
				t.Errorf("hide emails %v, run %d: apply --plan exit %d\n%s\n%s", hide, run, code, out, strings.TrimSpace(logText(errOut)))
			}
		}
	}
}
