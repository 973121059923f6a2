package source

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/syncer-dev/syncer/internal/membership"
)

// Error is one problem in a source, with the place and the value at fault.
type Error struct {
	At  membership.Location
	Msg string // says what is wrong, quoting the offending value
}

func (e *Error) Error() string {
	if at := e.At.String(); at != "" {
		return at + ": " + e.Msg
	}
	return e.Msg
}

// Errors is every problem found in one load; loading never stops at the first.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Add records a problem.
func (es *Errors) Add(at membership.Location, format string, args ...any) {
	*es = append(*es, &Error{At: at, Msg: fmt.Sprintf(format, args...)})
}

// maxQuoted is how many runes of a value an error message quotes.
const maxQuoted = 80

// quote is %q of a source value cut to maxQuoted runes, with the full length
// after the cut: a broken export can put a whole file in one field, and the
// report must still be readable.
// Quote quotes a value for a message, shortened when long.
func Quote(s string) string { return quote(s) }

func quote(s string) string {
	runes := 0
	for i := range s {
		if runes == maxQuoted {
			return fmt.Sprintf("%q…(%d bytes)", s[:i], len(s))
		}
		runes++
	}
	return strconv.Quote(s)
}
