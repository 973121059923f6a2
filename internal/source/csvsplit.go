package source

// A big CSV export is read on several cores: its rows are split into
// pieces at record boundaries, each piece read into a builder of its own,
// and the pieces' members joined in file order. The result is the one
// reading it row by row gives; any error sends the file back to that
// reading, so what a broken file reports never depends on the split.

import (
	"bytes"
	"encoding/csv"
	"io"
	"runtime"
	"sync"

	"github.com/syncer-dev/syncer/internal/membership"
)

// splitCSVMin is the smallest body (in bytes, after the header) read in
// pieces: below it a file reads in a few milliseconds whole. A variable
// so tests can split small files.
var splitCSVMin = 1 << 20

// csvBody is what reading the rows after the header needs.
type csvBody struct {
	file      string
	data      []byte // the whole file as read (BOM and sep= line handled)
	delim     rune
	width     int
	cols      columnIndex
	checkUTF8 bool
}

// pieces splits data[from:] into up to n ranges that each start a record:
// after a newline with an even count of '"' before it. In a well-formed
// file that newline is outside any quoted field. Where the count misleads
// (a quote in a #-comment, a stray quote), a piece starts inside a quoted
// field and its reading fails, which sends the file to the row-by-row
// reading.
func pieces(data []byte, from, n int) [][2]int {
	body := len(data) - from
	if n < 2 || body < splitCSVMin {
		return nil
	}
	var out [][2]int
	start, quotes := from, 0 // quotes: '"' in data[from:start]
	for i := 1; i < n; i++ {
		target := from + body*i/n
		if target <= start {
			continue
		}
		quotes += bytes.Count(data[start:target], []byte{'"'})
		at := target
		for {
			nl := bytes.IndexByte(data[at:], '\n')
			if nl < 0 {
				at = len(data)
				break
			}
			quotes += bytes.Count(data[at:at+nl], []byte{'"'})
			at += nl + 1
			if quotes%2 == 0 {
				break
			}
		}
		if at >= len(data) {
			break
		}
		out = append(out, [2]int{start, at})
		start = at
	}
	if len(out) == 0 {
		return nil
	}
	return append(out, [2]int{start, len(data)})
}

// readPieces reads each piece into a builder of its own, side by side,
// and joins them into b in file order. It reports false, leaving b as it
// was, when any piece met an error: the caller then reads the rows one
// by one, as a file without pieces is read, and reports what it finds.
func (c csvBody) readPieces(ranges [][2]int, b *builder) bool {
	parts := make([]*builder, len(ranges))
	ok := make([]bool, len(ranges))
	var wg sync.WaitGroup
	for i, r := range ranges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[i], ok[i] = c.readPiece(r[0], r[1])
		}()
	}
	wg.Wait()
	for _, good := range ok {
		if !good {
			return false
		}
	}
	for _, p := range parts {
		b.join(p)
	}
	return true
}

// readPiece reads the records of data[start:end], numbering lines as the
// whole file does.
func (c csvBody) readPiece(start, end int) (*builder, bool) {
	base := bytes.Count(c.data[:start], []byte{'\n'})
	r := csv.NewReader(bytes.NewReader(c.data[start:end]))
	r.Comma, r.Comment, r.FieldsPerRecord, r.ReuseRecord = c.delim, '#', -1, true
	b := newBuilder()
	var last cachedSpace
	at := func(field int) membership.Location {
		l, col := r.FieldPos(field)
		return membership.Location{File: c.file, Line: base + l, Column: col}
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return b, true
		}
		if err != nil {
			return nil, false
		}
		if blankRecord(rec) {
			continue
		}
		line, _ := r.FieldPos(0)
		if e := readRow(rec, c.width, c.cols, c.checkUTF8, base+line, at, b, &last); e != nil {
			return nil, false
		}
	}
}

// join appends p's spaces to b's, as if p's rows had followed b's: a
// space keeps the place where b first met it.
func (b *builder) join(p *builder) {
	for name, ps := range p.spaces {
		s := b.spaces[name]
		switch {
		case s == nil:
			b.spaces[name] = ps
			continue
		case s.members == nil:
			s.members = ps.members
		default:
			s.members = append(s.members, ps.members...)
		}
		s.rules = append(s.rules, ps.rules...)
	}
	b.entries += p.entries
}

// pieceCount is how many pieces a big file is read in: one a processor,
// up to 8 (splitCSVPieces, for tests, when set).
func pieceCount() int {
	if splitCSVPieces > 0 {
		return splitCSVPieces
	}
	return min(runtime.GOMAXPROCS(0), 8)
}

var splitCSVPieces = 0
