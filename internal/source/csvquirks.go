package source

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"strings"

	"github.com/syncer-dev/syncer/internal/membership"
)

// This file holds what HR and spreadsheet exports do to CSV: files that are
// not CSV text at all, Excel's "sep=" first line, and rows of bare
// delimiters. Each is recognised up front so the user gets one clear message
// instead of a header error or a broken row on every line.

// checkCSVText refuses files that are not UTF-8 text: a workbook renamed
// .csv, or Excel's "Unicode text" export, which is UTF-16.
func checkCSVText(data []byte) error {
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")), // .xlsx is a zip
		bytes.HasPrefix(data, []byte("\xd0\xcf\x11\xe0")): // .xls is an OLE2 compound file
		return errors.New("this is an Excel workbook, not CSV; export it as CSV UTF-8")
	case isUTF16(data):
		return errors.New(`file is UTF-16 ("Unicode text"); save it as CSV UTF-8`)
	}
	return nil
}

// isUTF16 spots UTF-16 by its byte-order mark or, without one, by NUL bytes
// in every other position of the first bytes, which is how ASCII headers
// look in UTF-16. UTF-8 text has no NULs.
func isUTF16(data []byte) bool {
	if bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) {
		return true
	}
	head := data[:min(len(data), 256)&^1]
	if len(head) < 4 {
		return false
	}
	var nuls [2]int // at even and odd offsets
	for i, c := range head {
		if c == 0 {
			nuls[i%2]++
		}
	}
	most := len(head) / 4 // half of one parity's positions
	return nuls[0] == 0 && nuls[1] >= most || nuls[1] == 0 && nuls[0] >= most
}

// csvDelimiter picks the delimiter. Excel writes and honours a first line
// "sep=;" naming it; that line is blanked (keeping line numbers) and its
// delimiter used. Otherwise the configured delimiter, else the one detected
// from the header. A returned *Error lacks only the file name.
func csvDelimiter(configured string, data []byte) (rune, []byte, *Error) {
	hint, rest, ok := sepLine(data)
	d, err := delimiter(configured, data)
	switch {
	case err != nil:
		return 0, nil, &Error{Msg: err.Error()}
	case !ok:
		return d, data, nil
	}
	line1 := func(format string, args ...any) *Error {
		return &Error{At: membership.Location{Line: 1}, Msg: fmt.Sprintf(format, args...)}
	}
	fromFile, known := namedDelimiter(hint)
	switch {
	case !known:
		return 0, nil, line1(`sep= line names delimiter %s; want "," ";" "|" or tab`, quote(hint))
	case configured != "" && d != fromFile:
		return 0, nil, line1("the file's sep= line says %s but the source's delimiter: is %q", quote(hint), configured)
	}
	if header, n := headerLine(rest); header != "" && count(header, fromFile) == 0 {
		if other, _ := delimiter("", rest); count(header, other) > 0 {
			return 0, nil, &Error{At: membership.Location{Line: n}, Msg: fmt.Sprintf(
				"the sep= line (line 1) says the delimiter is %s, but this header is separated by %s (%s); remove the sep= line, or save the file with %s between columns",
				delimiterName(fromFile), delimiterName(other), quote(header), delimiterName(fromFile))}
		}
	}
	return fromFile, rest, nil
}

// headerLine is the first line with data, and its number.
func headerLine(data []byte) (string, int) {
	n := 0
	for len(data) > 0 {
		n++
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' && !blankLine(t) {
			return string(t), n
		}
	}
	return "", 0
}

// count is how many times d separates fields of line, outside quotes.
func count(line string, d rune) int {
	n, quoted := 0, false
	for _, c := range line {
		switch {
		case c == '"':
			quoted = !quoted
		case c == d && !quoted:
			n++
		}
	}
	return n
}

func delimiterName(d rune) string {
	if d == '\t' {
		return "tab"
	}
	return `"` + string(d) + `"`
}

// sepLine finds Excel's "sep=X" first line and returns X and the data with
// that line emptied, so the CSV reader skips it yet counts it.
func sepLine(data []byte) (hint string, rest []byte, ok bool) {
	const prefix = "sep="
	if len(data) < len(prefix) || !bytes.EqualFold(data[:len(prefix)], []byte(prefix)) {
		return "", nil, false
	}
	end := bytes.IndexByte(data, '\n')
	if end < 0 {
		end = len(data)
	}
	// Not TrimSpace: "sep=<tab>" names the tab.
	return strings.Trim(string(data[len(prefix):end]), " \r"), data[end:], true
}

// KnownDelimiter reports whether a source's delimiter: setting names one
// this reader knows.
func KnownDelimiter(s string) bool {
	_, ok := namedDelimiter(s)
	return ok
}

