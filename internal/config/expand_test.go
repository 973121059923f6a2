package config

import (
	"os"
	"path/filepath"
	"testing"
)

// The config's paths are taken as written: a shell would expand ~ and
// $VARS, the syncer doesn't, and state.location: ~/syncer-state made a
// folder named "~" beside the config, where the removals' totals and the
// identity cache then lived. Such a path is refused, at its line.
func TestPathsAreNotExpandedAndSaySo(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"state in home", "sources: [{path: a.csv}]\nstate:\n  location: ~/syncer-state\n", `c.yaml:3: state.location "~/syncer-state": ~ and $VARIABLES are not expanded in the config`},
		{"state from the environment", "sources: [{path: a.csv}]\nstate:\n  location: ${STATE_DIR}\n", `c.yaml:3: state.location "${STATE_DIR}": ~ and $VARIABLES`},
		{"a source from the environment", "sources:\n  - path: a.csv\n  - path: $EXPORTS/hr.csv\n", `c.yaml:3: sources[1].path "$EXPORTS/hr.csv": ~ and $VARIABLES`},
		{"a key in home", "sources: [{path: a.csv}]\nauth:\n  mode: service-account\n  credentials_file: ~/key.json\n", `c.yaml:4: auth.credentials_file "~/key.json": ~ and $VARIABLES`},
		{"a token file", "sources: [{path: a.csv}]\nauth:\n  mode: oauth-user\n  credentials_file: c.json\n  token_file: $HOME/t.json\n", `c.yaml:5: auth.token_file "$HOME/t.json"`},
		{"a cache file", "sources: [{path: a.csv}]\nidentity:\n  cache_file: ~user/ids.json\n", `c.yaml:3: identity.cache_file "~user/ids.json"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			got := problems(t, err)
			sameProblems(t, got, []string{tt.want})
		})
	}
	// A name that only holds the characters is a name.
	for _, p := range []string{"exports/a~b.csv", "price$.csv", "./~/x.csv"} {
		if _, err := Parse("c.yaml", []byte("sources: [{path: \""+p+"\"}]\n")); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// columns: and delimiter: are CSV only: on a YAML source they did nothing,
// without a word, though the config refuses every key it does not use.
func TestCSVSettingsOnAYAMLSourceAreRefused(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"columns", "sources:\n  - path: a.yaml\n    columns: {member: Work Email}\n", `c.yaml:3: sources[0] (a.yaml): columns: is for CSV sources; a YAML source names its keys (space:, members:)`},
		{"delimiter", "sources:\n  - path: a.csv\n  - path: b.yml\n    delimiter: \";\"\n", `c.yaml:4: sources[1] (b.yml): delimiter: is for CSV sources`},
		{"format yaml", "sources:\n  - path: a.txt\n    format: yaml\n    delimiter: tab\n", `c.yaml:4: sources[0] (a.txt): delimiter: is for CSV sources`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			sameProblems(t, problems(t, err), []string{tt.want})
		})
	}
	if _, err := Parse("c.yaml", []byte("sources:\n  - path: a.yaml\n    format: csv\n    delimiter: \";\"\n")); err != nil {
		t.Errorf("a .yaml file read as CSV: %v", err)
	}
}

// identity.domains is checked as a source checks an address's domain: a
// domain no address can have (example.com., example..com) took every
// address of the organisation for an outsider's, and under app auth or
// admin access their creates were left out of the plan.
func TestDomainsAreCheckedAsAddressesAre(t *testing.T) {
	for _, d := range []string{"example.com.", "example..com", "-example.com", "exa_mple.com", ".example.com"} {
		_, err := Parse("c.yaml", []byte("sources: [{path: a.csv}]\nidentity:\n  domains: [\""+d+"\"]\n"))
		sameProblems(t, problems(t, err), []string{`c.yaml:3: identity.domains: "` + d + `" is not a domain`})
	}
	cfg, err := Parse("c.yaml", []byte("sources: [{path: a.csv}]\nidentity:\n  domains: [\"@Example.COM \", sub.example.org]\n"))
	if err != nil || len(cfg.Identity.Domains) != 2 || cfg.Identity.Domains[0] != "example.com" {
		t.Errorf("%v %v", cfg, err)
	}
}

// identity.cache_file and auth.token_file are written: naming a source or
// the config there replaced it (with the cache's JSON, on a plan too).
func TestWrittenFilesAreNotInputs(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.csv", "c.yaml"} {
		os.WriteFile(filepath.Join(dir, name), []byte("x\n"), 0o644)
	}
	path := filepath.Join(dir, "c.yaml")
	tests := []struct{ name, yaml, want string }{
		{"a cache over a source", "sources: [{path: a.csv}]\nidentity:\n  cache_file: ./a.csv\n", path + `:3: identity.cache_file ./a.csv is a source`},
		{"a cache over the config", "sources: [{path: a.csv}]\nidentity:\n  cache_file: c.yaml\n", path + `:3: identity.cache_file c.yaml is this config`},
		{"a token over a source", "sources: [{path: a.csv}]\nauth:\n  mode: oauth-user\n  credentials_file: k.json\n  token_file: a.csv\n", path + `:5: auth.token_file a.csv is a source`},
		{"a token over the key", "sources: [{path: a.csv}]\nauth:\n  mode: oauth-user\n  credentials_file: k.json\n  token_file: k.json\n", path + `:5: auth.token_file k.json is auth.credentials_file`},
		// The run reads the token, then writes the cache over it: the
		// refresh token was gone, and every later run refused.
		{"a cache over the token", "sources: [{path: a.csv}]\nauth:\n  mode: oauth-user\n  credentials_file: k.json\n  token_file: t.json\nidentity:\n  cache_file: ./t.json\n", path + `:7: identity.cache_file ./t.json is auth.token_file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(path, []byte(tt.yaml))
			sameProblems(t, problems(t, err), []string{tt.want})
		})
	}
}

