package config

import (
	"testing"
)

// yaml.v3's KnownFields refused an unknown key wherever it was decoded
// from: a mapping merged in with <<, or an alias (*a) standing for a
// mapping written elsewhere. A key misspelt there is as ignored as any
// other: a safety rail that is not set, a delimiter that is not used.
func TestUnknownKeysInMergesAndAliasesAreRefused(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"a mapping merged in place", "sources: [{path: a.csv}]\nsafety:\n  <<: {max_removal: 5}\n",
			[]string{`c.yaml:3: unknown key "max_removal"`}},
		{"an anchor made where it is merged", "sources:\n  - <<: &csv {format: csv, delimter: \";\"}\n    path: a.csv\n  - <<: *csv\n    path: b.csv\n",
			[]string{`c.yaml:2: unknown key "delimter"`}},
		{"a list of merges", "sources: [{path: a.csv}]\nsafety:\n  <<: [{max_removals: 5}, {max_removal_prcent: 5}]\n",
			[]string{`c.yaml:3: unknown key "max_removal_prcent"`}},
		{"an alias of a mapping of another type", "sources: [{path: a.csv}]\nlimits: &l {concurrency: 3}\nsafety: *l\n",
			[]string{`c.yaml:2: unknown key "concurrency"`}},
		{"a merge of a mapping of another type", "sources: [{path: a.csv}]\nlimits: &l {concurrency: 3}\nsafety:\n  <<: *l\n  max_removals: 5\n",
			[]string{`c.yaml:2: unknown key "concurrency"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("accepted; want %v", tt.want)
			}
			sameProblems(t, problems(t, err), tt.want)
		})
	}
	// What merges and aliases may do is still done, and said once.
	for name, y := range map[string]string{
		"a source repeated":            "sources:\n  - &s {path: a.csv}\n  - *s\n",
		"a source merged and extended": "sources:\n  - &s {path: a.csv, format: csv}\n  - <<: *s\n    path: b.csv\n",
		"an override of a merged key":  "sources: [{path: a.csv}]\nsafety:\n  <<: &r {max_removals: 5}\n  max_removals: 3\nplan:\n  <<: {}\n",
	} {
		if _, err := Parse("c.yaml", []byte(y)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
