package source

import (
	"errors"
	"strings"
	"testing"
)

// yamlHead is a valid start every case below continues: lines 1-4.
const yamlHead = "spaces:\n  - space: spaces/T0\n    members:\n      - u1@example.com\n"

// A YAML syntax error is reported at the line holding the mistake, not
// where yaml.v3 says: the start of the construct around it (often line 1),
// counted from 0 for parser errors.
func TestYAMLSyntaxErrorLine(t *testing.T) {
	tests := []struct {
		name, content string
		line          int
		msg           string
	}{
		{"an item one space short", yamlHead + "     - u2@example.com\n", 5, "invalid YAML: did not find expected key"},
		{"an item one space short, lines after it", yamlHead + "     - u2@example.com\n      - u3@example.com\n  - space: spaces/T1\n    members: [a@example.com]\n", 5, "invalid YAML: did not find expected key"},
		{"an unclosed flow mapping", yamlHead + "      - {user: u2@example.com, role: owner\n", 5, "invalid YAML: did not find expected ',' or '}'"},
		{"an unclosed flow mapping, lines after it", yamlHead + "      - {user: u2@example.com, role: owner\n      - u3@example.com\n  - space: spaces/T1\n    members: [a@example.com]\n", 5, "invalid YAML: did not find expected ',' or '}'"},
		{"a key inside the spaces list", yamlHead + "  bad: [\n", 5, "invalid YAML: did not find expected '-' indicator"},
		{"a bad indent at line 7", yamlHead + "      - u2@example.com\n      - u3@example.com\n     - u4@example.com\n      - u5@example.com\n", 7, "invalid YAML: did not find expected key"},
		{"a bad indent at line 7 of a second space", "spaces:\n  - space: spaces/T0\n    members: [u1@example.com]\n  - space: spaces/T1\n    members:\n      - u2@example.com\n     - u3@example.com\n", 7, "invalid YAML: did not find expected key"},
		{"a tab for indentation", yamlHead + "\t- u2@example.com\n", 5, "invalid YAML: found a tab character that violates indentation"},
		{"an unclosed quote", yamlHead + "      - \"u2@example.com\n      - u3@example.com\n  - space: spaces/T1\n    members: [a@example.com]\n", 5, "invalid YAML: found unexpected end of stream"},
		{"a key without its colon", "spaces:\n  - space: spaces/T0\n    label\n    members: [a@example.com]\n", 3, "invalid YAML: could not find expected ':'"},
		{"a value with a colon", "spaces:\n  - space: spaces/T0\n    label: a: b\n    members: [a@example.com]\n", 3, "invalid YAML: mapping values are not allowed in this context"},
		{"a list item in a mapping", "spaces:\n  space: spaces/T0\n  - members: [a@example.com]\n", 3, "invalid YAML: did not find expected key"},
		{"an unclosed list after one written over lines", "spaces:\n  - space: spaces/T0\n    members: [a@example.com,\n      b@example.com]\n  - space: spaces/T1\n    members: [x@example.com, y@example.com\n  - space: spaces/T2\n    members: [z@example.com]\n", 6, "invalid YAML: did not find expected ',' or ']'"},
		{"a value with a colon after a list written over lines", "spaces:\n  - space: spaces/T0\n    members: [a@example.com,\n      b@example.com]\n  - space: spaces/T1\n    members: [x@example.com]\n    label: a: b\n", 7, "invalid YAML: mapping values are not allowed in this context"},
		{"a bad indent after a quoted label written over lines", "spaces:\n  - space: spaces/T0\n    label: \"Eng\n      team\"\n    members:\n      - a@example.com\n     - b@example.com\n", 7, "invalid YAML: did not find expected key"},
		{"a bad indent in a second document", yamlHead + "---\nspaces:\n  - space: spaces/T1\n    members:\n      - a@example.com\n     - b@example.com\n", 10, "invalid YAML: did not find expected key"},
		{"CRLF line ends", strings.ReplaceAll(yamlHead+"     - u2@example.com\n      - u3@example.com\n", "\n", "\r\n"), 5, "invalid YAML: did not find expected key"},
		// yaml.v3 ends a line at a lone CR too (classic Mac line ends), as
		// editors do: such a file is not one line.
		{"CR line ends", strings.ReplaceAll(yamlHead+"     - u2@example.com\n      - u3@example.com\n", "\n", "\r"), 5, "invalid YAML: did not find expected key"},
		{"CR line ends, a bad indent at line 7", strings.ReplaceAll(yamlHead+"      - u2@example.com\n      - u3@example.com\n     - u4@example.com\n      - u5@example.com\n", "\n", "\r"), 7, "invalid YAML: did not find expected key"},
		{"no line end after the mistake", yamlHead + "     - u2@example.com", 5, "invalid YAML: did not find expected key"},
		{"the first line", "spaces: [\n", 1, "invalid YAML: "},
		// Not syntax errors: the reader's own, which always had their line.
		{"a duplicate key", yamlHead + "    members: [u2@example.com]\n", 5, `duplicate key "members" (first at line 3)`},
		{"a mapping where a list is expected", "spaces:\n  - space: spaces/T0\n    members:\n      user: u1@example.com\n", 4, "members: of spaces/T0 must be a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load([]Spec{{Path: write(t, "a.yaml", tt.content)}})
			var errs Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("err = %v; want one problem", err)
			}
			if e := errs[0]; e.At.Line != tt.line || !strings.HasPrefix(e.Msg, tt.msg) {
				t.Errorf("got %s\nwant line %d: %s", e, tt.line, tt.msg)
			}
		})
	}
}

// The line searched for is between 1 and the last line, whatever the text
// and the error; above maxYAMLBisect yaml.v3's line is kept.
func TestYAMLSyntaxErrorLineBounds(t *testing.T) {
	err := errors.New("yaml: line 99: did not find expected key")
	if line, msg := YAMLSyntaxError([]byte("a: b\nc: d\n"), err); line != 2 || msg != "did not find expected key" {
		t.Errorf("an error that is not the text's: line %d %q, want 2 (the last line)", line, msg)
	}
	if line, _ := YAMLSyntaxError([]byte("a: [\n"), errors.New("yaml: did not find expected node content")); line != 1 {
		t.Errorf("no line from yaml.v3: line %d, want 1", line)
	}
	big := []byte(strings.Repeat("- a\n", maxYAMLBisect/4) + " - b: [\n")
	if line, _ := YAMLSyntaxError(big, errors.New("yaml: line 3: did not find expected '-' indicator")); line != 3 {
		t.Errorf("over the bound: line %d, want yaml.v3's 3", line)
	}
	if line, _ := YAMLSyntaxError(nil, errors.New("yaml: line 3: x")); line != 0 {
		t.Errorf("no text: line %d, want 0", line)
	}
}
