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

// Under Chat app authentication, against an emulator that answers as the
// reference says app authentication is answered (the app's own membership
// not listed; outsiders not added), a run adds the organisation's people,
// reports the outsider it could not add, and removes no one.
func TestAppAuthAgainstTheAppCaller(t *testing.T) {
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "m1@example.com"},
		{ID: "3", Email: "new@example.com"}, {ID: "90", Email: "guest@gmail.com", External: true}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "m1@example.com"}, {App: true}}}}}
	ts := authtest.Start(t)
	em, url := emulatortest.Start(t, seed, emulator.Options{Caller: "app", RequireToken: authtest.AccessToken})
	dir := t.TempDir()
	key, _ := ts.ServiceAccountKey(t, dir)
	os.WriteFile(filepath.Join(dir, "members.csv"), []byte("space,member\nspaces/S,boss@example.com\nspaces/S,m1@example.com\nspaces/S,new@example.com\nspaces/S,guest@gmail.com\n"), 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q}\npolicy: sync\nauth: {mode: app, credentials_file: %q}\n", url, key)), 0o644)
	code, r, errOut := applyJSON(t, "--config", cfg)
	if c := changeOf(r, "guest@gmail.com", "create"); code != exitFailure || c == nil || c["status"] != "failed" {
		t.Errorf("exit %d; the outsider's create is %v, want failed\n%s", code, c, logText(errOut))
	}
	if n := em.Stats().Count("members.delete"); n != 0 {
		t.Errorf("%d deletes", n)
	}
	if em.Stats().Creates["spaces/S users/3"] != 1 {
		t.Errorf("new@example.com was not added: %v", em.Stats().Creates)
	}
}
