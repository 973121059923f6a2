package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/syncer-dev/syncer/internal/auth/authtest"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
)

// Under Chat app authentication invitations can't be listed, so a member
// invited by an earlier apply of the same plan is invisible, and creating
// them again is answered 409: already done, never a failure, whether or
// not Google shows the invitation to a members.get, and whether or not it
// sets roles on invitations.
func TestAppAuthReviewedPlanAppliedAgainOverAnInvitation(t *testing.T) {
	for _, opts := range []emulator.Options{
		{},
		{HideEmails: true, HideInvitedFromGets: true},
		{HideEmails: true, HideInvitedFromGets: true, RefuseInvitedRoleChanges: true},
		{RefuseInvitedRoleChanges: true},
	} {
		t.Run(fmt.Sprintf("hide-emails=%t,hide-invited=%t,refuse-roles=%t", opts.HideEmails, opts.HideInvitedFromGets, opts.RefuseInvitedRoleChanges), func(t *testing.T) {
			no := false
			seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "7", Email: "guest@example.com", AutoAccept: &no},
				{ID: "8", Email: "joins@example.com"}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}}}
			ts := authtest.Start(t)
			opts.RequireToken = authtest.AccessToken
			em, url := emulatortest.Start(t, seed, opts)
			dir := t.TempDir()
			key, _ := ts.ServiceAccountKey(t, dir)
			os.WriteFile(filepath.Join(dir, "members.csv"), []byte("space,member,role\nspaces/S,guest@example.com,manager\nspaces/S,joins@example.com,\n"), 0o644)
			cfg := filepath.Join(dir, "config.yaml")
			os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q}\nauth: {mode: app, credentials_file: %q}\n", url, key)), 0o644)
			plan := filepath.Join(dir, "plan.json")
			if code, _, errOut := runCLI(t, "plan", "--config", cfg, "--out", plan); code != exitOK {
				t.Fatalf("plan: exit %d\n%s", code, logText(errOut))
			}
			for run := 1; run <= 2; run++ {
				code, r, errOut := applyJSON(t, "--config", cfg, "--plan", plan)
				if code != exitOK || r.Summary["failed"] != 0 {
					t.Fatalf("apply --plan, run %d: exit %d %v\n%+v\n%s", run, code, r.Summary, r.Changes, logText(errOut))
				}
				if c := changeOf(r, "guest@example.com", "create"); run == 2 && (c == nil || c["status"] != "already_done") {
					t.Errorf("run 2: the invited member's create is %v", c)
				}
			}
			if n := em.Stats().Creates["spaces/S users/7"]; n != 1 {
				t.Errorf("the invited member was created %d times", n)
			}
			// A regular apply over the invitation doesn't fail either.
			if code, r, errOut := applyJSON(t, "--config", cfg); code != exitOK || r.Summary["failed"] != 0 {
				t.Errorf("apply: exit %d %v\n%s", code, r.Summary, logText(errOut))
			}
		})
	}
}