// namedDelimiter reads a delimiter as a config or a sep= line writes it.
func namedDelimiter(s string) (rune, bool) {
	switch s {
	case ",", ";", "|":
		return rune(s[0]), true
	case "\t", "tab", `\t`:
		return '\t', true
	}
	return 0, false
}

// blankRecord reports whether a row is only delimiters and spaces (",,," or
// ";;"), as spreadsheets leave below the data. Such rows are skipped like
// blank lines rather than reported as ragged.
func blankRecord(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// blankLine is blankRecord for a raw line, before the delimiter is known.
func blankLine(line []byte) bool {
	return len(bytes.Trim(line, " \t\r\v\f,;|")) == 0
}

// spreadsheetErrors are the values spreadsheets write in a cell whose
// formula failed (Excel's and Google Sheets'). A row beginning with one
// would be read as a # comment and skipped, and its member with it.
var spreadsheetErrors = []string{"#N/A", "#REF!", "#VALUE!", "#NAME?", "#DIV/0!", "#NUM!", "#NULL!", "#SPILL!", "#CALC!",
	"#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!", "#GETTING_DATA", "#ERROR!"}

// commentedRows finds the lines the CSV reader would skip as # comments
// (an unquoted # first, outside a quoted field) that are rows of data: one
// beginning with a spreadsheet's error value, whatever delimiter ends it,
// and, when the header's first column is one the syncer does not read
// (extra, such as a "channel" of Slack-style #names), one below the header
// whose # is followed by a cell's text (not a space: "# a note"), with the
// header's number of fields, a space in the space column and a member (or
// a rule) in the member column. Any other # line is a comment. Each is an
// *Error lacking only the file name; at most limit.
func commentedRows(data []byte, delim rune, headerLine int, header []string, cols columnIndex, limit int) []*Error {
	var found []*Error
	at := 0
	if len(data) == 0 || data[0] != '#' {
		i := bytes.Index(data, []byte("\n#"))
		if i < 0 {
			return nil
		}
		at = i + 1
	}
	line, lineAt := 1, 0     // the number of the line at lineAt
	quotes, quotesTo := 0, 0 // '"' in data[:quotesTo], comments left out: odd inside a quoted field
	for len(found) < limit {
		rest := data[at:]
		end := bytes.IndexByte(rest, '\n')
		if end < 0 {
			end = len(rest)
		}
		quotes += bytes.Count(data[quotesTo:at], []byte{'"'})
		quotesTo = at
		if quotes%2 == 0 { // a comment to the reader, its quotes not counted
			quotesTo = at + end
			line += bytes.Count(data[lineAt:at], []byte{'\n'})
			lineAt = at
			if msg := commentedRow(string(bytes.TrimRight(rest[:end], "\r")), delim, line > headerLine, header, cols); msg != "" {
				found = append(found, &Error{At: membership.Location{Line: line}, Msg: msg})
			}
		}
		i := bytes.Index(rest[end:], []byte("\n#"))
		if i < 0 {
			break
		}
		at += end + i + 1
	}
	return found
}

// commentedRow is why a # line would be a row lost as a comment, or "".
func commentedRow(text string, delim rune, belowHeader bool, header []string, cols columnIndex) string {
	first := text
	if i := strings.IndexAny(first, ",;\t"+string(delim)); i >= 0 {
		first = first[:i]
	}
	first = strings.TrimSpace(first)
	for _, v := range spreadsheetErrors {
		if strings.EqualFold(first, v) {
			return fmt.Sprintf("the row begins with %s, a spreadsheet's error value (a formula that failed), not a space; it would be read as a # comment and its member dropped: fix the export", quote(first))
		}
	}
	if cols.space == 0 || cols.member == 0 || cols.role == 0 || !belowHeader || count(text, delim)+1 != len(header) ||
		len(text) < 2 || text[1] == ' ' || text[1] == '\t' || text[1] == '#' {
		// A comment: the first column is read (a row commented out), or
		// it is prose ("# reviewed by HR, IT, and Legal").
		return ""
	}
	r := csv.NewReader(strings.NewReader(text))
	r.Comma, r.LazyQuotes, r.FieldsPerRecord = delim, true, -1
	rec, err := r.Read()
	if err != nil || len(rec) != len(header) {
		return ""
	}
	if _, err := parseSpace(rec[cols.space]); err != nil {
		return "" // no space where the space goes: prose
	}
	if _, rule, _ := ruleInCSV(rec[cols.member], membership.RoleUnmanaged); !rule {
		if _, err := parseMember(rec[cols.member]); err != nil {
			return ""
		}
	}
	cell := rec[0]
	return fmt.Sprintf("the row begins with %s in column %s, which the syncer does not read; it would be read as a # comment and its member dropped: to keep the row, put the cell in double quotes (%s); to leave it out, write \"# \" (a space after the #) or delete the line",
		quote(cell), quote(strings.TrimSpace(header[0])), quote(cell))
}
