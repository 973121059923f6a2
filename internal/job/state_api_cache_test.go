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

// A plan of a production config against an emulator, with a removals
// state Google's runs saved, "goes without the state and saves nothing"
// (README): not the identity cache either, whose entries would be the
// emulator's IDs for the organisation's addresses in Google's next run.
func TestAPlanAgainstAnotherWorldSavesNoIdentityCache(t *testing.T) {
	seed := world(2, 1)
	f := newFixture(t, seed, emulator.Options{HideEmails: true}, "space,member,role\nspaces/S0,boss@example.com,owner\nspaces/S0,u0@example.com,\n")
	f.syncing(t)
	stateTweak := f.tweak
	dir := filepath.Join(filepath.Dir(f.cfg.Path), "st")
	f.resolve, f.cacheFile, f.tweak = true, filepath.Join(dir, "identity-cache.json"), stateTweak
	doc := filepath.Join(dir, "removals.json")
	google, _ := json.Marshal(map[string]any{"version": 1, "totals": map[string]int{"members.csv": 2}, "absent": map[string]any{}, "saved": "2026-12-01T00:00:00Z", "api": "google"})
	if err := os.WriteFile(doc, google, 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := f.run(t, context.Background(), false)
	if err != nil || !strings.Contains(strings.Join(res.Plan.Warnings, "\n"), "plans without it") {
		t.Fatalf("%v, warnings %q", err, res.Plan.Warnings)
	}
	if data, err := os.ReadFile(f.cacheFile); err == nil {
		t.Errorf("the plan saved the emulator's identities in the production state:\n%s", data)
	}
}
