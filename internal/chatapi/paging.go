package chatapi

import (
	"errors"
	"fmt"
)

// Paging bounds: past them a server is looping, not listing. 2,000 pages
// hold 2,000,000 memberships at 1,000 a page, or a million Directory users
// at 500; a hundred empty pages in a row hold nothing.
const (
	MaxPages      = 2000
	maxEmptyPages = 100
)

// ErrPagingLoop marks a list the server would have kept paging forever.
var ErrPagingLoop = errors.New("the server kept paging")

// PageGuard stops a paging loop that a misbehaving server would keep going:
// a page token seen before, too many pages, or too many empty pages in a
// row. Its errors are permanent for that list (retrying would loop again).
type PageGuard struct {
	What     string // e.g. "members of spaces/X", for the error
	MaxPages int    // 0 means MaxPages
	// MaxItems: past this many items the list is refused (0: no bound).
	MaxItems int
	seen     map[string]bool
	pages    int
	items    int
	empty    int
}

// Next records a page of n items whose answer named next as the following
// token; it returns an error when paging must stop.
func (g *PageGuard) Next(n int, next string) error {
	limit := g.MaxPages
	if limit <= 0 {
		limit = MaxPages
	}
	g.pages++
	g.items += n
	if g.MaxItems > 0 && g.items > g.MaxItems {
		return g.fail("it listed more than %d after %d pages", g.MaxItems, g.pages)
	}
	if n == 0 {
		g.empty++
	} else {
		g.empty = 0
	}
	if next == "" {
		return nil
	}
	if g.seen == nil {
		g.seen = map[string]bool{}
	}
	switch {
	case g.seen[next]:
		return g.fail("it returned a page token it had already returned, after %d pages", g.pages)
	case g.pages >= limit:
		return g.fail("it was still paging after %d pages", g.pages)
	case g.empty >= maxEmptyPages:
		return g.fail("it returned %d empty pages in a row", g.empty)
	}
	g.seen[next] = true
	return nil
}

func (g *PageGuard) fail(format string, args ...any) error {
	return &Error{Message: fmt.Sprintf("listing %s stopped: ", g.What) + fmt.Sprintf(format, args...) + " (a fault on the server's side)",
		kind: ErrPermanent, cause: ErrPagingLoop}
}
