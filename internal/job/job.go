// Package job is one run of the syncer as a short, straight script: load the
// sources, read the current state, compute the plan, report it, apply it
// (unless only planning) and report the outcome. Scheduling calls it again.
package job

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/syncer-dev/syncer/internal/apply"
	"github.com/syncer-dev/syncer/internal/budget"
	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/identity"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/progress"
	"github.com/syncer-dev/syncer/internal/removals"
	"github.com/syncer-dev/syncer/internal/report"
	"github.com/syncer-dev/syncer/internal/rules"
	"github.com/syncer-dev/syncer/internal/source"
	"github.com/syncer-dev/syncer/internal/state"
	"github.com/syncer-dev/syncer/internal/throttle"
)

// Job is one run's settings and collaborators.
type Job struct {
	Config   *config.Config
	Reader   Reader
	Engine   *apply.Engine // nil: plan only. Dry-run is decided here and nowhere else.
	Throttle *throttle.Throttle
	Logger   *slog.Logger
	Output   string    // report format
	Stdout   io.Writer // reports
	// Desired, when set, is the already loaded desired state; otherwise
	// Run loads the config's sources.
	Desired *membership.Desired
	// AdminAccess is api.use_admin_access: apps and users outside the
	// organisation can't be added, so the plan refuses them.
	AdminAccess bool
	// Resolver matches emails to IDs before planning; nil matches only by
	// what list answers carry.
	Resolver *identity.Resolver
	// AppAuth is set under Chat app authentication, which can't manage
	// groups; such sources are refused before any call.
	AppAuth bool
	// SourceWarnings came with the desired state; they go in the report.
	SourceWarnings []string
	// SourceStamps are the sources' files as they were read (with
	// Desired: stamped before it was loaded): a run that waits for its
	// whole plan stops before writing if one has changed since.
	SourceStamps source.Stamps
	// SavesPlan: the plan is saved for apply --plan, which reads no
	// source: one made from a source that changed while it was read is
	// blocked, as a gated apply is.
	SavesPlan bool
	// Progress reports reads, plans and outcomes as they happen; optional.
	Progress *progress.Progress
	// State keeps what removals carry from run to run; needed under policy sync.
	State state.Store
	// Acting is the email of the user the syncer acts as ("" for an app):
	// policy sync never removes them.
	Acting string
	// AllowRemovals is --allow-removals: up to this many removals this run,
	// past every rail; -1 when not given.
	AllowRemovals int
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Rules expands Directory rules in the sources; nil when there is no
	// Directory (then sources with rules are refused).
	Rules *rules.Expander
	// KeepStates keeps, in the Result, the memberships each changed space
	// was planned from and the removals state a full apply would save: what
	// a plan file records.
	KeepStates bool
	// Held bounds the memberships read and not yet planned; nil: no bound.
	Held *budget.Budget
	// ReadAhead bounds the spaces read ahead of planning that wait for
	// nothing but a processor (ahead.go); 0: the calls in flight (at least
	// 64) and two per processor.
	ReadAhead int
}

// RuleError is a Directory rule that failed or found nobody: the run stops
// before any write, naming the rule.
type RuleError struct{ Err error }

func (e *RuleError) Error() string { return e.Err.Error() }

func (e *RuleError) Unwrap() error { return e.Err }

// ruleLines is what a report says of rules that could not be expanded:
// how many, and each at its file and line.
func ruleLines(err error) []string {
	lines := strings.Split(err.Error(), "\n")
	word := "rules"
	if len(lines) == 1 {
		word = "rule"
	}
	return append([]string{fmt.Sprintf("%d Directory %s could not be expanded; nothing was written, and no space was planned", len(lines), word)}, lines...)
}

// Blocked is true when a safety rail stopped the run before any write.
func (r Result) Blocked() bool { return len(r.Plan.Blocked) > 0 }

