// Package job is one run of the syncer as a short, straight script: load the
// sources, read the current state, compute the plan, report it, apply it
// (unless only planning) and report the outcome. Scheduling calls it again.
package job

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/syncer-dev/syncer/internal/apply"
	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/identity"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/report"
	"github.com/syncer-dev/syncer/internal/source"
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
}

// Result is what a run found and did.
type Result struct {
	Plan        diff.Plan
	SpaceErrors []*SpaceError
	Interrupted bool
	// ApplySeconds is how long apply took (0 when it did not run).
	ApplySeconds float64
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
func (j *Job) Run(ctx context.Context) (Result, error) {
	log := j.Logger
	started := time.Now()
	var (
		desired membership.Desired
		err     error
	)
	if j.Desired != nil {
		desired = *j.Desired
	} else if desired, err = source.Load(j.Config.Sources); err != nil {
		return Result{}, &InputError{Err: err}
	}
	if err := Check(desired, Access{AppAuth: j.AppAuth, Admin: j.AdminAccess, Domains: j.Config.Identity.Domains}); err != nil {
		return Result{}, &InputError{Err: err}
	}
	names := make([]string, len(desired.Spaces))
	wantsApp := map[string]bool{}
	for i, s := range desired.Spaces {
		names[i] = s.Name
		// Admin access can't read the app's membership (Check refused such sources).
		wantsApp[s.Name] = !j.AdminAccess && slices.ContainsFunc(s.Members, func(m membership.DesiredMember) bool { return m.Principal == membership.App })
	}
	log.Info("sources loaded", "spaces", len(names), "memberships", desired.Count())

	current, spaceErrs, readWarnings := ReadCurrent(ctx, j.Reader, j.Throttle, names, wantsApp, j.Config.Limits.CallsInFlight(), j.AppAuth)
	for _, w := range readWarnings {
		log.Warn(w)
	}
	if ctx.Err() != nil {
		return j.stopped(ctx, desired, current, spaceErrs, readWarnings, "reading the spaces")
	}
	for _, e := range spaceErrs {
		log.Error("space not read; nothing is planned for it", "space", e.Space, "error", e.Err.Error())
	}
	var identities identity.Outcome
	if j.Resolver != nil {
		identities = j.Resolver.Resolve(ctx, desired, &current)
		if j.Resolver.Cache != nil {
			if err := j.Resolver.Cache.Save(); err != nil {
				log.Warn("identity cache not saved", "error", err.Error())
			}
		}
		if ctx.Err() != nil {
			return j.stopped(ctx, desired, current, spaceErrs, append(readWarnings, identities.Warnings...), "resolving identities")
		}
	}
	plan := diff.Compute(desired, current, diff.Policy(j.Config.Policy))
	if j.AdminAccess {
		plan = refuseUnderAdminAccess(plan, identities.NotInDirectory)
	}
	plan.Warnings = append(plan.Warnings, j.SourceWarnings...)
	plan.Warnings = append(plan.Warnings, readWarnings...)
	plan.Warnings = append(plan.Warnings, identities.Warnings...)
	if j.AppAuth && plan.Summary.UpdateRole > 0 {
		// Known only to Google: which spaces the app created.
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("%d role changes: with Chat app authentication, Google lets the app change roles only in spaces the app created; elsewhere they will be refused (use a user auth mode to manage roles)", plan.Summary.UpdateRole))
	}
	markUnread(&plan, spaceErrs)
	if len(identities.Unresolved) > 0 {
		plan.Incomplete = append(plan.Incomplete, unresolvedLine(identities.Unresolved))
		log.Error("identities not resolved: the plan may add people already present or miss their role changes", "emails", len(identities.Unresolved))
	}
	res := Result{Plan: plan, SpaceErrors: spaceErrs}
	log.Info("plan computed", "create", plan.Summary.Create, "update_role", plan.Summary.UpdateRole,
		"delete", plan.Summary.Delete, "unchanged", plan.Summary.Unchanged, "complete", plan.Complete(), "seconds", time.Since(started).Seconds())

	if j.Engine == nil || plan.Empty() {
		return res, j.report(res.Plan)
	}
	if j.Output == "text" {
		// People see the plan before it runs; machines get one document at the end.
		if err := j.report(res.Plan); err != nil {
			return res, err
		}
		fmt.Fprintln(j.Stdout)
	}
	applyStart := time.Now()
	if err := j.Engine.Apply(ctx, &res.Plan); err != nil {
		res.Interrupted = true
		notDone := res.Plan.Summary.Skipped
		res.Plan.Incomplete = append(res.Plan.Incomplete, fmt.Sprintf("stopped during apply: %s; %d changes were not made (rerun to finish)", StopReason(ctx), notDone))
		log.Error("apply stopped; rerun to finish", "reason", StopReason(ctx), "not_done", notDone)
	}
	res.ApplySeconds = time.Since(applyStart).Seconds()
	s := res.Plan.Summary
	log.Info("apply finished", "applied", s.Applied, "already_done", s.AlreadyDone, "failed", s.Failed,
		"skipped", s.Skipped, "seconds", res.ApplySeconds, "retries", j.Throttle.Retries())
	return res, j.report(res.Plan)
}

