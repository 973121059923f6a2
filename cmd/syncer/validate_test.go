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
		"valid/bom.csv":                      "spaces/A: 1 member",
		"valid/semicolons.csv":               "spaces/A: 1 manager, 1 role unmanaged",
		"valid/tabs.tsv":                     "spaces/A: 1 owner",
		"valid/crlf-and-duplicates.csv":      "spaces/A: 1 manager",
		"valid/hr-renamed.config.yaml":       "spaces/A: 1 manager, 1 role unmanaged",
		"valid/hr-renamed.csv":               "", // read through its config
		"invalid/bom-bad-role.csv":           `bom-bad-role.csv:2:28: unknown role "admin"`,
		"invalid/semicolons-ragged.csv":      `semicolons-ragged.csv:3: row has 2 fields, the header has 3`,
		"invalid/ragged.csv":                 `ragged.csv:2: row has 4 fields, the header has 3`,
		"invalid/bad-role.csv":               `bad-role.csv:2:28: unknown role "superuser"`,
		"invalid/bad-role.yaml":              `bad-role.yaml:5: unknown role "admin"`,
		"invalid/bad-email.csv":              `bad-email.csv:2:10: member "alice@example": malformed email`,
		"invalid/conflicting-duplicate.csv":  `conflicting-duplicate.csv:3:10: alice@example.com is listed twice in spaces/A with different roles: owner here, manager at testdata/invalid/conflicting-duplicate.csv:2:10`,
		"invalid/latin1.csv":                 `latin1.csv:2:10: invalid UTF-8`,
		"invalid/hash-in-extra-column.csv":   `hash-in-extra-column.csv:3: the row begins with "#eng" in column "channel", which the syncer does not read; it would be read as a # comment and its member dropped`,
		"invalid/empty.csv":                  `empty.csv: source has no members`,
		"invalid/unknown-key.config.yaml":    `unknown-key.config.yaml:3: unknown key "polciy"`,
		"invalid/removal-rails.config.yaml":  `removal-rails.config.yaml:7: safety.max_removals: "lots" is not a limit: give a number (0 means none) or "unlimited"`,
		"invalid/group-role.yaml":            `group-role.yaml:4: groups/eng can't have a role`,
		"valid/sep-semicolon.csv":            "spaces/A: 1 owner, 1 member",
		"valid/delimiter-only-rows.csv":      "spaces/A: 1 manager, 1 member",
		"invalid/duplicate-spaces.yaml":      `duplicate-spaces.yaml:7: duplicate key "spaces" (first at line 1)`,
		"invalid/duplicate-members.yaml":     `duplicate-members.yaml:6: duplicate key "members" (first at line 3)`,
		"invalid/bad-space-id.yaml":          `bad-space-id.yaml:2: space "spaces/AAA#x" is not a space resource name (spaces/{id}) or ID: an ID is letters, digits, - and _`,
		"invalid/utf16.csv":                  `utf16.csv: file is UTF-16 ("Unicode text"); save it as CSV UTF-8`,
		"invalid/xlsx-renamed.csv":           `xlsx-renamed.csv: this is an Excel workbook, not CSV; export it as CSV UTF-8`,
		"invalid/empty-members.yaml":         `empty-members.yaml:5: space spaces/A has an empty members: list; that is refused so a broken export can't empty a space (write allow_empty: true on the space if nobody is meant to be in it)`,
		"valid/allow-empty.yaml":             "spaces/Retired: empty on purpose",
		"invalid/sep-disagrees.csv":          `sep-disagrees.csv:2: the sep= line (line 1) says the delimiter is ";", but this header is separated by "," ("space,member,role"); remove the sep= line, or save the file with ";" between columns`,
		"invalid/unknown-format.config.yaml": `unknown-format.config.yaml:4: sources[1] (testdata/hr.csv): unknown format "xlsx" (want yaml or csv)`,
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

// Every malformed space ID in a file is reported, each with its line.
func TestValidateBadSpaceIDs(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	code, _, stderr := runCLI(t, "validate", "testdata/invalid/bad-space-id.yaml")
	for _, want := range []string{
		`bad-space-id.yaml:2: space "spaces/AAA#x" is not a space resource name`,
		`bad-space-id.yaml:4: space "spaces/../x" is not a space resource name`,
		`bad-space-id.yaml:6: space "spaces/%2e%2e" is not a space resource name`,
		"3 problems found; nothing was sent to the API.",
	} {
		if code != exitInvalid || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, want %d; output lacks %q:\n%s", code, exitInvalid, want, stderr)
		}
	}
}