// Result is what a run found and did.
type Result struct {
	Plan        diff.Plan
	SpaceErrors []*SpaceError
	Interrupted bool
	// ApplySeconds is how long apply took (0 when it did not run).
	ApplySeconds float64
	// With Job.KeepStates: the spaces the plan changes as they were read,
	// and the removals state (and the version it replaces) a full apply
	// of this plan leaves (nil without policy sync).
	States          map[string]*membership.SpaceState
	Removals        []byte
	RemovalsVersion string
}

// InputError means the config or a source is invalid; no API call was made.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }

func (e *InputError) Unwrap() error { return e.Err }

// Failed reports whether anything in the run failed: a plan that could not
// see everything, a change that failed, a run that stopped early.
func (r Result) Failed() bool {
	return len(r.SpaceErrors) > 0 || r.Interrupted || !r.Plan.Complete() || r.Plan.Summary.Failed > 0
}

// Run runs once. It returns an *InputError, before any API call, when the
// sources are invalid; API trouble is in the Result, whose plan says first
// what it could not see.
//
// Spaces go through a pipeline: each is read, its identities resolved, and
// planned as soon as it can be; unless the whole plan must be seen before
// any write (policy sync), its creates and role changes start while other
// spaces are still being read.
func (j *Job) Run(ctx context.Context) (Result, error) {
	log := j.Logger
	started := time.Now()
	var (
		desired membership.Desired
		err     error
	)
	if j.Desired != nil {
		desired = *j.Desired
	} else {
		if desired, _, j.SourceStamps, err = source.LoadStamped(j.Config.Sources); err != nil {
			return Result{}, &InputError{Err: err}
		}
	}
	if err := Check(desired, Access{AppAuth: j.AppAuth, Admin: j.AdminAccess, Domains: j.Config.Identity.Domains, NoDirectory: !j.Config.Identity.Directory}); err != nil {
		return Result{}, &InputError{Err: err}
	}
	// Rules become members before any space is planned (the plan never
	// sees them), while the spaces are read.
	rulesCtx, stopRules := context.WithCancel(ctx)
	defer stopRules() // a return before the reads leaves no expansion behind
	rules, err := j.startRules(rulesCtx, desired)
	if err != nil {
		return Result{}, err
	}
	policy := diff.Policy(j.Config.Policy)
	log.Info("sources loaded", "spaces", len(desired.Spaces), "memberships", desired.Count(), "rules", rules.rules)
	rm, err := j.prepareRemovals(ctx, desired)
	if err != nil {
		return Result{}, err
	}
	j.Progress.Start(len(desired.Spaces))
	defer j.Progress.Stop()

	// Read, resolve and plan every space; apply as they are planned.
	var stream *apply.Stream
	if j.Engine != nil && !j.gated(desired) {
		stream = j.Engine.Stream(ctx)
		if j.Output == "text" {
			fmt.Fprintln(j.Stdout, "Applying each space as soon as it is planned:")
			fmt.Fprintln(j.Stdout)
		}
	}
	spaces := j.planSpaces(ctx, desired, rules, policy, stream, rm)
	var applyErr error
	if stream != nil {
		applyErr = stream.Wait()
	}
	<-rules.done // it obeys ctx
	if rules.err != nil && ctx.Err() == nil {
		// No space was planned, nothing written; the report says why.
		res := Result{Plan: diff.Plan{Policy: policy, Incomplete: ruleLines(rules.err)}}
		if err := j.finalReport(stream, res.Plan); err != nil {
			log.Error("report not written", "error", err.Error())
		}
		return res, rules.err
	}
	// A run stopped (a signal, its deadline, a failure no call escapes)
	// while rules expanded is an interrupted run, reported as such: no
	// space was planned, and the rules are not at fault.
	desired = rules.desired
	stopped := ctx.Err() != nil

	// Put the plan together and say what it could not see.
	plan := diff.Assemble(policy, spaces.plans)
	plan.Warnings = append(append(append(slices.Clone(j.SourceWarnings), rules.warnings...), spaces.warnings...), plan.Warnings...)
	var identities identity.Outcome
	if spaces.ids != nil {
		spaces.ids.Wait() // planSpaces cancelled them: their calls are abandoned at once
		for _, sp := range spaces.plans {
			forgetDisproved(spaces.ids, sp.Changes)
		}
		identities = spaces.ids.Outcome()
		if rm == nil || !rm.googleState { // a plan against another world than the state's saves nothing there
			j.saveCache(ctx)
		}
	}
	plan.Warnings = append(plan.Warnings, identities.Warnings...)
	if d, ok := j.directory().(interface{ GaveUp() string }); ok {
		if why := d.GaveUp(); why != "" {
			// Lookups it would have made failed (held removals, addresses
			// unresolved) or were answered by the spaces.
			plan.Warnings = append(plan.Warnings, why)
			log.Warn("the Directory was given up for this run", "why", why)
		}
	}
	if j.AppAuth && plan.Summary.UpdateRole > 0 {
		// Known only to Google: which spaces the app created.
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("%d role changes: with Chat app authentication, Google lets the app change roles only in spaces the app created; elsewhere they will be refused (use a user auth mode to manage roles)", plan.Summary.UpdateRole))
	}
	res := Result{Plan: plan, SpaceErrors: spaces.errors}
	switch {
	case stopped && spaces.planned < len(desired.Spaces):
		res.Interrupted = true
		res.Plan.Incomplete = append(res.Plan.Incomplete, fmt.Sprintf("stopped while reading the spaces (%s): %d of %d spaces planned; the others were not read",
			StopReason(ctx), spaces.planned, len(desired.Spaces)))
		log.Error("run stopped before every space was planned", "reason", StopReason(ctx), "planned", spaces.planned, "spaces", len(desired.Spaces))
	case stopped:
		// Every space planned, but what follows planning did not run: the
		// removal rails (a plan of removals they never saw must not look
		// complete: plan --out would mark it applicable) or the apply.
		res.Interrupted = true
		var skipped []string
		if rm != nil {
			skipped = append(skipped, "the removal checks")
		}
		if j.Engine != nil && stream == nil {
			skipped = append(skipped, "the apply")
		}
		line := fmt.Sprintf("stopped after every space was planned (%s)", StopReason(ctx))
		if len(skipped) > 0 {
			line += ": " + strings.Join(skipped, " and ") + " did not run"
		}
		res.Plan.Incomplete = append(res.Plan.Incomplete, line)
		log.Error("run stopped after every space was planned", "reason", StopReason(ctx), "skipped", strings.Join(skipped, ", "))
	}
	for _, c := range spaces.sourcesChanged {
		res.Plan.Incomplete = append(res.Plan.Incomplete, c+" since this run read it: the changes of the spaces planned after that were not sent, and the next run reads it again (write exports under another name and rename them into place, so a run never reads one half-written)")
		log.Error("a source changed after it was read; the spaces planned since were not written", "source", c)
	}
	stop := ""
	if stopped {
		stop = StopReason(ctx)
	}
	markUnread(&res.Plan, spaces.errors, stop)
	if len(identities.Unresolved) > 0 {
		res.Plan.Incomplete = append(res.Plan.Incomplete, unresolvedLine(identities.Unresolved, identities.DirectoryOff))
		log.Error("identities not resolved: the plan may add people already present or miss their role changes", "emails", len(identities.Unresolved))
	}
	var next *removals.State
	if rm != nil && !stopped {
		base := filepath.Dir(j.Config.Path)
		if rm.prev != nil {
			var renamed map[string]string // states saved before totals were relative
			rm.prev.Totals, renamed = prevKeys(rm.prev.Totals, desired.Totals, base)
			rm.prev.RenameSources(renamed)
		}
		settings := removals.SettingsOf(j.Config, j.AllowRemovals, true)
		settings.Repeats = relativeKeys(desired.Repeats, base)
		totals := relativeKeys(desired.Totals, base)
		settings.Files = sourceFiles(desired.Totals, base)
		settings.Foreign = removals.Foreign(rm.prev, totals, settings.Files, otherSource)
		next = removals.Decide(&res.Plan, rm.prev, totals, settings, j.now())
		switch {
		case rm.googleState:
			res.Plan.Warnings = append(res.Plan.Warnings, fmt.Sprintf("the removals state at %s/%s was saved by runs against Google's APIs, and this plan calls %s: it plans without it (every space under sync new to sync) and leaves it as it is; an apply here would be refused", j.State.Where(), RemovalsState, j.api()))
		case rm.otherAPI != "":
			res.Plan.Warnings = append(res.Plan.Warnings, fmt.Sprintf("the removals state at %s/%s was saved by runs against %s, not Google's APIs: this run does not use it (the source totals and grace counters start afresh, every space under sync is new to sync) and replaces it with its own", j.State.Where(), RemovalsState, rm.otherAPI))
		case rm.prev == nil:
			res.Plan.Warnings = append(res.Plan.Warnings, fmt.Sprintf("no removals state at %s/%s yet: the first run with policy sync there (the source totals and grace counters start with this run)", j.State.Where(), RemovalsState))
		}
		if res.Blocked() {
			log.Error("blocked by a safety check; nothing was written", "reasons", strings.Join(res.Plan.Blocked, "; "))
		}
	}
	if (j.Engine != nil && stream == nil || j.SavesPlan) && !stopped && !res.Blocked() && !res.Plan.Empty() {
		// An export still being written when it was read (or cut short
		// since) is a shorter list, a cut address another person: what
		// was planned from it is not written.
		for _, c := range j.SourceStamps.Changed() {
			res.Plan.Blocked = append(res.Plan.Blocked, c+" since this run read it: nothing was written, and the next run reads it again (write exports under another name and rename them into place, so a run never reads one half-written)")
		}
		if res.Blocked() {
			log.Error("a source changed after it was read; nothing was written", "reasons", strings.Join(res.Plan.Blocked, "; "))
		}
	}
	if j.KeepStates {
		res.States = map[string]*membership.SpaceState{}
		for _, c := range res.Plan.Changes {
			res.States[c.Space] = spaces.states[c.Space]
		}
		if next != nil && !res.Blocked() {
			next.API = j.api() // apply --plan saves it as it is
			if res.Removals, err = next.Encode(); err != nil {
				return res, err
			}
			res.RemovalsVersion = rm.version
		}
	}
	log.Info("plan computed", "create", res.Plan.Summary.Create, "update_role", res.Plan.Summary.UpdateRole,
		"delete", res.Plan.Summary.Delete, "unchanged", res.Plan.Summary.Unchanged, "complete", res.Plan.Complete(), "seconds", time.Since(started).Seconds())

	// Changes that had to wait for the whole plan.
	if j.Engine != nil && stream == nil && !stopped && !res.Blocked() && !res.Plan.Empty() {
		if j.Output == "text" {
			if err := j.report(res.Plan); err != nil {
				return res, err
			}
			fmt.Fprintln(j.Stdout)
		}
		j.Progress.Planned(len(res.Plan.Changes))
		applyErr = j.Engine.Apply(ctx, &res.Plan)
		if spaces.ids != nil {
			// The creates' answers came after the cache was saved.
			forgetDisproved(spaces.ids, res.Plan.Changes)
			j.saveCache(ctx)
		}
	}
	if j.Engine != nil && (stream != nil || res.Plan.Applied) {
		res.Plan.Applied = true
		res.Plan.Recount()
		notDone := 0
		for _, c := range res.Plan.Changes {
			if c.Stopped {
				notDone++
			}
		}
		if notDone > 0 || applyErr != nil && !stopped {
			// (A run stopped with nothing left undone has said so above,
			// stopped while reading or after planning.)
			reason := StopReason(ctx)
			if ctx.Err() == nil {
				reason = "the run's deadline (limits.run_timeout) came too close to try them"
			}
			res.Interrupted = true
			res.Plan.Incomplete = append(res.Plan.Incomplete, fmt.Sprintf("stopped during apply (%s): %d changes were not made or may not have been (rerun to finish)", reason, notDone))
			log.Error("apply stopped; rerun to finish", "reason", reason, "not_done", notDone)
		}
		s := res.Plan.Summary
		res.ApplySeconds = time.Since(started).Seconds()
		log.Info("apply finished", "applied", s.Applied, "already_done", s.AlreadyDone, "failed", s.Failed,
			"skipped", s.Skipped, "seconds", res.ApplySeconds, "retries", j.Throttle.Retries())
	}
	if next != nil && j.Engine != nil && !res.Blocked() && !res.Interrupted && res.Plan.Complete() {
		// The rails' baseline moves only on a run that saw everything.
		next.NoteRefusals(res.Plan.Changes, j.now())
		if err := j.saveRemovals(ctx, rm, next); err != nil {
			res.Plan.Incomplete = append(res.Plan.Incomplete, err.Error())
			log.Error("removals state not saved: the next run can't count this one", "error", err.Error())
		}
	}
	return res, j.finalReport(stream, res.Plan)
}

