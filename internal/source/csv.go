package source

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/syncer-dev/syncer/internal/membership"
)

// maxCSVErrors bounds how many broken rows one file reports before the rest
// of it is skipped, so a file in the wrong format doesn't bury the summary.
const maxCSVErrors = 1000

// readCSV reads a header row and then one member per row. It refuses
// workbooks and UTF-16, strips a UTF-8 BOM, accepts CRLF, skips blank,
// delimiter-only and #-comment lines (refusing # lines that are rows: see
// commentedRows), takes the delimiter (, ; or tab) from an Excel "sep="
// first line, the spec, or else the header, and matches header names
// case-insensitively, renamed by spec.Columns. Extra columns are ignored.
func readCSV(spec Spec, data []byte, b *builder, errs *Errors) {
	file := spec.Path
	if err := checkCSVText(data); err != nil {
		errs.Add(membership.Location{File: file}, "%v", err)
		return
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if bytes.IndexByte(data, '\n') < 0 && bytes.Count(data, []byte("\r")) > 1 {
		// Old Mac line ends: the reader would see one line, a header alone.
		errs.Add(membership.Location{File: file, Line: 1}, "the lines end with a lone CR (\\r, as old Mac exports write them): save the file with LF or CRLF line ends")
		return
	}
	delim, data, e := csvDelimiter(spec.Delimiter, data)
	if e != nil {
		e.At.File = file
		*errs = append(*errs, e)
		return
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = delim
	r.Comment = '#'
	r.FieldsPerRecord = -1 // ragged rows are reported with their line, not as a bare error
	r.ReuseRecord = true
	checkUTF8 := !utf8.Valid(data)

	header, err := readNonBlank(r)
	if err == io.EOF {
		return // empty: reported by the caller
	}
	if err != nil {
		errs.Add(csvErrorLocation(file, err), "%v", csvErrorText(err))
		return
	}
	line, _ := r.FieldPos(0)
	cols, ok := headerColumns(file, line, header, spec.Columns, errs)
	if !ok {
		return
	}
	width := len(header)
	bad := 0
	// The reader skips a line beginning with # as a comment: a row whose
	// first cell is a spreadsheet's error value, or a #name in an extra
	// first column, would go without a word, and its member with it.
	for _, e := range commentedRows(data, delim, line, header, cols, maxCSVErrors) {
		e.At.File = file
		*errs = append(*errs, e)
		if bad++; bad >= maxCSVErrors {
			errs.Add(membership.Location{File: file}, "too many errors; the rest of the file was not read")
			return
		}
	}
	var lastSpace cachedSpace
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs.Add(csvErrorLocation(file, err), "%v", csvErrorText(err))
			if bad++; bad >= maxCSVErrors {
				errs.Add(membership.Location{File: file}, "too many errors; the rest of the file was not read")
				return
			}
			continue
		}
		if blankRecord(rec) {
			continue
		}
		line, _ := r.FieldPos(0)
		at := func(field int) membership.Location {
			l, c := r.FieldPos(field)
			return membership.Location{File: file, Line: l, Column: c}
		}
		if e := readRow(rec, width, cols, checkUTF8, line, at, b, &lastSpace); e != nil {
			e.At.File = file
			*errs = append(*errs, e)
			if bad++; bad >= maxCSVErrors {
				errs.Add(membership.Location{File: file}, "too many errors; the rest of the file was not read")
				return
			}
		}
	}
}

// readNonBlank is r.Read, skipping rows of bare delimiters.
func readNonBlank(r *csv.Reader) ([]string, error) {
	for {
		rec, err := r.Read()
		if err != nil || !blankRecord(rec) {
			return rec, err
		}
	}
}

// cachedSpace remembers the last space column value: exports list a space's
// members together, so most rows skip parsing and the map lookup.
type cachedSpace struct {
	raw     string
	entries *spaceEntries
}

