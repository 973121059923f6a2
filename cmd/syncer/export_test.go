package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
)

func TestExportRoundTrip(t *testing.T) {
	no := false
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{
			{ID: "1", Email: "owner@example.com"}, {ID: "2", Email: "mgr@example.com"}, {ID: "3", Email: "member@example.com"},
			{ID: "4", Email: "pending@example.com", AutoAccept: &no}, {ID: "5", Email: "ext@partner.test", External: true},
		},
		Groups: []emulator.SeedGroup{{ID: "eng"}},
		Spaces: []emulator.SeedSpace{
			{Name: "spaces/A", DisplayName: "Team: A", Members: []emulator.SeedMember{{User: "owner@example.com", Role: "owner"}, {User: "mgr@example.com", Role: "manager"},
				{User: "member@example.com"}, {User: "pending@example.com", State: "INVITED"}, {User: "ext@partner.test"}, {Group: "eng"}, {App: true}}},
			{Name: "spaces/B", Type: "GROUP_CHAT", Members: []emulator.SeedMember{{User: "owner@example.com"}, {User: "member@example.com"}}},
		},
	}
	for _, hide := range []bool{false, true} {
		for _, format := range []string{"yaml", "csv"} {
			// The app listed as users/app, or by an ID of its own (hide:
			// answers give canonical names): written as app either way.
			appID := map[bool]string{true: "990001"}[hide]
			t.Run(fmt.Sprintf("%s hide-emails=%v", format, hide), func(t *testing.T) {
				em, url := emulatortest.Start(t, seed, emulator.Options{HideEmails: hide, AppID: appID})
				dir := t.TempDir()
				exported := filepath.Join(dir, "current."+format)
				cfg := filepath.Join(dir, "config.yaml")
				os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: current.%s}]\napi: {endpoint: %q}\n", format, url)), 0o644)

				code, out, errOut := runCLI(t, "export", "--config", cfg, "--space", "spaces/A", "--space", "B", "--format", format, "--out", exported)
				if code != exitOK {
					t.Fatalf("export: exit %d\n%s%s", code, out, errOut)
				}
				data, _ := os.ReadFile(exported)
				if !regexp.MustCompile(`(?m)(^\s*- (users/)?app$|^spaces/A,(users/)?app,)`).Match(data) || strings.Contains(string(data), "990001") {
					t.Errorf("export lacks the app as app (its ID %q):\n%s", appID, data)
				}
				for _, want := range []string{"owner@example.com", "mgr@example.com", "pending@example.com", "groups/eng"} {
					if !strings.Contains(string(data), want) {
						t.Errorf("export lacks %q:\n%s", want, data)
					}
				}
				if hide && !strings.Contains(string(data), "\"5\"") && !strings.Contains(string(data), ",5,") {
					t.Errorf("the external user (not in the Directory) should be exported by ID:\n%s", data)
				}
				code, out, errOut = runCLI(t, "plan", "--config", cfg, "--detailed-exitcode")
				if code != exitOK || !strings.Contains(out, "Plan: 0 to add, 0 to change, 0 to remove.") {
					t.Errorf("plan with the exported file: exit %d\n%s%s\nexported:\n%s", code, out, errOut, data)
				}
				if em.Stats().Writes != 0 {
					t.Error("export or plan wrote")
				}
			})
		}
	}
}

// A direct message is not exported: a run refuses a source that names one.
func TestExportRefusesADirectMessage(t *testing.T) {
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "owner@example.com"}, {ID: "2", Email: "ann@example.com"}},
		Spaces: []emulator.SeedSpace{
			{Name: "spaces/A", Members: []emulator.SeedMember{{User: "owner@example.com", Role: "owner"}}},
			{Name: "spaces/DM", Type: "DIRECT_MESSAGE", Members: []emulator.SeedMember{{User: "owner@example.com"}, {User: "ann@example.com"}}},
		},
	}
	_, cfg := exportWorld(t, seed, "")
	exported := filepath.Join(filepath.Dir(cfg), "current.yaml")
	code, out, errOut := runCLI(t, "export", "--config", cfg, "--space", "spaces/A", "--space", "spaces/DM", "--out", exported)
	// Found by reading the space: a runtime failure, as a run's is (exit 1);
	// exit 3 says no API call was made.
	if code != exitFailure || !strings.Contains(errOut, "spaces/DM is a direct message") {
		t.Errorf("export of a direct message: exit %d, want %d and why\n%s%s", code, exitFailure, out, errOut)
	}
	if _, err := os.Stat(exported); err == nil {
		t.Error("a file was written")
	}
}

