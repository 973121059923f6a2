package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func sameProblems(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d problems, want %d:\n%s\nwant:\n%s", len(got), len(want), strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d:\n got %s\nwant %s…", i+1, got[i], want[i])
		}
	}
}

// The file's own comment: every problem is reported, none is ignored. A
// refused protect entry was hidden behind the limits that did not decode.
func TestRemovalRailsReportsEveryProblem(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "invalid", "removal-rails.config.yaml")
	_, err := Load(path)
	sameProblems(t, problems(t, err), []string{
		path + `:5: protect: "*@": a domain pattern is *@example.com`,
		path + `:7: safety.max_removals: "lots" is not a limit`,
		path + `:8: safety.removal_grace: "soon" is neither a count of runs (3) nor a duration (72h)`,
	})
}

// One problem hides none: unknown keys, keys written twice, values of the
// wrong type and values out of range are all reported, in file order.
func TestEveryConfigProblemIsReported(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"an unknown key and a bad value", "sources: [{path: a.csv}]\npolciy: upsert\nprotect: [\"*@\"]\n",
			[]string{`c.yaml:2: unknown key "polciy"`, `c.yaml:3: protect: "*@": a domain pattern`}},
		{"a bad value before an unknown key", "sources: [{path: a.csv}]\npolicy: mirror\nlimits:\n  concurency: 3\n",
			[]string{`c.yaml:2: unknown policy "mirror"`, `c.yaml:4: unknown key "concurency"`}},
		{"all four kinds", "sources:\n  - path: a.csv\npolciy: upsert\nprotect: [\"*@\"]\nlimits:\n  concurrency: lots\n  headroom: 2\nsafety: {max_removals: lots, max_removal_percent: 150}\n",
			[]string{
				`c.yaml:3: unknown key "polciy"`,
				`c.yaml:4: protect: "*@"`,
				`c.yaml:6: limits.concurrency: "lots" is not a whole number`,
				`c.yaml:7: limits.headroom is 2`,
				`c.yaml:8: safety.max_removals: "lots" is not a limit`,
				`c.yaml:8: safety.max_removal_percent is 150`,
			}},
		{"a key written twice", "sources: [{path: a.csv}]\npolicy: sync\nprotect: [\"*@\"]\npolicy: upsert\nlimits: {concurrency: -1, concurency: 2}\n",
			[]string{`c.yaml:3: protect: "*@"`, `c.yaml:4: duplicate key "policy" (first at line 2)`, `c.yaml:5: unknown key "concurency"`, `c.yaml:5: limits.concurrency is -1`}},
		{"an unknown key in a source beside a bad format", "sources:\n  - path: a.csv\n    colums: {}\n    format: xlsx\n",
			[]string{`c.yaml:3: unknown key "colums"`, `c.yaml:4: sources[0] (a.csv): unknown format "xlsx"`}},
		{"protect entries at their own lines", "sources: [{path: a.csv}]\nprotect:\n  - boss@example.com\n  - \"*@\"\n  - {x: 1}\n  - \"a*@x.com\"\n",
			[]string{`c.yaml:4: protect: "*@"`, `c.yaml:5: protect[2]: a mapping, where a single value is wanted`, `c.yaml:6: protect: "a*@x.com"`}},
		// What did not decode says so once; no second problem follows from it.
		{"sources that are not a list", "sources: lots\n", []string{`c.yaml:1: sources: "lots", where a list is wanted`}},
		{"a source that is not a mapping", "sources: [lots, {path: a.csv, format: xlsx}]\n",
			[]string{`c.yaml:1: sources[0]: "lots", where a mapping of keys is wanted`, `c.yaml:1: sources[1] (a.csv): unknown format "xlsx"`}},
		{"a path that is not a string", "sources:\n  - path: [a]\n  - format: csv\n",
			[]string{`c.yaml:2: sources[0].path: a list, where a single value is wanted`, `c.yaml:3: sources[1] has no path`}},
		{"a null sources list", "sources: [~]\n", []string{`c.yaml:1: no sources`}},
		{"no sources key", "policy: mirror\n", []string{`c.yaml:1: unknown policy "mirror"`, `c.yaml: no sources`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			sameProblems(t, problems(t, err), tt.want)
		})
	}
}

// An entry written as an alias (*s) still counts in the sources' places.
func TestSourcesNamedByTheirPlaceThroughAliases(t *testing.T) {
	_, err := Parse("c.yaml", []byte("sources:\n  - &s {path: a.csv}\n  - *s\n  - {path: b.csv, format: xlsx}\n"))
	sameProblems(t, problems(t, err), []string{`c.yaml:4: sources[2] (b.csv): unknown format "xlsx"`})
}
