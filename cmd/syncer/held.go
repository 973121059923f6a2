package main

import (
	"log/slog"
	"runtime/debug"

	"github.com/syncer-dev/syncer/internal/budget"
	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/progress"
)

// heldBudget is the run's bound on memberships read and not yet planned:
// limits.held_memberships, or else sized from GOMEMLIMIT.
func heldBudget(l config.Limits, bar *progress.Progress, log *slog.Logger) *budget.Budget {
	limit := l.HeldMemberships
	if limit == 0 {
		limit = budget.DefaultLimit(debug.SetMemoryLimit(-1))
	}
	b := budget.New(limit)
	b.Paused = func(waiting bool) {
		bar.ReadsPaused(waiting)
		if waiting {
			log.Debug("reads paused: the spaces held wait for the Directory", "held_limit", limit)
		}
	}
	return b
}
