package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// validateArgs turns a testdata file into validate's arguments.
func validateArgs(path string) []string {
	if strings.HasSuffix(path, ".config.yaml") || filepath.Base(path) == "config.yaml" {
		return []string{"validate", "--config", path}
	}
	return []string{"validate", path}
}

// Every file under testdata/valid and testdata/invalid must be listed here,
// so a new example can't go untested.
func TestValidateTestdata(t *testing.T) {
	expect := map[string]string{
		"valid/bom.csv":                     "spaces/A: 1 member",
		"valid/semicolons.csv":              "spaces/A: 1 manager, 1 role unmanaged",
		"valid/tabs.tsv":                    "spaces/A: 1 owner",
		"valid/crlf-and-duplicates.csv":     "spaces/A: 1 manager",
		"valid/hr-renamed.config.yaml":      "spaces/A: 1 manager, 1 role unmanaged",
		"valid/hr-renamed.csv":              "", // read through its config
		"invalid/bom-bad-role.csv":          `bom-bad-role.csv:2:28: unknown role "admin"`,
		"invalid/semicolons-ragged.csv":     `semicolons-ragged.csv:3: row has 2 fields, the header has 3`,
		"invalid/ragged.csv":                `ragged.csv:2: row has 4 fields, the header has 3`,
		"invalid/bad-role.csv":              `bad-role.csv:2:28: unknown role "superuser"`,
		"invalid/bad-role.yaml":             `bad-role.yaml:5: unknown role "admin"`,
		"invalid/bad-email.csv":             `bad-email.csv:2:10: member "alice@example": malformed email`,
		"invalid/conflicting-duplicate.csv": `conflicting-duplicate.csv:3:10: alice@example.com is listed twice in spaces/A with different roles: owner here, manager at testdata/invalid/conflicting-duplicate.csv:2:10`,
		"invalid/latin1.csv":                `latin1.csv:2:10: invalid UTF-8`,
		"invalid/empty.csv":                 `empty.csv: source has no members`,
		"invalid/unknown-key.config.yaml":   `unknown-key.config.yaml:3: unknown key "polciy"`,
		"invalid/sync-policy.config.yaml":   `sync-policy.config.yaml:3: policy "sync"`,
		"invalid/group-role.yaml":           `group-role.yaml:4: groups/eng can't have a role`,
	}
	root := filepath.Join("..", "..", "testdata")
	for _, dir := range []string{"valid", "invalid"} {
		entries, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			rel := dir + "/" + e.Name()
			want, ok := expect[rel]
			if !ok {
				t.Errorf("testdata/%s has no expectation in this test", rel)
				continue
			}
			if want == "" {
				continue
			}
			t.Run(rel, func(t *testing.T) {
				// Run from the repo root so messages show testdata/... paths.
				t.Chdir(filepath.Join("..", ".."))
				code, stdout, stderr := runCLI(t, validateArgs(filepath.Join("testdata", dir, e.Name()))...)
				wantCode := exitOK
				if dir == "invalid" {
					wantCode = exitInvalid
				}
				if code != wantCode || !strings.Contains(stdout+stderr, want) {
					t.Errorf("exit %d, want %d; output lacks %q:\n%s%s", code, wantCode, want, stdout, stderr)
				}
			})
		}
	}
}

func TestValidateExamples(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	for _, cfg := range []string{"config.example.yaml", "testdata/config.yaml"} {
		code, stdout, stderr := runCLI(t, "validate", "--config", cfg)
		if code != exitOK {
			t.Errorf("validate %s: exit %d\n%s%s", cfg, code, stdout, stderr)
		}
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, c := range commands() {
		code, stdout, _ := runCLI(t, "help", c.name)
		if code != exitOK || !strings.Contains(stdout, "syncer "+c.name) {
			t.Errorf("help %s: exit %d, %q", c.name, code, stdout)
		}
		code, _, stderr := runCLI(t, c.name, "--help")
		if c.name != "version" && (code != exitOK || !strings.Contains(stderr, "Usage: syncer "+c.name)) {
			t.Errorf("%s --help: exit %d, %q", c.name, code, stderr)
		}
	}
	if code, _, _ := runCLI(t, "nonsense"); code != exitInvalid {
		t.Errorf("unknown command: exit %d", code)
	}
}
