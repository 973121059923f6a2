package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
)

// A flag that takes a value, written with its value forgotten, swallows the
// next flag as its value: "--report-file --dry-run" made a report file named
// --dry-run and applied for real. A value that is one of the command's own
// flags is refused before anything is read or sent.
func TestAFlagIsNotAnotherFlagsValue(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "owner@example.com"}, {ID: "2", Email: "new@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/A", Members: []emulator.SeedMember{{User: "owner@example.com", Role: "owner"}}}},
	}
	em, url := emulatortest.Start(t, seed, emulator.Options{})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.csv"), []byte("space,member\nspaces/A,owner@example.com\nspaces/A,new@example.com\n"), 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte("sources: [{path: a.csv}]\napi: {endpoint: \""+url+"\"}\n"), 0o644)
	t.Chdir(dir)
	tests := []struct {
		name string
		args []string
	}{
		{"report-file then dry-run", []string{"apply", "--config", cfg, "--report-file", "--dry-run"}},
		{"lock-file then dry-run", []string{"apply", "--lock-file", "-dry-run", "--config", cfg}},
		{"log-level then dry-run=true", []string{"apply", "--config", cfg, "--log-level", "--dry-run=true"}},
		{"config then output", []string{"plan", "--config", "--output", "json"}},
		{"space then config", []string{"export", "--space", "--config", cfg}},
		{"help as a value", []string{"plan", "--report-file", "-h", "--config", cfg}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tt.args...)
			if code != exitInvalid || !strings.Contains(errOut, "is a flag, not the value of") {
				t.Errorf("exit %d, want %d with the flag named:\n%s", code, exitInvalid, errOut)
			}
			if em.Stats().Writes != 0 {
				t.Fatalf("%d writes reached the API", em.Stats().Writes)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "-") {
			t.Errorf("a file named %s was written in %s", e.Name(), filepath.Base(dir))
		}
	}
	// What the flag package takes as a value on purpose still works: a
	// negative number, the value glued on with =, and after --.
	if code, _, errOut := runCLI(t, "plan", "--config", cfg, "--report-file=--dry-run.txt", "--output", "json"); code != exitOK {
		t.Errorf("--report-file=--dry-run.txt: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "plan", "--config", cfg, "--allow-removals", "-1"); code != exitOK {
		t.Errorf("--allow-removals -1: exit %d\n%s", code, errOut)
	}
}

// export --space goes into the URL as a source's space does, and is
// checked as a source's is: "A?x" or "A/../B" would read another
// resource and write its members into the file as A's.
func TestExportRefusesASpaceThatIsNotOne(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "owner@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/A", Members: []emulator.SeedMember{{User: "owner@example.com", Role: "owner"}}}},
	}
	em, url := emulatortest.Start(t, seed, emulator.Options{})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.csv"), []byte("space,member\nspaces/A,owner@example.com\n"), 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte("sources: [{path: a.csv}]\napi: {endpoint: \""+url+"\"}\n"), 0o644)
	for _, space := range []string{"A?pageSize=1", "spaces/A/members/1", "A/../B", "", "spaces/", "A#x"} {
		code, out, errOut := runCLI(t, "export", "--config", cfg, "--space", space)
		if code != exitInvalid || !strings.Contains(errOut, "is not a space resource name") {
			t.Errorf("--space %q: exit %d, want %d naming it\n%s%s", space, code, exitInvalid, out, errOut)
		}
	}
	if n := len(em.Stats().Requests); n != 0 {
		t.Errorf("calls were made: %v", em.Stats().Requests)
	}
	if code, out, errOut := runCLI(t, "export", "--config", cfg, "--space", "A"); code != exitOK || !strings.Contains(out, "owner@example.com") {
		t.Errorf("--space A: exit %d\n%s%s", code, out, errOut)
	}
}

// --endpoint http://chat.googleapis.com/ sent the access token in clear
// before the call failed; it is refused as the config's api.endpoint is.
func TestEndpointFlagRefusesGoogleOverHTTP(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.csv"), []byte("space,member\nspaces/A,owner@example.com\n"), 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte("sources: [{path: a.csv}]\napi: {endpoint: \"http://127.0.0.1:9/\"}\n"), 0o644)
	for _, cmd := range []string{"validate", "plan", "apply", "export"} {
		code, _, errOut := runCLI(t, cmd, "--config", cfg, "--endpoint", "http://chat.googleapis.com/")
		if code != exitInvalid || !strings.Contains(errOut, "Google's APIs are called over https") {
			t.Errorf("%s: exit %d, want %d saying https\n%s", cmd, code, exitInvalid, errOut)
		}
	}
}

// A space of a YAML source may set its own policy; validate said "policy
// upsert" of a config one of whose spaces a run would remove people from.
func TestValidateShowsASpacesOwnPolicy(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("spaces:\n  - space: spaces/A\n    policy: sync\n    members: [ann@example.com]\n  - space: spaces/B\n    members: [bob@example.com]\n"), 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte("sources: [{path: a.yaml}]\napi: {endpoint: \"http://127.0.0.1:9/\"}\n"), 0o644)
	code, out, errOut := runCLI(t, "validate", "--config", cfg)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if !strings.Contains(out, "spaces/A: policy sync (") || !strings.Contains(out, "a.yaml:3") || strings.Contains(out, "spaces/B: policy") {
		t.Errorf("the space's own policy is not shown, where it was set:\n%s", out)
	}
}

// export --out into a folder that does not exist read every space and
// then failed (exit 1); a flag that can't work is refused before any call,
// as plan's --out and --report-file are (exit 3).
func TestExportOutIsCheckedBeforeAnyCall(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "owner@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/A", Members: []emulator.SeedMember{{User: "owner@example.com", Role: "owner"}}}},
	}
	em, url := emulatortest.Start(t, seed, emulator.Options{})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.csv"), []byte("space,member\nspaces/A,owner@example.com\n"), 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte("sources: [{path: a.csv}]\napi: {endpoint: \""+url+"\"}\n"), 0o644)
	for _, out := range []string{filepath.Join(dir, "missing", "current.yaml"), dir} {
		code, _, errOut := runCLI(t, "export", "--config", cfg, "--out", out)
		if code != exitInvalid || !strings.Contains(errOut, "--out") {
			t.Errorf("--out %s: exit %d, want %d\n%s", out, code, exitInvalid, errOut)
		}
	}
	if n := len(em.Stats().Requests); n != 0 {
		t.Errorf("calls were made: %v", em.Stats().Requests)
	}
}

// The command list names help ("show help for a command"); help help said
// it was an unknown command, exit 64.
func TestHelpHelp(t *testing.T) {
	for _, args := range [][]string{{"help", "help"}, {"help", "--help"}, {"--help", "help"}} {
		code, stdout, stderr := runCLI(t, args...)
		if code != exitOK || !strings.Contains(stdout, "syncer help") || stderr != "" {
			t.Errorf("syncer %v: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
}
