package job_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/job"
)

// cancelOnPlanned is a log handler that stops the run when the n-th space
// has been planned (the pipeline logs "space planned" as it takes a plan).
type cancelOnPlanned struct {
	n      int
	seen   atomic.Int32
	cancel func()
}

func (h *cancelOnPlanned) Enabled(context.Context, slog.Level) bool { return true }
func (h *cancelOnPlanned) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "space planned" && int(h.seen.Add(1)) == h.n {
		h.cancel()
	}
	return nil
}
func (h *cancelOnPlanned) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *cancelOnPlanned) WithGroup(string) slog.Handler      { return h }

// unevenWorld: spaces of very different sizes (one of three list pages,
// some of a few people, one empty), their people spread over a Directory
// of n; the sources leave every tenth member out (a removal under policy
// sync), promote some, and give every space an owner.
func unevenWorld(n int) (*emulator.Seed, string) {
	sizes := []int{2500, 1, 40, 3, 17, 0, 25, 9, 33, 2, 11, 5}
	seed := world(n, len(sizes))
	var csv strings.Builder
	csv.WriteString("space,member,role\n")
	next := 0
	for s, size := range sizes {
		space := fmt.Sprintf("spaces/S%d", s)
		for k := 0; k < size; k++ {
			i := (next*7919 + 13) % n
			next++
			email := fmt.Sprintf("u%d@example.com", i)
			if k%9 != 0 {
				seed.Spaces[s].Members = append(seed.Spaces[s].Members, emulator.SeedMember{User: email})
			}
			if k%10 == 5 {
				continue
			}
			role := ""
			if k%13 == 0 {
				role = "manager"
			}
			fmt.Fprintf(&csv, "%s,%s,%s\n", space, email, role)
		}
		fmt.Fprintf(&csv, "%s,boss@example.com,owner\n", space)
	}
	return seed, csv.String()
}

// A run stopped (SIGTERM, run_timeout) just after its last space is
// planned has not run the removal rails: its plan of removals must not come
// back complete and unblocked (plan --out would write it as applicable),
// nor an apply that wrote nothing as a success.
func TestAStopAfterTheLastSpaceIsPlannedIsInterrupted(t *testing.T) {
	seed, csv := unevenWorld(600)
	for _, tc := range []struct{ stop, write bool }{{false, false}, {true, false}, {true, true}} {
		t.Run(fmt.Sprintf("stopped=%v,apply=%v", tc.stop, tc.write), func(t *testing.T) {
			f := newFixture(t, seed, emulator.Options{}, csv)
			f.syncing(t)
			base := f.tweak
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			f.tweak = func(j *job.Job) {
				base(j)
				j.AllowRemovals = -1 // no consent: the first run's rail blocks removals
				if tc.write {
					j.AllowRemovals = 1000
				}
				if tc.stop {
					j.Logger = slog.New(&cancelOnPlanned{n: 12, cancel: func() { cancel(errors.New("SIGTERM")) }})
				}
			}
			res, err := f.run(t, ctx, tc.write)
			if err != nil {
				t.Fatal(err)
			}
			deletes := 0
			for _, c := range res.Plan.Changes {
				if c.Action == diff.Delete {
					deletes++
				}
			}
			if deletes == 0 {
				t.Fatal("no removal planned: the test shows nothing")
			}
			if !tc.stop {
				if !res.Blocked() {
					t.Fatalf("the first run's rail did not block %d removals", deletes)
				}
				return
			}
			if !res.Interrupted || !res.Failed() {
				t.Errorf("stopped after the last space was planned: interrupted %v, failed %v; want both", res.Interrupted, res.Failed())
			}
			if !strings.Contains(strings.Join(res.Plan.Incomplete, "\n"), "stopped after every space was planned (SIGTERM)") {
				t.Errorf("the plan doesn't say it stopped: %q", res.Plan.Incomplete)
			}
			if tc.write && f.em.Stats().Writes != 0 {
				t.Errorf("%d writes after the stop", f.em.Stats().Writes)
			}
		})
	}
}
