package report

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/syncer-dev/syncer/internal/diff"
	m "github.com/syncer-dev/syncer/internal/membership"
)

// controlsPlan carries, in every field a report shows, text the run does not
// control: addresses and labels from the Chat API and the Directory, errors
// from Google, values from sources.
func controlsPlan() diff.Plan {
	const bad = "\x1b]8;;http://evil\x1b\\\x1b[2J\r\b\u202e\u200b\x7f\u0085"
	p := diff.Plan{Policy: diff.Sync, Applied: true,
		Spaces: []diff.SpaceSummary{{Name: "spaces/A", Label: "Eng" + bad, Listed: true}, {Name: "spaces/B", Label: "B" + bad, Error: "503" + bad}},
		Changes: []diff.Change{
			{Space: "spaces/A", Member: "evil" + bad + "@example.com", Principal: "users/9", Action: diff.Delete, FromRole: m.RoleMember,
				Reason: "not in any source" + bad, Status: diff.Failed, Error: "500: " + bad},
			{Space: "spaces/A", Member: "bob@example.com", Principal: "users/2", Action: diff.Create, ToRole: m.RoleMember, Source: "a" + bad + ".yaml:3"},
		},
		Blocked:    []string{"blocked" + bad},
		Incomplete: []string{"incomplete" + bad},
		Pending:    []diff.Kept{{Space: "spaces/A", Member: "p" + bad, Why: "why" + bad}},
		Protected:  []diff.Kept{{Space: "spaces/A", Member: "q" + bad, Why: "why" + bad}},
		Warnings:   []string{"warning" + bad},
	}
	p.Recount()
	return p
}

// A terminal acts on escapes, carriage returns, backspaces and bidi
// overrides: none of them may reach it from a value the run did not write.
func TestTextShowsNoTerminalControls(t *testing.T) {
	var buf bytes.Buffer
	if err := Text(&buf, controlsPlan()); err != nil {
		t.Fatal(err)
	}
	var sp bytes.Buffer
	p := controlsPlan()
	if err := TextSpace(&sp, p.Spaces[0], p.Changes); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string][]byte{"Text": buf.Bytes(), "TextSpace": sp.Bytes()} {
		if r, ok := terminalControl(out); ok {
			t.Errorf("%s writes %U to the terminal:\n%q", name, r, out)
		}
		for _, want := range []string{`\x1b[2J`, `\r`, `\u202e`} {
			if !bytes.Contains(out, []byte(want)) {
				t.Errorf("%s does not show %s as text:\n%s", name, want, out)
			}
		}
	}
}

// terminalControl returns the first rune in out, a line end aside, that a
// terminal or a bidi algorithm would act on rather than show.
func terminalControl(out []byte) (rune, bool) {
	for len(out) > 0 {
		r, size := utf8.DecodeRune(out)
		out = out[size:]
		if r == '\n' {
			continue
		}
		if r == utf8.RuneError && size == 1 || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.In(r, unicode.Zl, unicode.Zp) {
			return r, true
		}
	}
	return 0, false
}

// The review format is posted on pull requests: no value may end a table
// row, add a cell, a line, a link or an image, or reach the page as a
// control character.
func TestMarkdownKeepsOutsideTextInItsCell(t *testing.T) {
	p := diff.Plan{Policy: diff.Sync, Spaces: []diff.SpaceSummary{{Name: "spaces/A", Listed: true}},
		Changes: []diff.Change{
			{Space: "spaces/A", Member: "a\rb@example.com", Principal: "users/1", Action: diff.Delete, FromRole: m.RoleMember},
			{Space: "spaces/A", Member: `x\|y@example.com`, Principal: "users/2", Action: diff.Delete, FromRole: m.RoleMember},
			{Space: "spaces/A", Member: "[approved](https://evil.example/)@example.com", Principal: "users/3", Action: diff.Delete, FromRole: m.RoleMember},
			{Space: "spaces/A", Member: "![i](https://evil.example/p.png)\u202e@example.com", Principal: "users/4", Action: diff.Delete, FromRole: m.RoleMember},
			{Space: "spaces/A", Member: "~~`a`~~**b**&#124;@example.com", Principal: "users/5", Action: diff.Delete, FromRole: m.RoleMember},
		}}
	p.Recount()
	var buf bytes.Buffer
	if err := Markdown(&buf, p); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if r, ok := terminalControl(buf.Bytes()); ok {
		t.Errorf("the review holds %U:\n%q", r, out)
	}
	rows := 0
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "| - |") {
			continue
		}
		rows++
		// Four cells: a pipe not escaped by an odd run of backslashes
		// ends one.
		cells, backslashes := 0, 0
		for _, r := range line {
			switch {
			case r == '\\':
				backslashes++
				continue
			case r == '|' && backslashes%2 == 0:
				cells++
			}
			backslashes = 0
		}
		if cells != 5 {
			t.Errorf("row %q has %d cells, want 4", line, cells-1)
		}
		for _, markup := range []string{"](", "~~", "**", "`", "&#124;"} {
			if i := strings.Index(line, markup); i >= 0 && (i == 0 || line[i-1] != '\\') {
				t.Errorf("row %q holds %q as markup", line, markup)
			}
		}
	}
	if rows != 5 {
		t.Errorf("%d removal rows, want 5:\n%s", rows, out)
	}
}

