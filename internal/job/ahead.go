package job

import (
	"context"
	"fmt"
)

// ahead bounds the spaces read ahead of planning that wait for nothing but
// a processor. With quotas far above Google's (the 1M bench), reads outrun
// the processors: a million-membership run whose identities came from the
// cache read 275,000 memberships while its identity service was set up
// (the cache's million entries matched to the sources'), each space with
// its goroutine's stack, until the budget (limits.held_memberships)
// stopped the reads; its live heap peaked at 239-245 MB, and at 200-210
// with this bound. A space that waits for the rules, the Directory pass or
// a users.get gives its place back: those wait within the budget, and the
// reads go on meanwhile, as they must for the Directory and the reads to
// overlap. At Google's quotas (13 calls in flight, 50 reads a second) the
// bound is 64 spaces and two a processor: more than a second of reads.
type ahead chan struct{}

// newAhead makes room for n spaces read and not yet planned nor waiting.
func newAhead(n int) ahead { return make(ahead, max(1, n)) }

// take waits for a place before a space is read.
func (a ahead) take(ctx context.Context) error {
	select {
	case a <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stopped before it was read: %w", context.Cause(ctx))
	}
}

// give hands a place back (once a space waits, is planned or failed).
func (a ahead) give(placed *bool) {
	if *placed {
		*placed = false
		<-a
	}
}
