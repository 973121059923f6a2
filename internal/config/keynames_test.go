package config

import "testing"

// A value of the wrong type is named by its key, as every other problem
// is: "c.yaml:4: cannot unmarshal !!str `abc` into time.Duration" left an
// admin to count lines, and on a line of a flow mapping two keys share it.
func TestAValueOfTheWrongTypeNamesItsKey(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"a duration without its unit", "sources: [{path: a.csv}]\nlimits:\n  call_timeout: 5\n",
			[]string{`c.yaml:3: limits.call_timeout: "5" is not a duration: give its unit, e.g. 5s, 5m or 5h`}},
		{"a duration in words", "sources: [{path: a.csv}]\nlimits:\n  run_timeout: 5 minutes\n",
			[]string{`c.yaml:3: limits.run_timeout: "5 minutes" is not a duration (e.g. 30s, 5m or 1h)`}},
		{"two on one line", "sources: [{path: a.csv}]\nlimits: {call_timeout: abc, concurrency: lots}\n",
			[]string{`c.yaml:2: limits.call_timeout: "abc" is not a duration`, `c.yaml:2: limits.concurrency: "lots" is not a whole number`}},
		{"a fraction where a count is wanted", "sources: [{path: a.csv}]\nlimits:\n  max_attempts: 2.9\n",
			[]string{`c.yaml:3: limits.max_attempts: "2.9" is not a whole number`}},
		{"a boolean in quotes", "sources: [{path: a.csv}]\nremove_suspended: \"true\"\n",
			[]string{`c.yaml:2: remove_suspended: "true" is in quotes, a string: write true or false without them`}},
		{"a boolean that is not one", "sources: [{path: a.csv}]\nidentity:\n  directory: maybe\n",
			[]string{`c.yaml:3: identity.directory: "maybe" is not true or false`}},
		{"a number that is not one", "sources: [{path: a.csv}]\nlimits:\n  headroom: most\n",
			[]string{`c.yaml:3: limits.headroom: "most" is not a number`}},
		{"a limit", "sources: [{path: a.csv}]\nsafety:\n  max_removals: lots\n",
			[]string{`c.yaml:3: safety.max_removals: "lots" is not a limit: give a number (0 means none) or "unlimited"`}},
		{"a grace", "sources: [{path: a.csv}]\nsafety:\n  removal_grace: soon\n",
			[]string{`c.yaml:3: safety.removal_grace: "soon" is neither a count of runs (3) nor a duration (72h)`}},
		{"a list for a mapping", "sources: [{path: a.csv}]\nlimits:\n  - concurrency: 3\n",
			[]string{`c.yaml:3: limits: a list, where a mapping of keys is wanted`}},
		{"a string for a list", "sources: [{path: a.csv}]\nprotect: ceo@example.com\n",
			[]string{`c.yaml:2: protect: "ceo@example.com", where a list is wanted`}},
		{"a mapping in a list of strings", "sources: [{path: a.csv}]\nprotect:\n  - boss@example.com\n  - {x: 1}\n",
			[]string{`c.yaml:4: protect[1]: a mapping, where a single value is wanted`}},
		{"a source that is a string", "sources:\n  - a.csv\n",
			[]string{`c.yaml:2: sources[0]: "a.csv", where a mapping of keys is wanted`}},
		{"a path that is a list", "sources:\n  - path: [a]\n",
			[]string{`c.yaml:2: sources[0].path: a list, where a single value is wanted`}},
		{"through an alias", "sources: [{path: a.csv}]\nplan: {max_age: &t 5}\nlimits:\n  call_timeout: *t\n",
			[]string{`c.yaml:2: plan.max_age: "5" is not a duration`, `c.yaml:4: limits.call_timeout: "5" is not a duration`}},
		{"a config that is a list", "- sources: [{path: a.csv}]\n",
			[]string{`c.yaml:1: a list, where a mapping of keys is wanted (sources:, policy:, ...)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			sameProblems(t, problems(t, err), tt.want)
		})
	}
}
