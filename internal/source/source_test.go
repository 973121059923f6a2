package source

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/membership"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// flat renders a desired state as "space member role" lines for comparison.
func flat(d membership.Desired) string {
	var b strings.Builder
	for _, s := range d.Spaces {
		for _, m := range s.Members {
			b.WriteString(s.Name + " " + string(m.Principal) + " " + m.Role.UIName() + "\n")
		}
	}
	return b.String()
}

func TestLoadValid(t *testing.T) {
	tests := []struct {
		name, file, content string
		spec                Spec
		want                string
	}{
		{
			name: "yaml all member forms",
			file: "a.yaml",
			content: `spaces:
  - space: spaces/AAA
    label: Eng
    members:
      - " Alice@Example.com "
      - {user: bob@example.com, role: manager}
      - {user: "110423456789", role: member}
      - {user: users/carol@example.com, role: ROLE_MANAGER}
      - {group: groups/03b2mn}
      - app
  - space: BBB
    members: [dave@example.com]
`,
			want: "spaces/AAA groups/03b2mn \nspaces/AAA users/110423456789 member\nspaces/AAA users/alice@example.com \nspaces/AAA users/app \nspaces/AAA users/bob@example.com manager\nspaces/AAA users/carol@example.com owner\nspaces/BBB users/dave@example.com \n",
		},
		{
			name:    "csv with BOM, CRLF, comments, blank lines",
			file:    "a.csv",
			content: "\xef\xbb\xbfspace,member,role\r\n# a comment\r\n\r\nspaces/AAA,Alice@example.com,\r\nspaces/AAA,bob@example.com,Manager\r\nAAA,groups/g1,\r\n",
			want:    "spaces/AAA groups/g1 \nspaces/AAA users/alice@example.com \nspaces/AAA users/bob@example.com manager\n",
		},
		{
			name:    "csv semicolons detected",
			file:    "a.csv",
			content: "space;member;role\nspaces/AAA;a@example.com;owner\n",
			want:    "spaces/AAA users/a@example.com owner\n",
		},
		{
			name:    "csv tabs detected, role column absent",
			file:    "a.tsv",
			content: "member\tspace\na@example.com\tspaces/AAA\n",
			want:    "spaces/AAA users/a@example.com \n",
		},
		{
			name:    "csv renamed columns, case-insensitive, extra columns",
			file:    "hr.csv",
			content: "Employee,Work Email,CHAT SPACE,Chat Role\nAlice,alice@example.com,spaces/AAA,member\n",
			spec:    Spec{Columns: Columns{Space: "Chat Space", Member: "work email", Role: "chat role"}},
			want:    "spaces/AAA users/alice@example.com member\n",
		},
		{
			name:    "csv configured delimiter",
			file:    "a.txt",
			content: "space|member\nspaces/AAA|a@example.com\n",
			spec:    Spec{Delimiter: "|"},
			want:    "spaces/AAA users/a@example.com \n",
		},
		{
			name:    "duplicates merge: same role, and unmanaged takes the managed role",
			file:    "a.csv",
			content: "space,member,role\nspaces/A,a@example.com,\nspaces/A,A@example.com,manager\nspaces/A,a@example.com,manager\nspaces/A,b@example.com,owner\nspaces/A,b@example.com,\n",
			want:    "spaces/A users/a@example.com manager\nspaces/A users/b@example.com owner\n",
		},
		{
			name:    "csv Excel sep=; first line is honoured and skipped",
			file:    "a.csv",
			content: "sep=;\r\nspace;member;role\r\nspaces/A;a@example.com;owner\r\n",
			want:    "spaces/A users/a@example.com owner\n",
		},
		{
			name:    "csv sep=, overrides a header that looks semicolon-delimited",
			file:    "a.csv",
			content: "SEP=,\nspace,member,note\nspaces/A,a@example.com,x;y;z\n",
			want:    "spaces/A users/a@example.com \n",
		},
		{
			name:    "csv sep= with a tab character",
			file:    "a.txt",
			content: "sep=\t\nspace\tmember\nspaces/A\ta@example.com\n",
			want:    "spaces/A users/a@example.com \n",
		},
		{
			name:    "csv sep=\\t written out, agreeing with the configured delimiter",
			file:    "a.txt",
			content: "sep=\\t\nspace\tmember\nspaces/A\ta@example.com\n",
			spec:    Spec{Delimiter: "tab"},
			want:    "spaces/A users/a@example.com \n",
		},
		{
			name:    "csv delimiter-only rows are skipped, even wider than the header",
			file:    "a.csv",
			content: "space,member,role\n,,\nspaces/A,a@example.com,\n , , \n,,,,,,\n\"\",\"\",\"\"\n",
			want:    "spaces/A users/a@example.com \n",
		},
		{
			name:    "csv delimiter-only rows before the header and with semicolons",
			file:    "a.csv",
			content: ";;\nspace;member\n;\nspaces/A;a@example.com\n;;;;\n",
			want:    "spaces/A users/a@example.com \n",
		},
		{
			// encoding/csv takes only an unquoted # first for a comment.
			name:    "csv a #name in an extra first column, quoted, is a row; # lines of another width are comments",
			file:    "a.csv",
			content: "channel,space,member\n\"#eng\",spaces/A,ann@example.com\nops,spaces/A,bob@example.com\n# a note\n#old,spaces/A\n#,,,\n",
			want:    "spaces/A users/ann@example.com \nspaces/A users/bob@example.com \n",
		},
		{
			// Prose of the header's width is no row: no space where the
			// space goes, or a space after the #.
			name:    "csv # notes of the header's width in a file whose first column is extra",
			file:    "a.csv",
			content: "name,space,member\n# reviewed by HR, IT, and Legal\n#Legal, HR, IT\n# Ann Smith,spaces/A,ann@example.com\nBob,spaces/A,bob@example.com\n",
			want:    "spaces/A users/bob@example.com \n",
		},
		{
			name:    "csv a row commented out on purpose, its first column read",
			file:    "a.csv",
			content: "space,member,channel\n#spaces/A,ann@example.com,#eng\nspaces/A,bob@example.com,#eng\n",
			want:    "spaces/A users/bob@example.com \n",
		},
		{
			name:    "csv a # beginning a line inside a quoted field is no comment",
			file:    "a.csv",
			content: "note,space,member\n\"two\n#lines,of,it\",spaces/A,ann@example.com\n",
			want:    "spaces/A users/ann@example.com \n",
		},
		{
			name:    "yaml tabs, CRLF, and characters past the BMP are text",
			file:    "a.yaml",
			content: "spaces:\r\n  - space: spaces/A\r\n    label: \"Eng\tteam \U0001F680 \u00a0\uFFFD\"\t# launch\r\n    members: [a@example.com]\r\n",
			want:    "spaces/A users/a@example.com \n",
		},
		{
			name:    "quoted fields with delimiters inside",
			file:    "a.csv",
			content: "space,member,role,note\nspaces/A,a@example.com,member,\"x, y\"\n",
			want:    "spaces/A users/a@example.com member\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			spec.Path = write(t, tt.file, tt.content)
			d, err := Load([]Spec{spec})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := flat(d); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, file, content string
		spec                Spec
		want                []string // each must appear, prefixed by file name
	}{
		{"bad role csv", "a.csv", "space,member,role\nspaces/A,a@example.com,admin\n", Spec{}, []string{`a.csv:2:24: unknown role "admin"`}},
		{"bad email csv", "a.csv", "space,member\nspaces/A,alice@@example.com\nspaces/A,bob@example\n", Spec{}, []string{`a.csv:2:10: member "alice@@example.com": malformed email`, `a.csv:3:10: member "bob@example": malformed email`}},
		{"ragged row", "a.csv", "space,member,role\nspaces/A,a@example.com\n", Spec{}, []string{`a.csv:2: row has 2 fields, the header has 3`}},
		{"missing column", "a.csv", "space,email\nspaces/A,a@example.com\n", Spec{}, []string{`a.csv:1: header has no "member" column`}},
		{"a column twice", "a.csv", "space,member,member\nspaces/A,a@example.com,b@example.com\n", Spec{}, []string{`a.csv:1: header names the "member" column 2 times`}},
		{"invalid utf-8", "a.csv", "space,member\nspaces/A,\xff\xfe@example.com\n", Spec{}, []string{`a.csv:2:10: invalid UTF-8`}},
		{"conflicting duplicate across files is per file; within file", "a.csv", "space,member,role\nspaces/A,a@example.com,manager\nspaces/A,a@example.com,owner\n", Spec{}, []string{`a.csv:3:10: a@example.com is listed twice in spaces/A with different roles: owner here, manager at `, `a.csv:2:10`}},
		{"group with role", "a.csv", "space,member,role\nspaces/A,groups/g,manager\n", Spec{}, []string{`a.csv:2:19: groups/g can't have a role`}},
		{"app with role", "a.csv", "space,member,role\nspaces/A,users/app,owner\n", Spec{}, []string{`a.csv:2:20: users/app can't have a role`}},
		{"group by email in CSV", "a.csv", "space,member\nspaces/A,groups/eng@example.com\n", Spec{}, []string{`a.csv:2:10: group "groups/eng@example.com": name a group by its ID (groups/{id}) or write group:EMAIL`}},
		{"a rule flag without its rule", "a.yaml", "spaces:\n  - space: spaces/A\n    members:\n      - {org_unit: /X, nested: true}\n", Spec{}, []string{`a.yaml:4: nested: goes with group_members:`}},
		{"two kinds in one entry", "a.yaml", "spaces:\n  - space: spaces/A\n    members:\n      - {group_members: a@example.com, org_unit: /X}\n", Spec{}, []string{`a.yaml:4: a member has one of user:, group:, group_members:, org_unit:, query:, not group_members: and org_unit:`}},
		{"a relative OU", "a.yaml", "spaces:\n  - space: spaces/A\n    members:\n      - {org_unit: Sales}\n", Spec{}, []string{`a.yaml:4: org_unit "Sales": an organisational unit is a path from the top`}},
		{"a row beginning with a spreadsheet's error value", "a.csv", "space,member\n# a comment\nspaces/A,ann@example.com\r\n#N/A,bob@example.com\n", Spec{}, []string{`a.csv:4: the row begins with "#N/A", a spreadsheet's error value`}},
		{"the same, first, semicolons", "a.csv", "#ref!;bob@example.com\nspace;member\n", Spec{}, []string{`a.csv:1: the row begins with "#ref!"`}},
		{"a spreadsheet's error value before another delimiter", "a.csv", "space,member\n#VALUE!;bob@example.com\n#N/A\tcarl@example.com\nspaces/A,ann@example.com\n", Spec{},
			[]string{`a.csv:2: the row begins with "#VALUE!", a spreadsheet's error value`, `a.csv:3: the row begins with "#N/A"`}},
		{"a #name in an extra first column", "a.csv", "channel,space,member\n#eng,spaces/A,ann@example.com\nops,spaces/A,bob@example.com\n", Spec{},
			[]string{`a.csv:2: the row begins with "#eng" in column "channel", which the syncer does not read; it would be read as a # comment and its member dropped: to keep the row, put the cell in double quotes ("#eng"); to leave it out, write "# " (a space after the #) or delete the line`}},
		{"the same, after a BOM, sep= and a comment", "a.csv", "\xef\xbb\xbfsep=;\r\nchannel;space;member\r\n# a; comment\r\n\"x\ny\";spaces/A;bob@example.com\r\n#eng;spaces/A;ann@example.com\r\n", Spec{},
			[]string{`a.csv:6: the row begins with "#eng" in column "channel"`}},
		{"CSV with lone CR line ends", "a.csv", "space,member\rspaces/A,ann@example.com\rspaces/A,bob@example.com\r", Spec{}, []string{`a.csv:1: the lines end with a lone CR`}},
		{"YAML in Latin-1", "a.yaml", "spaces:\n  - space: spaces/A\n    label: \"\xc9quipe\"\n    members: [a@example.com]\n", Spec{}, []string{`a.yaml:3: invalid UTF-8 in "label: \"`, `quipe\""; save the file as UTF-8`}},
		{"a NUL in a YAML value", "a.yaml", "spaces:\n  - space: spaces/A\n    label: Eng\x00ineering\n    members: [a@example.com]\n", Spec{},
			[]string{`a.yaml:3:15: control character U+0000 in "label: Eng\x00ineering": YAML allows tabs, line ends and printable characters; remove it`}},
		{"a YAML escape sequence pasted from a terminal, its column in characters", "a.yaml", "spaces:\r\n  - space: spaces/A\r\n    label: Équipe\x1b[0m\r\n    members: [a@example.com]\r\n", Spec{},
			[]string{`a.yaml:3:18: control character U+001B in "label: Équipe\x1b[0m"`}},
		{"a C1 control and a DEL in YAML", "a.yaml", "spaces:\n  - space: spaces/A\n    members: [a@example.com, \"b\u0086@example.com\", c\x7f@example.com]\n", Spec{},
			[]string{`a.yaml:3:32: control character U+0086`}},
		{"YAML in UTF-16 without a BOM", "a.yaml", utf16Text(false, "spaces:\n  - space: spaces/A\n    members: [a@example.com]\n"), Spec{},
			[]string{`a.yaml:1: the file looks like UTF-16 without a byte-order mark (a NUL in every other byte); save it as UTF-8`}},
		{"YAML in big-endian UTF-16 without a BOM", "a.yaml", utf16Text(true, "spaces:\n  - space: spaces/A\n    members: [a@example.com]\n"), Spec{},
			[]string{`a.yaml:1: the file looks like UTF-16 without a byte-order mark`}},
		{"an OU with a backslash", "a.yaml", "spaces:\n  - space: spaces/A\n    members:\n      - {org_unit: '/Sales\\East'}\n", Spec{}, []string{`a.yaml:4: org_unit "/Sales\\East": the path has a "\\", which a Directory query can't carry`}},
		{"a group by email with a role", "a.csv", "space,member,role\nspaces/A,group:eng@example.com,manager\n", Spec{}, []string{`a.csv:2:10: group "eng@example.com" can't have a role`}},
		{"group_members of no email", "a.csv", "space,member\nspaces/A,group_members:eng\n", Spec{}, []string{`a.csv:2:10: group_members: "eng": a group is named by its email here`}},
		{"bad space", "a.csv", "space,member\nspaces/a b,a@example.com\n", Spec{}, []string{`a.csv:2:1: space "spaces/a b" is not a space`}},
		{"unknown yaml key", "a.yaml", "spaces:\n  - space: spaces/A\n    memebers: [a@example.com]\n", Spec{}, []string{`a.yaml:3: unknown key "memebers"`, `a.yaml:2: space spaces/A has no members`}},
		{"yaml bad role line", "a.yaml", "spaces:\n  - space: spaces/A\n    members:\n      - a@example.com\n      - {user: b@example.com, role: boss}\n", Spec{}, []string{`a.yaml:5: unknown role "boss"`}},
		{"yaml syntax", "a.yaml", "spaces:\n  - space: [\n", Spec{}, []string{`a.yaml:2: invalid YAML`}},
		{"concatenated documents", "a.yaml", "spaces:\n  - space: spaces/A\n    members: [a@example.com]\n---\nspaces:\n  - space: spaces/B\n    members: [b@example.com]\n", Spec{}, []string{`a.yaml:4: a second YAML document (after ---)`}},
		{"empty csv", "a.csv", "space,member,role\n", Spec{}, []string{`a.csv: source has no members`}},
		{"empty file", "a.yaml", "", Spec{}, []string{`a.yaml: source has no members`}},
		{"bad member", "a.csv", "space,member\nspaces/A,alice\n", Spec{}, []string{`a.csv:2:10: member "alice": not an email`}},
		{"unknown extension", "a.json", "{}", Spec{}, []string{`can't tell the format`}},
		{"duplicate top-level spaces", "a.yaml", "spaces:\n  - space: spaces/A\n    members: [a@example.com]\nspaces:\n  - space: spaces/B\n    members: [b@example.com]\n", Spec{}, []string{`a.yaml:4: duplicate key "spaces" (first at line 1)`}},
		{"duplicate keys in a space", "a.yaml", "spaces:\n  - space: spaces/A\n    label: Eng\n    members: [a@example.com]\n    label: Sales\n    space: spaces/B\n    members: [b@example.com]\n", Spec{}, []string{`a.yaml:5: duplicate key "label" (first at line 3)`, `a.yaml:6: duplicate key "space" (first at line 2)`, `a.yaml:7: duplicate key "members" (first at line 4)`}},
		{"duplicate keys in a member", "a.yaml", "spaces:\n  - space: spaces/A\n    members:\n      - {user: a@example.com, role: owner, role: member}\n      - user: b@example.com\n        user: c@example.com\n      - {group: groups/g, group: groups/h}\n", Spec{}, []string{`a.yaml:4: duplicate key "role" (first at line 4)`, `a.yaml:6: duplicate key "user" (first at line 5)`, `a.yaml:7: duplicate key "group" (first at line 7)`}},
		{"space ID with #", "a.csv", "space,member\nspaces/AAA#x,a@example.com\n", Spec{}, []string{`a.csv:2:1: space "spaces/AAA#x" is not a space resource name (spaces/{id}) or ID: an ID is letters, digits, - and _`}},
		{"space ID with NUL", "a.yaml", "spaces:\n  - space: \"spaces/A\\0B\"\n    members: [a@example.com]\n", Spec{}, []string{`a.yaml:2: space "spaces/A\x00B" is not a space resource name`}},
		{"sep= names an unknown delimiter", "a.csv", "sep=:\nspace:member\nspaces/A:a@example.com\n", Spec{}, []string{`a.csv:1: sep= line names delimiter ":"; want "," ";" "|" or tab`}},
		{"sep= disagrees with the config", "a.csv", "sep=;\nspace;member\nspaces/A;a@example.com\n", Spec{Delimiter: ","}, []string{`a.csv:1: the file's sep= line says ";" but the source's delimiter: is ","`}},
		{"a row of blanks and text is not skipped", "a.csv", "space,member,role\n, ,x\n", Spec{}, []string{`a.csv:2:1: space "" is not a space resource name (spaces/{id}) or ID: an ID is letters, digits, - and _`}},
		{"an empty members list", "a.yaml", "spaces:\n  - space: spaces/A\n    members: [a@example.com]\n  - space: spaces/B\n    members: []\n", Spec{}, []string{`a.yaml:5: space spaces/B has an empty members: list`}},
		{"allow_empty that is not a flag", "a.yaml", "spaces:\n  - space: spaces/B\n    allow_empty: sure\n    members: []\n", Spec{}, []string{`a.yaml:3: allow_empty: "sure" is not true or false`}},
		{"sep= and a header that disagree", "a.csv", "sep=,\nspace;member\nspaces/A;a@example.com\n", Spec{}, []string{`a.csv:2: the sep= line (line 1) says the delimiter is ",", but this header is separated by ";"`}},
		{"bare quote", "a.csv", "space,member\nspaces/A,a\"b@example.com\nspaces/A,ok@example.com\n", Spec{}, []string{`a.csv:2:11: malformed CSV`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			spec.Path = write(t, tt.file, tt.content)
			d, err := Load([]Spec{spec})
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load = %v, %v; want Errors", flat(d), err)
			}
			if len(d.Spaces) != 0 {
				t.Errorf("a failed load returned %d spaces", len(d.Spaces))
			}
			got := strings.ReplaceAll(err.Error(), filepath.Dir(spec.Path)+string(filepath.Separator), "")
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("errors\n%s\nlack %q", got, w)
				}
			}
		})
	}
}