// What export can't read it says on stderr, often a terminal: Google's
// words and the names it answered with are shown, not acted on.
func TestExportErrorsShowControlsAsText(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "owner@example.com"}, {ID: "\x1b[2J\r/x", Email: "odd@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/A", Members: []emulator.SeedMember{{User: "owner@example.com", Role: "owner"}, {User: "odd@example.com"}}}},
	}
	_, cfg := exportWorld(t, seed, "")
	code, _, errOut := runCLI(t, "export", "--config", cfg, "--space", "spaces/A")
	if code != exitFailure || strings.ContainsAny(errOut, "\x1b\r") || !strings.Contains(errOut, `users/\x1b[2J\r/x`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// export --out is a file written: over the config (or the key, the
// token, the identity cache) it replaced it with the export, exit 0.
// It is refused before any call (exit 3), as plan's --out is; a source
// may still be written over (an export refreshes the file it adopted).
func TestExportOutNeverOverwritesTheConfig(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "owner@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/A", Members: []emulator.SeedMember{{User: "owner@example.com", Role: "owner"}}}},
	}
	em, cfg := exportWorld(t, seed, "identity: {cache_file: cache.json}\n")
	dir := filepath.Dir(cfg)
	text, _ := os.ReadFile(cfg)
	os.WriteFile(filepath.Join(dir, "cache.json"), []byte("{}"), 0o600)
	for _, out := range []string{cfg, filepath.Join(dir, "cache.json")} {
		code, _, errOut := runCLI(t, "export", "--config", cfg, "--space", "spaces/A", "--out", out)
		if code != exitInvalid || !strings.Contains(errOut, "would overwrite") {
			t.Errorf("export --out %s: exit %d, want %d\n%s", filepath.Base(out), code, exitInvalid, errOut)
		}
	}
	if got, _ := os.ReadFile(cfg); string(got) != string(text) {
		t.Fatalf("the config was overwritten:\n%s", got)
	}
	if n := len(em.Stats().Requests); n != 0 {
		t.Errorf("calls were made: %v", em.Stats().Requests)
	}
	current := filepath.Join(dir, "current.yaml")
	os.WriteFile(current, []byte("spaces: []\n"), 0o644)
	if code, _, errOut := runCLI(t, "export", "--config", cfg, "--space", "spaces/A", "--out", current); code != exitOK {
		t.Errorf("export over its source: exit %d\n%s", code, errOut)
	}
}

// Nor a state folder's document: export --out syncer-state/removals.json
// replaced the removal rails' totals and grace counters with the export
// (exit 0), and every sync run after it stopped on a state it can't read.
func TestExportOutNeverOverwritesTheState(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "owner@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/A", Members: []emulator.SeedMember{{User: "owner@example.com", Role: "owner"}}}},
	}
	em, cfg := exportWorld(t, seed, "state: {location: st}\n")
	dir := filepath.Dir(cfg)
	os.Mkdir(filepath.Join(dir, "st"), 0o700)
	state := filepath.Join(dir, "st", "removals.json")
	os.WriteFile(state, []byte(`{"version":1}`), 0o600)
	for _, out := range []string{state, filepath.Join(dir, "st", "identity-cache.json")} {
		code, _, errOut := runCLI(t, "export", "--config", cfg, "--space", "spaces/A", "--out", out)
		if code != exitInvalid || !strings.Contains(errOut, "would overwrite") {
			t.Errorf("export --out %s: exit %d, want %d\n%s", filepath.Base(out), code, exitInvalid, errOut)
		}
	}
	if got, _ := os.ReadFile(state); string(got) != `{"version":1}` {
		t.Fatalf("the removals state was overwritten:\n%s", got)
	}
	if n := len(em.Stats().Requests); n != 0 {
		t.Errorf("calls were made: %v", em.Stats().Requests)
	}
}

// exportWorld starts the emulator with seed and writes a config (with
// extra lines) whose source is current.yaml beside it, in a folder of its
// own: the emulator and the config's path.
func exportWorld(t *testing.T, seed *emulator.Seed, extra string) (*emulator.Server, string) {
	t.Helper()
	em, url := emulatortest.Start(t, seed, emulator.Options{})
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: current.yaml}]\napi: {endpoint: %q}\n%s", url, extra)), 0o644); err != nil {
		t.Fatal(err)
	}
	return em, cfg
}
