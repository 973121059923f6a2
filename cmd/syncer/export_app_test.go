package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/throttle"
)

// Another app in many spaces ahead of ours: export still finds which app
// is the caller, asking each space only while it lists an app not yet
// ruled out (a space that answers members/app 404 has none of its apps
// ours), so at most one read per app, not a fixed few spaces.
func TestOurAppBehindAnotherApp(t *testing.T) {
	var gets atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/v1/spaces/S9/members/app") {
			fmt.Fprint(w, `{"name":"spaces/S9/members/555","member":{"name":"users/555","type":"BOT"},"role":"ROLE_MEMBER","state":"JOINED"}`)
			return
		}
		w.WriteHeader(404)
		fmt.Fprint(w, `{"error":{"code":404,"message":"Membership not found","status":"NOT_FOUND"}}`)
	}))
	defer srv.Close()
	api, err := chatapi.New(context.Background(), chatapi.Options{Endpoint: srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	th := throttle.New(throttle.Limits{ProjectWritesPerMinute: 1e6, ProjectReadsPerMinute: 1e6, SpaceReadsPerSecond: 1e4, MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond})
	other := membership.Membership{Principal: "users/777", Bot: true}
	var states []*membership.SpaceState
	for i := 0; i < 9; i++ {
		states = append(states, &membership.SpaceState{Name: fmt.Sprintf("spaces/S%d", i), Memberships: []membership.Membership{other}})
	}
	states = append(states, &membership.SpaceState{Name: "spaces/S9", Memberships: []membership.Membership{other, {Name: "spaces/S9/members/555", Principal: "users/555", Bot: true}}})
	if got := ourApp(context.Background(), api, th, states); got != "users/555" {
		t.Errorf("ourApp: %q, want users/555 (the app members/app answers in S9)", got)
	}
	if n := gets.Load(); n > 2 {
		t.Errorf("%d reads; want at most one per app (users/777 ruled out by the first)", n)
	}
}

// An export stopped while it searched for the calling app (its run_timeout,
// or a fatal answer that stops it) did not finish: the app it could not
// find is left out of the file, so the export must not exit as if whole.
func TestExportStoppedMidSearchForTheAppFails(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "owner@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/A", Members: []emulator.SeedMember{{User: "owner@example.com", Role: "owner"}, {App: true}}}},
	}
	for name, m := range map[string]emulator.Misbehaviour{
		"fatal answer": {Status: 401},
		"run timeout":  {Hang: true},
	} {
		t.Run(name, func(t *testing.T) {
			em, url := emulatortest.Start(t, seed, emulator.Options{AppID: "990001"})
			em.SetMisbehaviour("members.get", m)
			dir := t.TempDir()
			cfg := filepath.Join(dir, "config.yaml")
			os.WriteFile(filepath.Join(dir, "current.yaml"), []byte("spaces: {}\n"), 0o644)
			os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: current.yaml}]\napi: {endpoint: %q}\nlimits: {run_timeout: 2s, call_timeout: 1s}\n", url)), 0o644)
			code, out, errOut := runCLI(t, "export", "--config", cfg, "--space", "spaces/A", "--out", filepath.Join(dir, "out.yaml"))
			if code == exitOK || !strings.Contains(errOut, "export stopped") {
				t.Errorf("export: exit %d, want a failure that says it stopped\n%s%s", code, out, errOut)
			}
		})
	}
}
