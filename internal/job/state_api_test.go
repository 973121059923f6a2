package job_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
)

// The removals state records which API its runs called. A production
// config tried against an emulator (--endpoint) must not save the
// emulator's world over Google's state: its spaces marked synced would
// skip the first-run stop of Google's runs. A state an emulator saved is
// not taken by a run against Google: it starts afresh, every space new.
func TestTheRemovalsStateKeepsToItsAPI(t *testing.T) {
	seed := world(2, 1)
	seed.Spaces[0].Members = append(seed.Spaces[0].Members, emulator.SeedMember{User: "u1@example.com"})
	f := newFixture(t, seed, emulator.Options{}, "space,member,role\nspaces/S0,boss@example.com,owner\nspaces/S0,u0@example.com,\n")
	f.syncing(t)
	doc := filepath.Join(filepath.Dir(f.cfg.Path), "st", "removals.json")
	setAPI := func(api string) {
		t.Helper()
		var st map[string]any
		data, _ := os.ReadFile(doc)
		if err := json.Unmarshal(data, &st); err != nil {
			t.Fatal(err)
		}
		st["api"] = api
		data, _ = json.Marshal(st)
		if err := os.WriteFile(doc, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := f.run(t, context.Background(), true); err != nil {
		t.Fatal(err)
	}
	var saved struct{ API string }
	data, _ := os.ReadFile(doc)
	if err := json.Unmarshal(data, &saved); err != nil || saved.API != f.url {
		t.Fatalf("the state says api %q (%v), want the emulator's %s", saved.API, err, f.url)
	}

	// Saved against Google; this run calls the emulator: refused, nothing written.
	setAPI("google")
	before := f.em.Stats().Writes
	if _, err := f.run(t, context.Background(), true); err == nil || !strings.Contains(err.Error(), "saved by runs against Google's APIs") {
		t.Fatalf("err %v; want the run refused", err)
	}
	if got := f.em.Stats().Writes; got != before {
		t.Errorf("%d writes reached the emulator", got-before)
	}
	data, _ = os.ReadFile(doc)
	if !strings.Contains(string(data), `"google"`) {
		t.Errorf("the Google state was replaced:\n%s", data)
	}

	// A plan there saves nothing: it goes without the state, and says so.
	res, err := f.run(t, context.Background(), false)
	if err != nil || !strings.Contains(strings.Join(res.Plan.Warnings, "\n"), "plans without it") {
		t.Fatalf("a plan against the emulator with Google's state: %v, warnings %q", err, res.Plan.Warnings)
	}

	// Saved against an emulator (another port is the same kind): taken.
	setAPI("http://127.0.0.1:1/")
	if _, err := f.run(t, context.Background(), false); err != nil {
		t.Fatalf("an emulator's state on another port: %v", err)
	}

	// Saved against an emulator; this run calls Google: not taken.
	setAPI("http://127.0.0.1:1/")
	f.cfg.API.Endpoint = "https://chat.googleapis.com/"
	res, err = f.run(t, context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(res.Plan.Warnings, "\n"); !strings.Contains(w, "not Google's APIs") {
		t.Errorf("warnings %q; want the emulator's state named as not used", w)
	}
	if len(res.Plan.Spaces) != 1 || !res.Plan.Spaces[0].NewToSync {
		t.Errorf("spaces %+v; want spaces/S0 new to sync", res.Plan.Spaces)
	}
}
