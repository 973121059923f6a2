package main

import (
	"os"
	"path/filepath"
	"testing"
)

// A config that can't be loaded names no sources, key or state to compare
// --report-file with; the report a failed run writes must still not land on
// a file the config's text names (here a source), or on the state's
// documents: the user typed a source's name, and it would be gone.
func TestReportFileNeverOverwritesAnInputOfAnInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "m.csv")
	orig := []byte("space,member,role\nspaces/A,a@example.com,owner\n")
	if err := os.WriteFile(src, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "syncer-state"), 0o700); err != nil {
		t.Fatal(err)
	}
	removals := filepath.Join(dir, "syncer-state", "removals.json")
	state := []byte(`{"version":1}`)
	if err := os.WriteFile(removals, state, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"a value out of range": "sources: [{path: m.csv}]\napi: {endpoint: \"http://127.0.0.1:1/\"}\nlimits: {concurrency: banana}\n",
		"broken YAML":          "sources: [{path: m.csv}\napi: {endpoint: \"http://127.0.0.1:1/\"}\n",
	} {
		cfg := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"plan", "--config", cfg, "--report-file", src},
			{"plan", "--config", cfg, "--output", "bogus", "--report-file", src},
			{"apply", "--config", cfg, "--plan", filepath.Join(dir, "none.json"), "--report-file", src},
			{"plan", "--config", cfg, "--report-file", removals},
		} {
			code, _, stderr := runCLI(t, args...)
			if code == exitOK {
				t.Errorf("%s: %v: exit 0", name, args)
			}
			if got, _ := os.ReadFile(src); string(got) != string(orig) {
				t.Errorf("%s: %v overwrote the source:\n%s\n%s", name, args, got, stderr)
				os.WriteFile(src, orig, 0o644)
			}
			if got, _ := os.ReadFile(removals); string(got) != string(state) {
				t.Errorf("%s: %v overwrote the removals state:\n%s\n%s", name, args, got, stderr)
				os.WriteFile(removals, state, 0o600)
			}
		}
	}
}

// A source whose name has a space ("HR export.csv", as spreadsheets name
// their exports) is one path in the config's text, not two words: the
// report a run with an invalid config writes must not replace it either.
func TestReportFileNeverOverwritesASourceNamedWithSpaces(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "HR export.csv")
	orig := []byte("space,member\nspaces/A,a@example.com\n")
	if err := os.WriteFile(src, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, sources := range map[string]string{
		"double-quoted": "sources: [{path: \"HR export.csv\"}]\n",
		"single-quoted": "sources: [{path: 'HR export.csv'}]\n",
		"plain, block":  "sources:\n  - path: HR export.csv\n",
		"plain, flow":   "sources: [{path: HR export.csv, format: csv}]\n",
		"a map's value": "sources:\n  - {path: HR export.csv}\n",
	} {
		cfg := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(cfg, []byte(sources+"limits: {concurrency: banana}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runCLI(t, "plan", "--config", cfg, "--report-file", src)
		if got, _ := os.ReadFile(src); string(got) != string(orig) {
			t.Errorf("%s: exit %d, the report replaced the source:\n%s\n%s", name, code, got, stderr)
			os.WriteFile(src, orig, 0o644)
		}
	}
}
