package source

import (
	"fmt"
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