// A file listed twice is read once, under its first entry's settings: a
// second entry reading it another way (columns: {member: Manager Email})
// was dropped with a warning, and under policy sync the people only it
// named would be removed. Listed twice alike is still only a warning.
func TestOneFileReadTwoWaysIsRefused(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hr.csv"), []byte("space,member,manager\n"), 0o644)
	path := filepath.Join(dir, "c.yaml")
	_, err := Parse(path, []byte("sources:\n  - path: hr.csv\n  - path: ./hr.csv\n    columns: {member: manager}\n"))
	sameProblems(t, problems(t, err), []string{path + `:3: sources[1] (` + filepath.Join(dir, "hr.csv") + `) is the file of sources[0], read with other settings`})
	if _, err := Parse(path, []byte("sources:\n  - path: hr.csv\n  - path: ./hr.csv\n")); err != nil {
		t.Errorf("listed twice alike: %v", err)
	}
}

// A format written out that the file's extension gives anyway (format:
// csv on hr.csv, format: YAML on a .yaml), or columns named as they are
// by default (config.example.yaml writes them out), read the file the same way:
// listed twice so, it is the warning it was, not an error.
func TestOneFileListedTwiceWithItsOwnFormatIsAlike(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hr.csv"), []byte("space,member\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "m.yaml"), []byte("spaces: []\n"), 0o644)
	path := filepath.Join(dir, "c.yaml")
	for _, sources := range []string{
		"  - path: hr.csv\n  - {path: ./hr.csv, format: csv}\n",
		"  - {path: m.yaml, format: YAML}\n  - path: m.yaml\n",
		"  - path: hr.csv\n  - {path: hr.csv, columns: {space: space, member: Member, role: role}}\n", // config.example.yaml's
	} {
		if _, err := Parse(path, []byte("sources:\n"+sources)); err != nil {
			t.Errorf("sources:\n%s: %v", sources, err)
		}
	}
}

// A file that is there under the name as written is that file: a source
// named team$eng.csv or ~draft.yaml, or a key file, was refused as a
// $VARIABLE or a home folder, though nothing was left to expand.
func TestAnInputThatIsThereIsNotAVariable(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"team$eng.csv", "~draft.yaml", "$key.json"} {
		os.WriteFile(filepath.Join(dir, name), []byte("x\n"), 0o600)
	}
	path := filepath.Join(dir, "c.yaml")
	yaml := "sources:\n  - path: team$eng.csv\n  - path: ~draft.yaml\nauth:\n  mode: service-account\n  credentials_file: $key.json\n"
	if _, err := Parse(path, []byte(yaml)); err != nil {
		t.Errorf("files named as they are: %v", err)
	}
	// Not there: the variable is what was meant, and is refused.
	_, err := Parse(path, []byte("sources:\n  - path: $EXPORTS/hr.csv\n"))
	sameProblems(t, problems(t, err), []string{path + `:2: sources[0].path "$EXPORTS/hr.csv": ~ and $VARIABLES`})
}
