package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/source"
)

// problems is every problem Parse reports, one "line: message" each.
func problems(t *testing.T, err error) []string {
	t.Helper()
	var errs source.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v; want source.Errors", err)
	}
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// A YAML syntax error in the config is reported at the line that breaks
// it, not where yaml.v3 says (where the construct around it began).
func TestConfigSyntaxErrorLine(t *testing.T) {
	head := "sources:\n  - path: a.csv\n  - path: b.yaml\nprotect:\n  - boss@example.com\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"an entry one space short", head + " - ann@example.com\n", `c.yaml:6: invalid YAML: `},
		{"an entry one space short, lines after it", head + "  - ann@example.com\n - bob@example.com\npolicy: sync\nsafety:\n  max_removals: 3\n", `c.yaml:7: invalid YAML: `},
		{"an unclosed flow mapping", head + "limits: {concurrency: 3\npolicy: sync\n", `c.yaml:6: invalid YAML: did not find expected ',' or '}'`},
		{"an unclosed list", "policy: sync\nprotect: [a@example.com,\n  b@example.com\nsources:\n  - path: a.csv\n", `c.yaml:3: invalid YAML: did not find expected ',' or ']'`},
		{"a tab for indentation", head + "limits:\n\tconcurrency: 3\n", `c.yaml:7: invalid YAML: found character that cannot start any token`},
		{"an unclosed quote", head + "schedule: \"0 6 * * *\npolicy: sync\n", `c.yaml:6: invalid YAML: found unexpected end of stream`},
		{"a bad indent in a nested mapping", "sources: [{path: a.csv}]\nlimits:\n  concurrency: 3\n    headroom: 0.9\n", `c.yaml:4: invalid YAML: mapping values are not allowed in this context`},
		{"the first line", "sources: [\n", `c.yaml:1: invalid YAML`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			got := problems(t, err)
			if len(got) != 1 || !strings.HasPrefix(got[0], tt.want) {
				t.Errorf("got %q, want one problem %q…", got, tt.want)
			}
		})
	}
}
