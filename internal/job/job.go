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

// Failed reports whether anything in the run failed.
func (r Result) Failed() bool {
	return len(r.SpaceErrors) > 0 || r.Interrupted || r.Plan.Summary.Failed > 0
}

// Run runs once. It returns an *InputError, before any API call, when the
// sources are invalid; API trouble is in the Result.
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
	if j.AppAuth {
		if err := refuseUnderAppAuth(desired); err != nil {
			return Result{}, &InputError{Err: err}
		}
	}
	names := make([]string, len(desired.Spaces))
	wantsApp := map[string]bool{}
	for i, s := range desired.Spaces {
		names[i] = s.Name
		wantsApp[s.Name] = slices.ContainsFunc(s.Members, func(m membership.DesiredMember) bool { return m.Principal == membership.App })
	}
	log.Info("sources loaded", "spaces", len(names), "memberships", desired.Count())

	current, spaceErrs, readWarnings := ReadCurrent(ctx, j.Reader, j.Throttle, names, wantsApp, j.Config.Limits.CallsInFlight())
	for _, w := range readWarnings {
		log.Warn(w)
	}
	for _, e := range spaceErrs {
		log.Error("space not read; nothing is planned for it", "space", e.Space, "error", e.Err.Error())
	}
	if ctx.Err() != nil {
		return Result{SpaceErrors: spaceErrs, Interrupted: true}, nil
	}
	var notInDirectory map[string]bool
	if j.Resolver != nil {
		notInDirectory = j.Resolver.Resolve(ctx, desired, &current)
		if j.Resolver.Cache != nil {
			if err := j.Resolver.Cache.Save(); err != nil {
				log.Warn("identity cache not saved", "error", err.Error())
			}
		}
	}
	plan := diff.Compute(desired, current, diff.Policy(j.Config.Policy))
	if j.AdminAccess {
		plan = refuseUnderAdminAccess(plan, notInDirectory)
	}
	for _, e := range spaceErrs {
		plan.Warnings = append(plan.Warnings, e.Error())
	}
	plan.Warnings = append(plan.Warnings, readWarnings...)
	res := Result{Plan: plan, SpaceErrors: spaceErrs}
	log.Info("plan computed", "create", plan.Summary.Create, "update_role", plan.Summary.UpdateRole,
		"delete", plan.Summary.Delete, "unchanged", plan.Summary.Unchanged, "seconds", time.Since(started).Seconds())

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
		log.Warn("apply interrupted; rerun to finish", "error", err.Error())
	}
	res.ApplySeconds = time.Since(applyStart).Seconds()
	s := res.Plan.Summary
	log.Info("apply finished", "applied", s.Applied, "already_done", s.AlreadyDone, "failed", s.Failed,
		"skipped", s.Skipped, "seconds", res.ApplySeconds, "retries", j.Throttle.Retries())
	return res, j.report(res.Plan)
}

// refuseUnderAppAuth lists every group, and the app itself, in the sources:
// Chat app authentication can neither manage group memberships nor add
// the calling app (that takes user authentication).
func refuseUnderAppAuth(d membership.Desired) error {
	var errs source.Errors
	for _, s := range d.Spaces {
		for _, m := range s.Members {
			switch {
			case m.Principal.IsGroup():
				errs = append(errs, &source.Error{At: m.Source, Msg: fmt.Sprintf("%s in %s: Chat app authentication can't manage Google Group memberships; use a user auth mode (a subject for domain-wide delegation)", m.Principal, s.Name)})
			case m.Principal == membership.App:
				errs = append(errs, &source.Error{At: m.Source, Msg: fmt.Sprintf("app in %s: adding the Chat app to a space takes user authentication; use a user auth mode", s.Name)})
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// refuseUnderAdminAccess drops the creates admin access can't make, with a
// warning each: the app itself, and people the Directory answered it does
// not know, who are outside the organisation.
func refuseUnderAdminAccess(p diff.Plan, notInDirectory map[string]bool) diff.Plan {
	kept := p.Changes[:0]
	dropped := map[[2]string]bool{}
	for _, c := range p.Changes {
		key := [2]string{c.Space, string(c.Principal)}
		switch {
		case dropped[key]:
			continue // the role change that followed a refused create
		case c.Action == diff.Create && c.Principal == membership.App:
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: admin access can't add apps; app not added to %s", c.Source, c.Space))
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