// utf16Text is ASCII text as UTF-16 without a byte-order mark.
func utf16Text(bigEndian bool, ascii string) string {
	var b strings.Builder
	for i := 0; i < len(ascii); i++ {
		if bigEndian {
			b.WriteByte(0)
		}
		b.WriteByte(ascii[i])
		if !bigEndian {
			b.WriteByte(0)
		}
	}
	return b.String()
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load([]Spec{{Path: filepath.Join(t.TempDir(), "nope.csv")}})
	if err == nil || !strings.Contains(err.Error(), "nope.csv: can't read source: no such file") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadMergesAcrossFiles(t *testing.T) {
	a := write(t, "a.yaml", "spaces:\n  - space: spaces/A\n    label: Eng\n    members: [{user: a@example.com, role: manager}]\n")
	b := write(t, "b.csv", "space,member,role\nspaces/A,a@example.com,owner\nspaces/A,b@example.com,\n")
	_, err := Load([]Spec{{Path: a}, {Path: b}})
	if err == nil || !strings.Contains(err.Error(), "b.csv:2:10: a@example.com is listed twice in spaces/A with different roles: owner here, manager at "+a+":4") {
		t.Fatalf("err = %v", err)
	}
}

func TestNormaliseEmail(t *testing.T) {
	good := map[string]string{" A.B+tag@Example.COM ": "a.b+tag@example.com", "x@sub.example.co.uk": "x@sub.example.co.uk"}
	for in, want := range good {
		if got, err := normaliseEmail(in); err != nil || got != want {
			t.Errorf("normaliseEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"a/b@example.com", "a?b@example.com", "a#b@example.com", "a%2f@example.com", "@example.com", "a@", "a@b", "a b@example.com", "a@@example.com", "a@exa_mple.com", ".a@example.com", "a..b@example.com", "a@-x.com",
		// Letters that lower-case to ASCII: another address than the one
		// written (the Kelvin sign, a Turkish dotted capital I).
		"\u212Aate@example.com", "\u0130van@example.com", "ann@e\u212Aample.com"} {
		if got, err := normaliseEmail(in); err == nil {
			t.Errorf("normaliseEmail(%q) = %q, want error", in, got)
		}
	}
}

func TestParseSpace(t *testing.T) {
	good := map[string]string{
		"spaces/AAAAbbbbCCC": "spaces/AAAAbbbbCCC",
		"AAQAx-y_z":          "spaces/AAQAx-y_z",
		" spaces/A1 ":        "spaces/A1",
	}
	for in, want := range good {
		if got, err := parseSpace(in); err != nil || got != want {
			t.Errorf("parseSpace(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{"", "spaces/", "spaces/AAA#x", "spaces/AAA?x=1", "spaces/../x", "..", "spaces/%2e%2e",
		"spaces/A/members/B", "spaces/A\x00B", "spaces/a b", "spaces/A.B", "spaces/spaces/A", "Spaces/A",
		"spaces/é", "a@example.com", strings.Repeat("A", maxNameLen+1)}
	for _, in := range bad {
		if got, err := parseSpace(in); err == nil {
			t.Errorf("parseSpace(%q) = %q, want error", in, got)
		}
	}
}

// Files that are not CSV text get one message saying what they are, not a
// header error (which would wrongly suggest columns:) or an error per row.
func TestLoadRefusesNonCSV(t *testing.T) {
	const (
		utf16    = `a.csv: file is UTF-16 ("Unicode text"); save it as CSV UTF-8`
		workbook = `a.csv: this is an Excel workbook, not CSV; export it as CSV UTF-8`
	)
	header := "space,member\nspaces/A,a@example.com\n"
	tests := []struct{ name, content, want string }{
		{"UTF-16LE with BOM", "\xff\xfe" + utf16LE(header), utf16},
		{"UTF-16BE with BOM", "\xfe\xff" + utf16BE(header), utf16},
		{"UTF-16LE without BOM", utf16LE(header), utf16},
		{"UTF-16BE without BOM", utf16BE(header), utf16},
		{"xlsx renamed", "PK\x03\x04\x14\x00\x06\x00", workbook},
		{"xls renamed", "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", workbook},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(t, "a.csv", tt.content)
			_, err := Load([]Spec{{Path: p}})
			if got := strings.ReplaceAll(fmt.Sprint(err), filepath.Dir(p)+string(filepath.Separator), ""); got != tt.want {
				t.Errorf("err =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func utf16LE(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		b.WriteByte(0)
	}
	return b.String()
}

func utf16BE(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(0)
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"a\tb", `"a\tb"`},
		{strings.Repeat("x", maxQuoted), `"` + strings.Repeat("x", maxQuoted) + `"`},
		{strings.Repeat("x", maxQuoted+1), `"` + strings.Repeat("x", maxQuoted) + `"…(81 bytes)`},
		{strings.Repeat("é", 100), `"` + strings.Repeat("é", maxQuoted) + `"…(200 bytes)`},
	}
	for _, tt := range tests {
		if got := quote(tt.in); got != tt.want {
			t.Errorf("quote(%.20q…) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// A runaway value (a whole file in one field) must not be echoed whole.
func TestLongValuesAreShortened(t *testing.T) {
	long := strings.Repeat("x", 1<<20) // 10 MB behaves the same, only slower
	tests := []struct{ name, file, content, want string }{
		{"member", "a.csv", "space,member\nspaces/A," + long + "\n", `a.csv:2:10: member "xxx`},
		{"email", "a.csv", "space,member\nspaces/A," + long + "@example.com\n", `a.csv:2:10: member "xxx`},
		{"group", "a.yaml", "spaces:\n  - space: spaces/A\n    members: [{group: groups/" + long + "}]\n", `a.yaml:3: group "groups/xxx`},
		{"space", "a.csv", "space,member\nspaces/" + long + ",a@example.com\n", `a.csv:2:1: space "spaces/xxx`},
		{"role", "a.csv", "space,member,role\nspaces/A,a@example.com," + long + "\n", `a.csv:2:24: unknown role "xxx`},
		{"header", "a.csv", "space," + long + "\nspaces/A,a@example.com\n", `a.csv:1: header has no "member" column (header is "space,xxx`},
		{"ragged row", "a.csv", "space,member,role\nspaces/A," + long + "\n", `a.csv:2: row has 2 fields, the header has 3 ("spaces/A|xxx`},
		{"invalid UTF-8", "a.csv", "space,member\nspaces/A,\xff" + long + "\n", "a.csv:2:10: invalid UTF-8 in \"\ufffdxxx"},
		{"yaml key", "a.yaml", "spaces:\n  - space: spaces/A\n    ? " + long + "\n    : 1\n    members: [a@example.com]\n", `a.yaml:3: unknown key "xxx`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(t, tt.file, tt.content)
			_, err := Load([]Spec{{Path: p}})
			if err == nil {
				t.Fatal("Load succeeded")
			}
			got := strings.ReplaceAll(err.Error(), filepath.Dir(p)+string(filepath.Separator), "")
			if len(got) > 1000 || !strings.Contains(got, tt.want) || !strings.Contains(got, " bytes)") {
				t.Errorf("error (%d bytes) lacks %q or a shortened value:\n%.1000s", len(got), tt.want, got)
			}
		})
	}
}

func TestLoadRefusesHugeSource(t *testing.T) {
	p := write(t, "a.csv", "")
	if err := os.Truncate(p, maxSourceSize+1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	_, err := Load([]Spec{{Path: p}})
	want := p + ": can't read source: file too large: 256.1 MiB, over the 256 MiB limit; split it into several sources"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

// Windows Notepad's "Unicode" (UTF-16LE with a byte-order mark) is YAML
// that yaml.v3 reads; a third document after an empty second is refused.
func TestYAMLInUTF16AndAThirdDocument(t *testing.T) {
	text := "spaces:\n  - space: spaces/A\n    label: \"\u00c9quipe\"\n    members: [a@example.com]\n"
	u16 := []byte{0xff, 0xfe}
	for _, r := range text {
		u16 = append(u16, byte(r), byte(r>>8))
	}
	p := write(t, "a.yaml", string(u16))
	if d, err := Load([]Spec{{Path: p}}); err != nil || len(d.Spaces) != 1 || d.Spaces[0].Label != "\u00c9quipe" {
		t.Errorf("a UTF-16 YAML source: %v %+v", err, d.Spaces)
	}
	p = write(t, "b.yaml", "spaces:\n  - space: spaces/A\n    members: [a@example.com]\n---\n---\nspaces:\n  - space: spaces/B\n    members: [b@example.com]\n")
	if _, err := Load([]Spec{{Path: p}}); err == nil || !strings.Contains(err.Error(), "a second YAML document") {
		t.Errorf("a third document: %v", err)
	}
}

// A YAML source takes about 12 times its size to read: past 64 MiB it is
// refused, with the way out.
func TestLoadRefusesHugeYAML(t *testing.T) {
	p := write(t, "a.yaml", "")
	if err := os.Truncate(p, maxYAMLSize+1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	_, err := Load([]Spec{{Path: p}})
	if err == nil || !strings.Contains(err.Error(), "a.yaml: a YAML source over 64 MiB (this one is 64 MiB)") || !strings.Contains(err.Error(), "as CSV") {
		t.Fatalf("err = %v", err)
	}
}

// The same file listed twice, by another spelling or through a symlink, is
// read once, with a warning: reading it twice only doubles the work.
func TestLoadWithWarningsSameFileTwice(t *testing.T) {
	p := write(t, "a.csv", "space,member\nspaces/A,a@example.com\n")
	dir := filepath.Dir(p)
	link := filepath.Join(dir, "link.csv")
	if err := os.Symlink(p, link); err != nil {
		t.Skipf("symlink: %v", err)
	}
	t.Chdir(dir)
	specs := []Spec{
		{Path: p},
		{Path: "./a.csv", Columns: Columns{Member: "not read"}}, // would fail if read
		{Path: link},
	}
	d, warnings, err := LoadWithWarnings(specs)
	if err != nil {
		t.Fatalf("LoadWithWarnings: %v", err)
	}
	if got := flat(d); got != "spaces/A users/a@example.com \n" {
		t.Errorf("desired = %q", got)
	}
	want := []string{
		"./a.csv: the same file as " + p + ", listed twice in sources; it is read once",
		link + ": the same file as " + p + ", listed twice in sources; it is read once",
	}
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings =\n%s\nwant\n%s", strings.Join(warnings, "\n"), strings.Join(want, "\n"))
	}
	if _, err := Load(specs); err != nil {
		t.Errorf("Load: %v", err)
	}
}

func TestPolicyPerSpaceAndTotals(t *testing.T) {
	a := write(t, "a.yaml", "spaces:\n  - space: spaces/A\n    policy: sync\n    members: [a@example.com, b@example.com]\n  - space: spaces/B\n    members: [c@example.com]\n")
	b := write(t, "b.csv", "space,member\nspaces/A,d@example.com\n")
	d, err := Load([]Spec{{Path: a}, {Path: b}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Spaces[0].Policy != "sync" || d.Spaces[0].PolicyAt.Line != 3 || d.Spaces[1].Policy != "" {
		t.Errorf("policies %+v", d.Spaces)
	}
	if d.Totals[a] != 3 || d.Totals[b] != 1 {
		t.Errorf("totals %v", d.Totals)
	}
	c := write(t, "c.yaml", "spaces:\n  - space: spaces/A\n    policy: upsert\n    members: [e@example.com]\n")
	_, err = Load([]Spec{{Path: a}, {Path: c}})
	if err == nil || !strings.Contains(err.Error(), `c.yaml:3: policy "upsert" of spaces/A disagrees with policy "sync" at `+a+":3") {
		t.Errorf("err = %v", err)
	}
	_, err = Load([]Spec{{Path: write(t, "d.yaml", "spaces:\n  - space: spaces/A\n    policy: mirror\n    members: [e@example.com]\n")}})
	if err == nil || !strings.Contains(err.Error(), `d.yaml:3: policy "mirror" of spaces/A: want create-only, upsert or sync`) {
		t.Errorf("err = %v", err)
	}
}

func TestLoadRules(t *testing.T) {
	y := write(t, "rules.yaml", `spaces:
  - space: spaces/A
    members:
      - {group_members: Eng@Example.com, role: member}
      - {group_members: leads@example.com, role: manager, nested: true}
      - {org_unit: /Engineering/Platform/, include_children: false}
      - {query: "orgDepartment='Sales' isSuspended=false", role: member, allow_empty: true}
      - {group: eng-all@example.com}
      - {group: groups/03b2mn}
      - bob@example.com
`)
	c := write(t, "rules.csv", "space,member,role\nspaces/B,group_members:eng@example.com,owner\nspaces/B,org_unit:/Sales,\nspaces/B,\"query:orgDepartment='R&D'\",member\nspaces/B,group:all@example.com,\n")
	d, err := Load([]Spec{{Path: y}, {Path: c}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range d.Spaces {
		for _, r := range s.Rules {
			got = append(got, fmt.Sprintf("%s %s %s nested=%v children=%v empty=%v @%d", s.Name, r.Describe(), r.Role.UIName(), r.Nested, r.IncludeChildren, r.AllowEmpty, r.Source.Line))
		}
	}
	want := []string{
		"spaces/A group_members eng@example.com member nested=false children=true empty=false @4",
		"spaces/A group_members leads@example.com (nested) manager nested=true children=true empty=false @5",
		"spaces/A org_unit /Engineering/Platform (this unit only)  nested=false children=false empty=false @6",
		"spaces/A query orgDepartment='Sales' isSuspended=false member nested=false children=true empty=true @7",
		"spaces/A group eng-all@example.com  nested=false children=true empty=false @8",
		"spaces/B group_members eng@example.com owner nested=false children=true empty=false @2",
		"spaces/B org_unit /Sales  nested=false children=true empty=false @3",
		"spaces/B query orgDepartment='R&D' member nested=false children=true empty=false @4",
		"spaces/B group all@example.com  nested=false children=true empty=false @5",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rules\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(d.Spaces[0].Members) != 2 || d.Totals[y] != 7 || d.Totals[c] != 4 {
		t.Errorf("members %v, totals %v", d.Spaces[0].Members, d.Totals)
	}
}

// A source that lists people twice with different roles in many spaces
// reports them in the same order on every run, by space (the spaces were
// walked in a map's order).
func TestConflictsAreReportedInTheSameOrder(t *testing.T) {
	var b strings.Builder
	b.WriteString("space,member,role\n")
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&b, "spaces/S%02d,a@example.com,member\nspaces/S%02d,a@example.com,manager\n", 29-i, 29-i)
	}
	path := write(t, "a.csv", b.String())
	_, _, first := LoadWithWarnings([]Spec{{Path: path}})
	if first == nil {
		t.Fatal("accepted")
	}
	for i := 0; i < 10; i++ {
		if _, _, err := LoadWithWarnings([]Spec{{Path: path}}); err == nil || err.Error() != first.Error() {
			t.Fatalf("read again, the errors come in another order:\n%v\nthen:\n%v", first, err)
		}
	}
	if i, j := strings.Index(first.Error(), "spaces/S00 "), strings.Index(first.Error(), "spaces/S29 "); i < 0 || j < 0 || i > j {
		t.Errorf("errors not in space order:\n%v", first)
	}
}

// The shrink check compares each file's total run to run. An export that
// repeats a row in place of one it lost keeps its row count: the total
// counts memberships. The same member in two files counts in each.
func TestTotalsCountMembershipsNotRows(t *testing.T) {
	dir := t.TempDir()
	hr := filepath.Join(dir, "hr.csv")
	os.WriteFile(hr, []byte("space,member,role\nspaces/A,alice@example.com,owner\nspaces/A,bob@example.com,\nspaces/A,bob@example.com,\nspaces/A,Bob@example.com,\nspaces/B,bob@example.com,\n"), 0o644)
	extra := filepath.Join(dir, "extra.csv")
	os.WriteFile(extra, []byte("space,member\nspaces/A,bob@example.com\nspaces/A,carol@example.com\n"), 0o644)
	d, err := Load([]Spec{{Path: hr}, {Path: extra}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Totals[hr] != 3 || d.Totals[extra] != 2 {
		t.Errorf("totals hr.csv %d (want 3: 5 rows, bob twice more in A), extra.csv %d (want 2)", d.Totals[hr], d.Totals[extra])
	}
}