// StopReason says why ctx ended: the cause it was cancelled with (a signal,
// the run deadline, a failure no retry can mend), or its error.
func StopReason(ctx context.Context) string {
	if cause := context.Cause(ctx); cause != nil {
		return cause.Error()
	}
	return "not stopped"
}

// stopped reports a run that ended before its plan could be computed: no
// change is planned or made on a half-read state.
func (j *Job) stopped(ctx context.Context, desired membership.Desired, current membership.Current, spaceErrs []*SpaceError, warnings []string, phase string) (Result, error) {
	plan := diff.Plan{Policy: diff.Policy(j.Config.Policy), Changes: []diff.Change{}, Warnings: append(append([]string{}, j.SourceWarnings...), warnings...), Incomplete: []string{}}
	read := 0
	for _, ds := range desired.Spaces {
		sum := diff.SpaceSummary{Name: ds.Name, Label: ds.Label, Desired: len(ds.Members)}
		if cs := current.Spaces[ds.Name]; cs != nil {
			read++
			sum.Listed, sum.Current, sum.Type = true, len(cs.Memberships), cs.Type
		}
		plan.Spaces = append(plan.Spaces, sum)
	}
	markUnread(&plan, spaceErrs)
	plan.Incomplete = append([]string{fmt.Sprintf("stopped while %s (%s): %d of %d spaces read; nothing was planned or changed",
		phase, StopReason(ctx), read, len(desired.Spaces))}, plan.Incomplete...)
	j.Logger.Error("run stopped before a plan could be made; nothing was changed", "phase", phase, "reason", StopReason(ctx))
	res := Result{Plan: plan, SpaceErrors: spaceErrs, Interrupted: true}
	return res, j.report(plan)
}

// markUnread flags the spaces that could not be read, each with why, and
// says so first in the plan.
func markUnread(p *diff.Plan, errs []*SpaceError) {
	if len(errs) == 0 {
		return
	}
	why := map[string]string{}
	for _, e := range errs {
		why[e.Space] = e.Err.Error()
	}
	for i := range p.Spaces {
		if w, ok := why[p.Spaces[i].Name]; ok {
			p.Spaces[i].Listed, p.Spaces[i].Error = false, w
		}
	}
	p.Incomplete = append(p.Incomplete, fmt.Sprintf("%d of %d spaces could not be read; nothing is planned for them", len(errs), len(p.Spaces)))
}

// unresolvedLine names the addresses whose lookups failed.
func unresolvedLine(unresolved map[string]string) string {
	emails := make([]string, 0, len(unresolved))
	for e := range unresolved {
		emails = append(emails, e)
	}
	slices.Sort(emails)
	const show = 10
	parts := make([]string, 0, show+1)
	for i, e := range emails {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(emails)-show))
			break
		}
		parts = append(parts, e+" ("+unresolved[e]+")")
	}
	return fmt.Sprintf("%d addresses could not be resolved, so the plan may add people already present or miss role changes: %s",
		len(emails), strings.Join(parts, "; "))
}

// refuseUnderAdminAccess drops the creates admin access can't make, with a
// warning each: people the Directory answered it does not know, who are
// outside the organisation. (The app itself is refused with the sources.)
func refuseUnderAdminAccess(p diff.Plan, notInDirectory map[string]bool) diff.Plan {
	kept := p.Changes[:0]
	dropped := map[[2]string]bool{}
	for _, c := range p.Changes {
		key := [2]string{c.Space, string(c.Principal)}
		switch {
		case dropped[key]:
			continue // the role change that followed a refused create
		case c.Action == diff.Create && notInDirectory[c.Principal.Email()]:
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: %s is not in the organisation's Directory and admin access can't add users outside it; not added to %s", c.Source, c.Member, c.Space))
		default:
			kept = append(kept, c)
			continue
		}
		dropped[key] = true
	}
	p.Changes = kept
	p.Recount()
	return p
}

func (j *Job) report(p diff.Plan) error {
	if err := report.Write(j.Stdout, j.Output, p); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