// A bidi override in a table cell shows the rest of the cell reversed
// (‮moc.elpmaxe@ecila reads as alice@example.com): the page shows such
// characters as escapes, as the text report does.
func TestHTMLShowsFormatCharactersAsEscapes(t *testing.T) {
	var buf bytes.Buffer
	run := &Run{Command: "apply --plan", Result: "failure", Why: "why\u202e", PlanFile: &PlanFile{Path: "p\u202e.json", Moved: []string{"moved\u202e"}}}
	if err := HTML(&buf, Page{Plan: controlsPlan(), Run: run}); err != nil {
		t.Fatal(err)
	}
	out := buf.Bytes()
	if r, ok := terminalControl(out); ok {
		t.Errorf("the page holds %U", r)
	}
	if !bytes.Contains(out, []byte(`evil\x1b]8;;http://evil\x1b\\x1b[2J\r\b\u202e`)) {
		t.Errorf("the page does not show the member's controls as escapes")
	}
}

// GitHub notifies whoever a comment mentions: an address, label or
// message with "@someone" or "@org/team" in it must not ping them, while
// an ordinary address still reads as one.
func TestMarkdownMentionsNobody(t *testing.T) {
	p := diff.Plan{Policy: diff.Sync, Spaces: []diff.SpaceSummary{{Name: "spaces/A", Label: "cc @acme/admins", Listed: true}},
		Changes: []diff.Change{
			{Space: "spaces/A", Member: "@octocat", Principal: "users/1", Action: diff.Delete, FromRole: m.RoleMember},
			{Space: "spaces/A", Member: "bob@example.com", Principal: "users/2", Action: diff.Delete, FromRole: m.RoleMember, Reason: "(@hubot)"},
		}}
	p.Recount()
	var buf bytes.Buffer
	if err := Markdown(&buf, p); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if mention := regexp.MustCompile(`(^|[^A-Za-z0-9_])@[A-Za-z0-9]`).FindString(out); mention != "" {
		t.Errorf("the review mentions %q:\n%s", mention, out)
	}
	if !strings.Contains(out, "| - | bob@example.com (") {
		t.Errorf("an address no longer reads as itself:\n%s", out)
	}
}

// The JSON report goes to a terminal as often as to a program:
// encoding/json escapes C0 controls but leaves DEL, the C1 controls
// (U+009B is a CSI) and bidi overrides as they are. They are written as
// \u escapes, which decode to the same values.
func TestJSONEscapesWhatATerminalActsOn(t *testing.T) {
	p := controlsPlan()
	p.Changes[0].Member = "evil\u009b2J\u202e\x7f\u200b@example.com"
	var buf bytes.Buffer
	if err := JSON(&buf, p); err != nil {
		t.Fatal(err)
	}
	if r, ok := terminalControl(buf.Bytes()); ok {
		t.Errorf("the JSON report holds %U", r)
	}
	var doc struct {
		Changes []struct{ Member string } `json:"changes"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || doc.Changes[0].Member != p.Changes[0].Member {
		t.Errorf("decoded %+v, %v; want member %q", doc.Changes, err, p.Changes[0].Member)
	}
}

// serve's history shows why a run made no plan (its first problem, which
// may quote Google or a source) as the report page shows its values.
func TestRunsPageShowsFormatCharactersAsEscapes(t *testing.T) {
	var buf bytes.Buffer
	p := RunsPage{Runs: []RunLine{{Run: Run{Result: "failure", Why: "why \u202emoc.elpmaxe@ecila\x1b[2J"}}}, Problem: "problem\u202e"}
	if err := Runs(&buf, p); err != nil {
		t.Fatal(err)
	}
	if r, ok := terminalControl(buf.Bytes()); ok {
		t.Errorf("the page holds %U", r)
	}
	if p.Runs[0].Run.Why != "why \u202emoc.elpmaxe@ecila\x1b[2J" {
		t.Errorf("the caller's runs were changed: %q", p.Runs[0].Run.Why)
	}
}