// A directory or a device given as the config or a source is refused at
// once (exit 3), never read.
func TestValidateRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runCLI(t, "validate", "--config", dir)
	if want := dir + ": can't read config: not a regular file (a directory)"; code != exitInvalid || !strings.Contains(stderr, want) {
		t.Errorf("config is a directory: exit %d, output lacks %q:\n%s", code, want, stderr)
	}
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	zero := filepath.Join(dir, "zero.csv")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Skipf("symlink: %v", err)
	}
	code, _, stderr = runCLI(t, "validate", zero)
	if want := zero + ": can't read source: not a regular file (a device)"; code != exitInvalid || !strings.Contains(stderr, want) {
		t.Errorf("source is /dev/zero: exit %d, output lacks %q:\n%s", code, want, stderr)
	}
}

func TestValidateExamples(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	// The example's auth.mode none is for the emulator: validate it as
	// pointed there, as make demo runs it.
	for _, cfg := range []string{"config.example.yaml", "testdata/config.yaml", "testdata/directory/config.yaml"} {
		code, stdout, stderr := runCLI(t, "validate", "--config", cfg, "--endpoint", "http://127.0.0.1:8085/")
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
	for _, args := range [][]string{{"nonsense"}, {"help", "bogus"}, {}} {
		code, _, stderr := runCLI(t, args...)
		if code != exitUsage || !strings.Contains(stderr, "command") {
			t.Errorf("syncer %v: exit %d, want %d (a usage error, not invalid input): %s", args, code, exitUsage, stderr)
		}
	}
}

func TestValidateChecksWhatARunWouldRefuse(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "m.csv"), []byte("space,member\nspaces/A,a@example.com\nspaces/A,app\n"), 0o644)
	key := filepath.Join(dir, "key.json")
	os.WriteFile(key, []byte(`{"type":"service_account","client_email":"x@y.iam.gserviceaccount.com"}`), 0o644)
	// A folder anyone can write, as /tmp is: a cache planted there would be trusted.
	shared := filepath.Join(dir, "shared")
	os.Mkdir(shared, 0o700)
	os.Chmod(shared, 0o777|os.ModeSticky)
	for _, tc := range []struct{ name, config, want string }{
		{"a cache file where anyone can write", "sources: [{path: m.csv}]\napi: {endpoint: \"http://127.0.0.1:1/\"}\nidentity: {cache_file: shared/cache.json}\n", "identity.cache_file: " + shared + " can be written by anyone"},
		{"auth none against Google", "sources: [{path: m.csv}]\n", "auth.mode none works only against an emulator"},
		{"missing key", "sources: [{path: m.csv}]\nauth: {mode: service-account, credentials_file: nope.json, subject: a@example.com}\n", "nope.json: no such file"},
		{"key readable by others", "sources: [{path: m.csv}]\nauth: {mode: service-account, credentials_file: key.json, subject: a@example.com}\n", "is readable by others (mode 0644)"},
		{"the app under admin access", "sources: [{path: m.csv}]\napi: {endpoint: \"http://127.0.0.1:1/\", use_admin_access: true}\n", "m.csv:3:10: app in spaces/A: admin access"},
		{"the app under app auth", "sources: [{path: m.csv}]\nauth: {mode: app, credentials_file: key.json}\n", "m.csv:3:10: app in spaces/A: adding the Chat app to a space takes user authentication"},
		{"a real token to another machine over http", "sources: [{path: m.csv}]\napi: {endpoint: \"http://chat-proxy.corp.example:8080/\"}\nauth: {mode: adc}\n", "would send the run's access token there in clear"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(dir, "config.yaml")
			os.WriteFile(cfg, []byte(tc.config), 0o644)
			code, _, stderr := runCLI(t, "validate", "--config", cfg)
			if code != exitInvalid || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want 3 with %q:\n%s", code, tc.want, stderr)
			}
		})
	}
}

func TestFlagsAfterPositionalArguments(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	code, stdout, stderr := runCLI(t, "validate", "testdata/valid/bom.csv", "--config", "testdata/config.yaml")
	if code != exitOK || !strings.Contains(stdout, "Config testdata/config.yaml is valid") || !strings.Contains(stdout, "bom.csv") {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
}

// A label is free text, and YAML's escapes ("\e", "\r", "\u202e") put
// controls in it that the file's own bytes don't show: validate lists it
// without letting the terminal act on them.
func TestValidateListsLabelsAsText(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "eng.yaml")
	if err := os.WriteFile(src, []byte("spaces:\n  - space: spaces/AAA\n    label: \"Eng\\e[2J\\rX\\u202e\"\n    members: [alice@example.com]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "validate", src)
	if code != 0 || strings.ContainsAny(stdout, "\x1b\r\u202e") || !strings.Contains(stdout, `spaces/AAA (Eng\x1b[2J\rX\u202e)`) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