func readRow(rec []string, width int, cols columnIndex, checkUTF8 bool, line int,
	at func(int) membership.Location, b *builder, last *cachedSpace) *Error {
	fail := func(loc membership.Location, format string, args ...any) *Error {
		return &Error{At: loc, Msg: fmt.Sprintf(format, args...)}
	}
	if len(rec) != width {
		return fail(membership.Location{Line: line}, "row has %d fields, the header has %d (%s)", len(rec), width, quote(strings.Join(rec, "|")))
	}
	if checkUTF8 {
		for i, f := range rec {
			if !utf8.ValidString(f) {
				return fail(at(i), "invalid UTF-8 in %s; save the export as UTF-8", quote(strings.ToValidUTF8(f, "\uFFFD")))
			}
		}
	}
	if raw := rec[cols.space]; last.entries == nil || raw != last.raw {
		name, err := parseSpace(raw)
		if err != nil {
			return fail(at(cols.space), "%v", err)
		}
		last.raw = strings.Clone(raw)
		last.entries = b.space(name, "", at(cols.space))
	}
	role := membership.RoleUnmanaged
	if cols.role >= 0 {
		r, err := parseRole(rec[cols.role])
		if err != nil {
			return fail(at(cols.role), "%v", err)
		}
		role = r
	}
	if rule, ok, err := ruleInCSV(rec[cols.member], role); ok || err != nil {
		if err != nil {
			return fail(at(cols.member), "%v", err)
		}
		rule.Source = at(cols.member)
		b.addRule(last.entries, *rule)
		return nil
	}
	p, err := parseMember(rec[cols.member])
	if err != nil {
		return fail(at(cols.member), "%v", err)
	}
	if (p.IsGroup() || p == membership.App) && role != membership.RoleUnmanaged {
		return fail(at(cols.role), "%s can't have a role (%s): only people's roles are managed", p, quote(rec[cols.role]))
	}
	b.add(last.entries, membership.DesiredMember{Principal: p, Role: role, Source: membership.At(at(cols.member))})
	return nil
}

type columnIndex struct{ space, member, role int }

func headerColumns(file string, line int, header []string, names Columns, errs *Errors) (columnIndex, bool) {
	want := func(name, def string) string {
		if name == "" {
			name = def
		}
		return strings.ToLower(strings.TrimSpace(name))
	}
	find := func(name string) int {
		for i, h := range header {
			if strings.ToLower(strings.TrimSpace(h)) == name {
				return i
			}
		}
		return -1
	}
	spaceName, memberName, roleName := want(names.Space, "space"), want(names.Member, "member"), want(names.Role, "role")
	for _, name := range []string{spaceName, memberName, roleName} {
		n := 0
		for _, h := range header {
			if strings.ToLower(strings.TrimSpace(h)) == name {
				n++
			}
		}
		if n > 1 {
			// Which one holds the members? Guessing would drop the other's.
			errs.Add(membership.Location{File: file, Line: line}, "header names the %s column %d times (header is %s)", quote(name), n, quote(strings.Join(header, ",")))
			return columnIndex{}, false
		}
	}
	cols := columnIndex{space: find(spaceName), member: find(memberName), role: find(roleName)}
	at := membership.Location{File: file, Line: line}
	ok := true
	for _, c := range []struct {
		idx  int
		name string
	}{{cols.space, spaceName}, {cols.member, memberName}} {
		if c.idx < 0 {
			errs.Add(at, "header has no %q column (header is %s); set columns: in the source's config to rename", c.name, quote(strings.Join(header, ",")))
			ok = false
		}
	}
	if names.Role != "" && cols.role < 0 {
		errs.Add(at, "header has no %q column (header is %s)", roleName, quote(strings.Join(header, ",")))
		ok = false
	}
	return cols, ok
}

// delimiter returns the configured delimiter, or the one of , ; tab that the
// first data line (the header) uses most outside quotes.
func delimiter(configured string, data []byte) (rune, error) {
	if configured != "" {
		if d, ok := namedDelimiter(configured); ok {
			return d, nil
		}
		return 0, errors.New("delimiter " + `"` + configured + `"` + ` is not one of "," ";" "|" "tab"`)
	}
	header := firstDataLine(data)
	best, bestCount := ',', 0
	for _, d := range []rune{',', ';', '\t'} {
		if n := count(header, d); n > bestCount {
			best, bestCount = d, n
		}
	}
	return best, nil
}

func firstDataLine(data []byte) string {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		line := data
		if i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' || blankLine(t) {
			continue
		}
		return string(t)
	}
	return ""
}

func csvErrorLocation(file string, err error) membership.Location {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return membership.Location{File: file, Line: pe.Line, Column: pe.Column}
	}
	return membership.Location{File: file}
}

func csvErrorText(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return "malformed CSV: " + pe.Err.Error()
	}
	return err.Error()
}