// stoppedCacheSave bounds the identity cache's save once the run is
// stopped (a signal, run_timeout), before or during it: the run must end
// within seconds (a scheduler kills it 10 s after SIGTERM, its lock still
// held), and a cache not saved costs only lookups.
const stoppedCacheSave = 2 * time.Second

// cacheSaveContext is the identity cache's save's: a call's deadline, and
// stoppedCacheSave at most from when ctx ends.
func cacheSaveContext(ctx context.Context, callTimeout time.Duration) (context.Context, context.CancelFunc) {
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(stoppedCacheSave, cancel) })
	return saveCtx, func() { stop(); cancel() }
}

func (j *Job) now() time.Time {
	if j.Now != nil {
		return j.Now()
	}
	return time.Now()
}

// finalReport writes the run's report, headed "Report:" in text after
// the lines a streamed apply printed.
func (j *Job) finalReport(stream *apply.Stream, p diff.Plan) error {
	if stream != nil && j.Output == "text" {
		fmt.Fprintln(j.Stdout, "Report:")
		fmt.Fprintln(j.Stdout)
	}
	return j.report(p)
}

func (j *Job) report(p diff.Plan) error {
	if err := report.Write(j.Stdout, j.Output, p); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// forgetDisproved drops the identity cache's entries that creates applied
// (as the plans were made, or after the whole plan) disproved: a create by an address the cache
// matched to an ID that is not a member, answered "already exists", was
// for a member under another ID (the address given to someone new, or
// its owner's account replaced), unless the answer to an earlier attempt
// was lost; either way the next run looks the address up (a lookup at
// worst) rather than create it again until the entry expires.
func forgetDisproved(ids *identity.Service, changes []diff.Change) {
	for _, c := range changes {
		if e := c.Principal.Email(); e != "" && c.Action == diff.Create && c.Status == diff.AlreadyDone && c.ResolvedBy == identity.ByCache {
			ids.Forget(e)
		}
	}
}

// saveCache saves the identity cache, if the run has one and it changed;
// a cache not saved costs only lookups, so that is a warning.
func (j *Job) saveCache(ctx context.Context) {
	if j.Resolver == nil || j.Resolver.Cache == nil {
		return
	}
	saveCtx, cancel := cacheSaveContext(ctx, j.Config.Limits.CallTimeout)
	saving := time.Now()
	err := j.Resolver.Cache.Save(saveCtx)
	cancel()
	j.Logger.Debug("identity cache saved", "seconds", time.Since(saving).Seconds())
	if err != nil {
		j.Logger.Warn("identity cache not saved", "error", err.Error())
	}
}

// directory is the Directory the run's identities ask, or nil.
func (j *Job) directory() any {
	if j.Resolver == nil || j.Resolver.Directory == nil {
		return nil
	}
	return j.Resolver.Directory
}
