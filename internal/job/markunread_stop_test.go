package job

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/diff"
)

// A space read but not yet planned when a signal (or the run's deadline)
// stopped the run is not said to have been stopped by an answer: no
// answer came, and what it was doing is kept.
func TestASpaceStoppedBySignalIsNotBlamedOnAnAnswer(t *testing.T) {
	stop := "interrupted by SIGTERM"
	p := diff.Plan{Spaces: []diff.SpaceSummary{{Name: "spaces/A"}, {Name: "spaces/B"}}}
	markUnread(&p, []*SpaceError{
		{Space: "spaces/A", Err: fmt.Errorf("stopped before it was planned: %w", errors.New(stop)), Stopped: true},
		{Space: "spaces/B", Err: errors.New(stop), Stopped: true},
	}, stop)
	for _, sp := range p.Spaces {
		if strings.Contains(sp.Error, "answer") {
			t.Errorf("%s: %q blames an answer; the run was stopped by a signal", sp.Name, sp.Error)
		}
	}
	if !strings.Contains(p.Spaces[0].Error, "stopped before it was planned") {
		t.Errorf("spaces/A: %q lost what it was doing", p.Spaces[0].Error)
	}
}
