package main

// The plan and apply commands: their usage and flags; runJob runs them.

import (
	"context"
	"errors"
	"fmt"
)

func planCommand() command {
	return command{
		name:    "plan",
		summary: "show what a sync would change; reads only",
		usage: `Usage: syncer plan --config FILE [--output text|json|markdown|html] [--detailed-exitcode] [--out PLAN.json]

Reads every source and the current memberships of every space they name,
and prints the changes a sync would make. Makes no change. With --out, also
saves the plan, and the memberships it was computed from, for review:
'syncer apply --plan PLAN.json' then applies exactly that, or nothing.
Exit 0 (with --detailed-exitcode: 0 nothing to do, 2 changes pending),
1 on API failures or an incomplete plan, 3 on invalid config or sources (no
API call made), 4 when a safety check would block the apply (policy sync).

Examples:
  syncer plan --config config.yaml
  syncer plan --config config.yaml --output markdown > plan.md
  syncer plan --config config.yaml --output html > plan.html
  syncer plan --config config.yaml --detailed-exitcode || echo "changes pending"
  syncer plan --config config.yaml --output markdown --out plan.json > plan.md`,
		run: func(ctx context.Context, out cmdIO, args []string) int {
			var f runFlags
			fs := newFlags(planCommand(), out)
			f.register(fs)
			if code, ok := parseFlags(fs, args); !ok {
				return code
			}
			return runJob(ctx, out, f, false, f.detailed)
		},
	}
}

func applyCommand() command {
	return command{
		name:    "apply",
		summary: "make the spaces match the sources",
		usage: `Usage: syncer apply --config FILE [--output text|json|markdown|html] [--dry-run [--detailed-exitcode]]
       syncer apply --config FILE --plan PLAN.json [--dry-run]

Plans as 'syncer plan' does, prints the plan, applies it within Google's
quotas (retrying quota and transient failures) and prints every change's
outcome. --dry-run is exactly 'syncer plan'. Interrupting (Ctrl-C, SIGTERM)
starts no new call, lets calls in flight finish, prints the partial report and
exits 1; rerunning finishes the job.
Exit 0 all done, 1 something failed, 3 invalid config or sources (no API call
made), 4 blocked by a safety check (policy sync: nothing was changed; read the
plan, then --allow-removals N), 5 another run holds the lock (an apply or serve
of this config on this host, a run sharing its local state folder, or the
lock object of a gs:// state location).

With --plan, applies a plan saved by 'syncer plan --out' and nothing else:
the sources are read only when the plan removes someone (if they now say
something else of such a space, it exits 4); the spaces the plan touches are
listed again, and if any changed since the plan (beyond the plan's own
changes, from an earlier apply of it), nothing is written and it exits 4
naming them. A plan
already applied exits 0 with no write. A plan older than plan.max_age, or
blocked when it was made, exits 4; a file that is not an unedited plan, or
one made for another config, exits 3. --dry-run checks without writing.

Examples:
  syncer apply --config config.yaml
  syncer apply --config config.yaml --plan plan.json
  syncer apply --config config.yaml --dry-run
  syncer apply --config config.yaml --output json > outcome.json`,
		run: func(ctx context.Context, out cmdIO, args []string) int {
			var f runFlags
			fs := newFlags(applyCommand(), out)
			f.register(fs)
			dryRun := fs.Bool("dry-run", false, "plan only; change nothing (exactly syncer plan, with every flag plan takes)")
			fs.StringVar(&f.planFile, "plan", "", "apply this saved plan (from syncer plan --out) exactly, or nothing; the sources are read only when it removes someone")
			if code, ok := parseFlags(fs, args); !ok {
				return code
			}
			if f.planOut != "" && !*dryRun {
				f.refused = errors.New("apply: --out saves a plan without applying it: use syncer plan --out (or apply --dry-run --out)")
				fmt.Fprintln(out.stderr, f.refused)
				return runJob(ctx, out, f, !*dryRun, false)
			}
			if f.planFile != "" && (f.planOut != "" || f.allowRemovals >= 0) {
				f.refused = errors.New("apply: --plan applies a reviewed plan as it was made: --out and --allow-removals don't go with it (the plan records the consent it was made with)")
				fmt.Fprintln(out.stderr, f.refused)
				return runJob(ctx, out, f, !*dryRun, false)
			}
			if f.detailed && !*dryRun {
				f.refused = errors.New("apply: --detailed-exitcode is for plan and apply --dry-run (an apply exits 0 when everything was done)")
				fmt.Fprintln(out.stderr, f.refused)
				return runJob(ctx, out, f, !*dryRun, false)
			}
			return runJob(ctx, out, f, !*dryRun, f.detailed)
		},
	}
}
