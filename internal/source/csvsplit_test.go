package source

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

// readBothWays loads path row by row, then split into n pieces, and
// returns both results.
func readBothWays(t *testing.T, path string, n int) (whole, split loaded) {
	t.Helper()
	defer func(m, p int) { splitCSVMin, splitCSVPieces = m, p }(splitCSVMin, splitCSVPieces)
	splitCSVMin = math.MaxInt
	whole = load(path)
	splitCSVMin, splitCSVPieces = 1, n
	split = load(path)
	return whole, split
}

type loaded struct{ desired, errs string }

// load renders what LoadWithWarnings gives: every field of every space and
// member (sources' positions included), or the errors.
func load(path string) loaded { return loadAll([]Spec{{Path: path}}) }

func loadAll(specs []Spec) loaded {
	d, _, err := LoadWithWarnings(specs)
	if err != nil {
		return loaded{errs: err.Error()}
	}
	var b strings.Builder
	for _, s := range d.Spaces {
		fmt.Fprintf(&b, "%s %q %v %q %v rules=%v\n", s.Name, s.Label, s.Source, s.Policy, s.PolicyAt, s.Rules)
		for _, m := range s.Members {
			fmt.Fprintf(&b, "  %s %s %v\n", m.Principal, m.Role, m.Source.Location())
		}
	}
	fmt.Fprintf(&b, "totals %v\n", d.Totals)
	return loaded{desired: b.String()}
}

// untidyExport is a CSV with what exports carry: CRLF, comments, blank and
// delimiter-only rows, quoted fields with commas, quotes and newlines in a
// column syncer ignores, spaces whose rows are apart, duplicates, rules.
func untidyExport(rows int) string { return strings.Join(untidyRecords(rows), "") }

// untidyRecords is untidyExport record by record, each with its line end.
func untidyRecords(rows int) []string {
	out := []string{"# exported by HR\r\n", "space,member,role,note\r\n"}
	for i := 0; i < rows; i++ {
		space := fmt.Sprintf("spaces/S%03d", i/37)
		if i%11 == 0 {
			space = "spaces/EVERYWHERE" // one space all through the file
		}
		member := fmt.Sprintf("Person%05d@Example.com", i%(rows-50)) // the last 50 repeat earlier rows
		role := [...]string{"", "member", "manager", ""}[i%4]
		if i >= rows-50 {
			role = "" // a repeat with no role merges with the first
		}
		switch {
		case i%97 == 0:
			out = append(out, fmt.Sprintf("# a \"quoted\" comment, row %d\n", i))
		case i%53 == 0:
			out = append(out, "\n", ",,,\n")
		}
		note := ""
		switch i % 7 {
		case 1:
			note = `"joined, then left"`
		case 2:
			note = "\"two\nlines, \"\"quoted\"\"\""
		}
		if i%250 == 0 {
			out = append(out, fmt.Sprintf("%s,group_members:team%d@example.com,,%s\n", space, i, note))
			continue
		}
		end := "\n"
		if i%3 == 0 {
			end = "\r\n"
		}
		out = append(out, fmt.Sprintf("%s,%s,%s,%s%s", space, member, role, note, end))
	}
	return out
}

func TestSplitReadingEqualsRowByRow(t *testing.T) {
	path := write(t, "hr.csv", untidyExport(3000))
	for _, n := range []int{2, 3, 5, 8} {
		whole, split := readBothWays(t, path, n)
		if whole.errs != "" {
			t.Fatalf("the export is refused: %s", whole.errs)
		}
		if !reflect.DeepEqual(whole, split) {
			t.Fatalf("%d pieces: the reading differs from row by row\nrow by row:\n%s\nin pieces:\n%s%s", n, whole.desired, split.desired, split.errs)
		}
	}
}

// The pieces must really be read as pieces: each starts a record, and
// reads without an error, so the file is not sent back to the row-by-row
// reading (which would make the test above pass whatever the split did).
func TestSplitPiecesReadOnTheirOwn(t *testing.T) {
	defer func(m int) { splitCSVMin = m }(splitCSVMin)
	splitCSVMin = 1
	data := []byte(untidyExport(3000))
	from := strings.Index(string(data), "note\r\n") + len("note\r\n")
	for _, n := range []int{2, 3, 5, 8} {
		ranges := pieces(data, from, n)
		if len(ranges) != n {
			t.Fatalf("%d pieces asked, %d made: %v", n, len(ranges), ranges)
		}
		body := csvBody{file: "hr.csv", data: data, delim: ',', width: 4, cols: columnIndex{space: 0, member: 1, role: 2}}
		for i, r := range ranges {
			if i > 0 && data[r[0]-1] != '\n' || r[0] >= r[1] {
				t.Fatalf("piece %d of %d (%v) does not start a line", i, n, r)
			}
			if _, ok := body.readPiece(r[0], r[1]); !ok {
				t.Fatalf("piece %d of %d (%v) does not read on its own:\n%.200s", i, n, r, data[r[0]:r[1]])
			}
		}
		if !body.readPieces(ranges, newBuilder()) {
			t.Fatalf("%d pieces: not read", n)
		}
	}
}

// A broken file says the same, split or not: the same errors, lines and
// columns, the same "too many errors" cut.
func TestSplitReadingReportsAsRowByRow(t *testing.T) {
	good := untidyRecords(2000)
	with := func(at int, rows ...string) string {
		return strings.Join(good[:at], "") + strings.Join(rows, "") + strings.Join(good[at:], "")
	}
	for name, content := range map[string]string{
		"a bad email late in the file": with(len(good)-40, "spaces/X,not-an-email,,\n"),
		"a bad role early":             with(30, "spaces/X,a@example.com,admin,\n"),
		"a ragged row in the middle":   with(len(good)/2, "spaces/X,a@example.com\n"),
		"an unterminated quote":        with(len(good)/2, "spaces/X,a@example.com,,\"never closed\n"),
		"a bare quote":                 with(len(good)/3, "spaces/X,a\"b@example.com,,\n"),
		"two roles for one person":     with(len(good), "spaces/S000,person00001@example.com,owner,\n"),
		"over a thousand bad rows":     with(len(good), strings.Repeat("spaces/X,nobody,,\n", 1100)),
	} {
		path := write(t, "hr.csv", content)
		for _, n := range []int{2, 5} {
			whole, split := readBothWays(t, path, n)
			if whole.errs == "" {
				t.Fatalf("%s: accepted", name)
			}
			if !reflect.DeepEqual(whole, split) {
				t.Fatalf("%s, %d pieces: reported differently\nrow by row:\n%s\nin pieces:\n%s", name, n, whole.errs, split.errs)
			}
		}
	}
}

// A quote in a comment makes the count of quotes odd where rows begin:
// the split then lands inside a quoted field, or nowhere, and the reading
// is still the row-by-row one.
func TestSplitMisledByACommentsQuote(t *testing.T) {
	var b strings.Builder
	b.WriteString("space,member,role,note\n# Bob's \"team\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "spaces/A%d,p%d@example.com,,\"a\nb\"\n", i%7, i)
	}
	path := write(t, "hr.csv", b.String())
	for _, n := range []int{2, 4} {
		whole, split := readBothWays(t, path, n)
		if whole.errs != "" || !reflect.DeepEqual(whole, split) {
			t.Fatalf("%d pieces: differs\nrow by row:\n%s%s\nin pieces:\n%s%s", n, whole.desired, whole.errs, split.desired, split.errs)
		}
	}
}
