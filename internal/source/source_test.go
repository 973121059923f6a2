package source

import (
	"errors"
	"os"
	"path/filepath"
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
		{"invalid utf-8", "a.csv", "space,member\nspaces/A,\xff\xfe@example.com\n", Spec{}, []string{`a.csv:2:10: invalid UTF-8`}},
		{"conflicting duplicate across files is per file; within file", "a.csv", "space,member,role\nspaces/A,a@example.com,manager\nspaces/A,a@example.com,owner\n", Spec{}, []string{`a.csv:3:10: a@example.com is listed twice in spaces/A with different roles: owner here, manager at `, `a.csv:2:10`}},
		{"group with role", "a.csv", "space,member,role\nspaces/A,groups/g,manager\n", Spec{}, []string{`a.csv:2:19: groups/g can't have a role`}},
		{"app with role", "a.csv", "space,member,role\nspaces/A,users/app,owner\n", Spec{}, []string{`a.csv:2:20: users/app can't have a role`}},
		{"group by email", "a.yaml", "spaces:\n  - space: spaces/A\n    members:\n      - {group: eng@example.com}\n", Spec{}, []string{`a.yaml:4: group "eng@example.com": name a group by its ID`}},
		{"bad space", "a.csv", "space,member\nspaces/a b,a@example.com\n", Spec{}, []string{`a.csv:2:1: space "spaces/a b" is not a space`}},
		{"unknown yaml key", "a.yaml", "spaces:\n  - space: spaces/A\n    memebers: [a@example.com]\n", Spec{}, []string{`a.yaml:3: unknown key "memebers"`, `a.yaml:2: space spaces/A has no members`}},
		{"yaml bad role line", "a.yaml", "spaces:\n  - space: spaces/A\n    members:\n      - a@example.com\n      - {user: b@example.com, role: boss}\n", Spec{}, []string{`a.yaml:5: unknown role "boss"`}},
		{"yaml syntax", "a.yaml", "spaces:\n  - space: [\n", Spec{}, []string{`a.yaml:2: invalid YAML`}},
		{"empty csv", "a.csv", "space,member,role\n", Spec{}, []string{`a.csv: source has no members`}},
		{"empty file", "a.yaml", "", Spec{}, []string{`a.yaml: source has no members`}},
		{"bad member", "a.csv", "space,member\nspaces/A,alice\n", Spec{}, []string{`a.csv:2:10: member "alice": not an email`}},
		{"unknown extension", "a.json", "{}", Spec{}, []string{`can't tell the format`}},
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
	for _, in := range []string{"@example.com", "a@", "a@b", "a b@example.com", "a@@example.com", "a@exa_mple.com", ".a@example.com", "a..b@example.com", "a@-x.com"} {
		if got, err := normaliseEmail(in); err == nil {
			t.Errorf("normaliseEmail(%q) = %q, want error", in, got)
		}
	}
}
