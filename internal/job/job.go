// Package job is one run of the syncer as a short, straight script: load the
// sources, read the current state, compute the plan, report it, apply it
// (unless only planning) and report the outcome. Scheduling calls it again.
package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/syncer-dev/syncer/internal/apply"
	"github.com/syncer-dev/syncer/internal/budget"
	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/identity"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/pipeline"
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
}

// RuleError is a Directory rule that failed or found nobody: the run stops
// before any write, naming the rule.
type RuleError struct{ Err error }

func (e *RuleError) Error() string { return e.Err.Error() }
func (e *RuleError) Unwrap() error { return e.Err }

// pendingRules is the sources' Directory rules being expanded while the
// spaces are read: reading needs no rule; planning waits for them.
type pendingRules struct {
	done    chan struct{}
	desired membership.Desired              // with every rule's people, once done
	learned map[string]membership.Principal // identities the rules taught
	err     error
	rules   int
}

// wait returns the expanded sources, or the rules' error.
func (p *pendingRules) wait(ctx context.Context) (membership.Desired, map[string]membership.Principal, error) {
	select {
	case <-p.done:
		return p.desired, p.learned, p.err
	case <-ctx.Done():
		return membership.Desired{}, nil, context.Cause(ctx)
	}
}

// startRules starts turning the sources' Directory rules into members.
// It fails at once, before any call, when the rules can't be expanded.
func (j *Job) startRules(ctx context.Context, desired membership.Desired) (*pendingRules, error) {
	p := &pendingRules{done: make(chan struct{}), desired: desired}
	for _, s := range desired.Spaces {
		p.rules += len(s.Rules)
	}
	if p.rules == 0 {
		close(p.done)
		return p, nil
	}
	if j.Rules == nil {
		return nil, &InputError{Err: errors.New("the sources have Directory rules, but the Directory is not available to this run")}
	}
	go func() {
		defer close(p.done)
		started := time.Now()
		x, err := j.Rules.Expand(ctx, desired)
		if err != nil {
			p.err = &RuleError{Err: err} // the caller logs each rule at fault
			return
		}
		p.desired, p.learned = x.Desired, x.Known
		j.Logger.Info("rules expanded", "rules", p.rules, "directory_calls", x.Calls, "memberships", x.Desired.Count(), "seconds", time.Since(started).Seconds())
	}()
	return p, nil
}

// RemovalsState is the name of the removals' state document.
const RemovalsState = "removals.json"

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
	} else if desired, err = source.Load(j.Config.Sources); err != nil {
		return Result{}, &InputError{Err: err}
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
		return Result{}, rules.err // no space was planned, nothing written
	}
	// A run stopped (a signal, its deadline, a failure no call escapes)
	// while rules expanded is an interrupted run, reported as such: no
	// space was planned, and the rules are not at fault.
	desired = rules.desired
	stopped := ctx.Err() != nil

	// Put the plan together and say what it could not see.
	plan := diff.Assemble(policy, spaces.plans)
	plan.Warnings = append(append(slices.Clone(j.SourceWarnings), spaces.warnings...), plan.Warnings...)
	var identities identity.Outcome
	if spaces.ids != nil {
		identities = spaces.ids.Outcome()
		if j.Resolver.Cache != nil {
			saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.Config.Limits.CallTimeout)
			saving := time.Now()
			err := j.Resolver.Cache.Save(saveCtx)
			cancel()
			log.Debug("identity cache saved", "seconds", time.Since(saving).Seconds())
			if err != nil {
				log.Warn("identity cache not saved", "error", err.Error())
			}
		}
	}
	plan.Warnings = append(plan.Warnings, identities.Warnings...)
	if j.AppAuth && plan.Summary.UpdateRole > 0 {
		// Known only to Google: which spaces the app created.
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("%d role changes: with Chat app authentication, Google lets the app change roles only in spaces the app created; elsewhere they will be refused (use a user auth mode to manage roles)", plan.Summary.UpdateRole))
	}
	res := Result{Plan: plan, SpaceErrors: spaces.errors}
	if stopped && spaces.planned < len(desired.Spaces) {
		res.Interrupted = true
		res.Plan.Incomplete = append(res.Plan.Incomplete, fmt.Sprintf("stopped while reading the spaces (%s): %d of %d spaces planned; the others were not read",
			StopReason(ctx), spaces.planned, len(desired.Spaces)))
		log.Error("run stopped before every space was planned", "reason", StopReason(ctx), "planned", spaces.planned, "spaces", len(desired.Spaces))
	}
	markUnread(&res.Plan, spaces.errors)
	if len(identities.Unresolved) > 0 {
		res.Plan.Incomplete = append(res.Plan.Incomplete, unresolvedLine(identities.Unresolved))
		log.Error("identities not resolved: the plan may add people already present or miss their role changes", "emails", len(identities.Unresolved))
	}
	var next *removals.State
	if rm != nil && !stopped {
		base := filepath.Dir(j.Config.Path)
		if rm.prev != nil {
			rm.prev.Totals = relativeKeys(rm.prev.Totals, base) // states saved before totals were relative
		}
		next = removals.Decide(&res.Plan, rm.prev, relativeKeys(desired.Totals, base), removals.SettingsOf(j.Config, j.AllowRemovals, true), j.now())
		if rm.prev == nil {
			res.Plan.Warnings = append(res.Plan.Warnings, fmt.Sprintf("no removals state at %s/%s yet: the first run with policy sync there (the source totals and grace counters start with this run)", j.State.Where(), RemovalsState))
		}
		if res.Blocked() {
			log.Error("blocked by a safety check; nothing was written", "reasons", strings.Join(res.Plan.Blocked, "; "))
		}
	}
	if j.KeepStates {
		res.States = map[string]*membership.SpaceState{}
		for _, c := range res.Plan.Changes {
			res.States[c.Space] = spaces.states[c.Space]
		}
		if next != nil && !res.Blocked() {
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
		if notDone > 0 || applyErr != nil {
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
		if err := j.saveRemovals(ctx, rm, next); err != nil {
			res.Plan.Incomplete = append(res.Plan.Incomplete, err.Error())
			log.Error("removals state not saved: the next run can't count this one", "error", err.Error())
		}
	}
	if stream != nil && j.Output == "text" {
		fmt.Fprintln(j.Stdout, "Report:")
		fmt.Fprintln(j.Stdout)
	}
	return res, j.report(res.Plan)
}

func (j *Job) now() time.Time {
	if j.Now != nil {
		return j.Now()
	}
	return time.Now()
}

// removalRun is what policy sync needs through a run.
type removalRun struct {
	prev    *removals.State // nil on a first run
	version string
	protect removals.Protect
	acting  removals.Acting
	// protectIDs are protect's addresses the Directory tied to IDs;
	// unresolvedProtect the others, asked per space.
	protectIDs        map[membership.Principal]string
	unresolvedProtect []string
}

// prepareRemovals reads the last run's state when any space's policy is
// sync. State that exists but can't be read fails the run before any
// write: it is never taken as "no previous state", which would switch the
// rails off.
func (j *Job) prepareRemovals(ctx context.Context, desired membership.Desired) (*removalRun, error) {
	if !j.syncAny(desired) {
		return nil, nil
	}
	if j.State == nil {
		return nil, errors.New("policy sync needs a state location (state.location) to keep the last run's totals and the grace counters")
	}
	if p, ok := j.State.(interface{ Probe(context.Context) error }); ok && j.Engine != nil {
		if err := p.Probe(ctx); err != nil {
			return nil, fmt.Errorf("policy sync keeps its totals and grace counters in state.location, which can't be written (%w); nothing was done", err)
		}
	}
	rm := &removalRun{protect: removals.NewProtect(j.Config.Protect), acting: removals.Acting{Email: strings.ToLower(j.Acting)}}
	data, version, err := j.State.Read(ctx, RemovalsState)
	switch {
	case errors.Is(err, state.ErrNotExist):
		j.Logger.Info("no removals state yet: this is the first run with policy sync here", "state", j.State.Where())
	case err != nil:
		return nil, fmt.Errorf("removals state %s/%s can't be read, so the safety rails can't be checked; nothing was done: %w", j.State.Where(), RemovalsState, err)
	default:
		prev, err := removals.ParseState(data)
		if err != nil {
			return nil, fmt.Errorf("removals state %s/%s: %w; nothing was done (move it aside only if you mean to start the rails afresh)", j.State.Where(), RemovalsState, err)
		}
		rm.prev, rm.version = prev, version
	}
	return rm, nil
}

func (j *Job) saveRemovals(ctx context.Context, rm *removalRun, next *removals.State) error {
	data, err := next.Encode()
	if err != nil {
		return err
	}
	if _, err := j.State.Write(ctx, RemovalsState, data, rm.version); err != nil {
		return fmt.Errorf("removals state not saved: %w", err)
	}
	return nil
}

// syncAny reports whether any space removes members (policy sync).
func (j *Job) syncAny(d membership.Desired) bool {
	for _, s := range d.Spaces {
		if s.Policy == config.PolicySync || s.Policy == "" && j.Config.Policy == config.PolicySync {
			return true
		}
	}
	return false
}

// gated reports whether every write must wait for the whole plan: with
// removals, the safety checks need to see it all first.
func (j *Job) gated(d membership.Desired) bool { return j.syncAny(d) }

// plannedSpaces is what the pipeline left.
type plannedSpaces struct {
	plans    []diff.SpacePlan // every space, read or not
	errors   []*SpaceError
	warnings []string
	planned  int
	ids      *identity.Service
	states   map[string]*membership.SpaceState // with KeepStates, the spaces with changes
}

// prepareSpares readies what the rails need per space: who is acting,
// the protected people's IDs, the suspended. It returns warnings.
func (j *Job) prepareSpares(ctx context.Context, desired membership.Desired, rm *removalRun, ids *identity.Service) []string {
	if rm == nil {
		return nil
	}
	rm.protectIDs = map[membership.Principal]string{}
	if ids == nil {
		return nil
	}
	ids.Careful = func(space string) bool { return j.syncing(desired, space) }
	if rm.acting.Email != "" {
		rm.acting.ID, _ = ids.Resolve(ctx, rm.acting.Email)
	}
	// protect names people by address; a member is listed under one of
	// theirs, or none: match by ID too.
	for _, email := range rm.protect.Emails() {
		if id, ok := ids.Resolve(ctx, email); ok {
			rm.protectIDs[id] = email
		} else {
			rm.unresolvedProtect = append(rm.unresolvedProtect, email)
		}
	}
	if j.Config.RemoveSuspended {
		if err := ids.LoadSuspended(ctx); err != nil {
			return []string{"remove_suspended: the Directory's suspended users could not be listed; nobody is removed for being suspended: " + err.Error()}
		}
	}
	return nil
}

// planSpaces reads, resolves and plans every space through the pipeline,
// handing each planned space to stream (when set) at once. desired is the
// sources as read; planning waits for rules to expand them, reading
// doesn't. A rule that fails stops the reads; no space is planned.
func (j *Job) planSpaces(ctx context.Context, desired membership.Desired, rules *pendingRules, policy diff.Policy, stream *apply.Stream, rm *removalRun) plannedSpaces {
	out := plannedSpaces{plans: make([]diff.SpacePlan, len(desired.Spaces)), states: map[string]*membership.SpaceState{}}
	var statesMu sync.Mutex
	latency := &latencyMeter{}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Once the rules are in: the identity service, and who the rails spare.
	var expanded membership.Desired
	ready := make(chan struct{})
	var setup sync.WaitGroup
	setup.Add(1)
	go func() {
		defer setup.Done()
		d, learned, err := rules.wait(ctx)
		if err != nil {
			cancel(err)
			return
		}
		expanded = d
		if j.Resolver != nil {
			out.ids = j.Resolver.NewService(expanded, latency.estimate)
			out.ids.Learn(learned)
		}
		out.warnings = j.prepareSpares(ctx, expanded, rm, out.ids)
		close(ready)
	}()
	planners := sync.Pool{New: func() any {
		p := diff.NewPlanner(policy)
		p.RemoveSuspended = j.Config.RemoveSuspended
		return p
	}}
	warnings := make([]string, len(desired.Spaces))
	streamText := stream != nil && j.Output == "text"
	pipeline.Run(ctx, len(desired.Spaces), j.Config.Limits.CallsInFlight(), pipeline.Stages[*heldSpace, diff.SpacePlan]{
		Read: func(ctx context.Context, i int) (*heldSpace, error) {
			ds := desired.Spaces[i]
			st, warning, err := readSpace(ctx, j.Reader, j.Throttle, spaceRead{name: ds.Name, latency: latency, appAuth: j.AppAuth, held: j.Held,
				// Admin access can't read the app's membership (Check refused such sources).
				wantsApp: !j.AdminAccess && slices.ContainsFunc(ds.Members, func(m membership.DesiredMember) bool { return m.Principal == membership.App }),
				wantsType: slices.ContainsFunc(ds.Members, func(m membership.DesiredMember) bool { return m.Role.Elevated() || m.Principal.IsGroup() }) ||
					slices.ContainsFunc(ds.Rules, func(r membership.Rule) bool { return r.Role.Elevated() || r.Kind == membership.RuleGroup })})
			warnings[i] = warning
			j.Progress.SpaceRead()
			if err != nil {
				return nil, err
			}
			return hold(st), nil
		},
		Plan: func(ctx context.Context, i int, held *heldSpace) (diff.SpacePlan, error) {
			defer j.Held.Release(held.count) // readSpace held them
			select {
			case <-ready:
			case <-ctx.Done():
				return diff.SpacePlan{}, fmt.Errorf("stopped before it was planned: %w", context.Cause(ctx))
			}
			ds := expanded.Spaces[i]
			var (
				ids diff.Identities
				who identity.SpaceOutcome
			)
			if out.ids != nil {
				out.ids.Await(ctx, ds, held.missingEmails) // held in its compact form meanwhile
			}
			st := held.state()
			if out.ids != nil {
				ids, who = out.ids.Space(ctx, ds, st)
			}
			if ctx.Err() != nil {
				return diff.SpacePlan{}, fmt.Errorf("stopped before its plan was complete: %w", context.Cause(ctx))
			}
			p := planners.Get().(*diff.Planner)
			sp := p.Space(ds, st, ids)
			planners.Put(p)
			if j.AdminAccess {
				refuseOutsiders(&sp, func(email string) bool { return who.NotInDirectory[email] },
					"is not in the organisation's Directory and admin access can't add users outside it")
			}
			if outside := (Access{AppAuth: j.AppAuth, Admin: j.AdminAccess, Domains: j.Config.Identity.Domains}).outsideDomains(); outside != nil {
				refuseOutsiders(&sp, outside, "is outside identity.domains, and this access can't add people outside the organisation")
			}
			if rm != nil {
				j.screenRemovals(ctx, &sp, ds, rm, out.ids, who.Unresolved)
			}
			removals.GuardLastOwners(&sp) // any policy: upsert demotes owners too
			if j.KeepStates && len(sp.Changes) > 0 {
				statesMu.Lock()
				out.states[ds.Name] = st
				statesMu.Unlock()
			}
			return sp, nil
		},
		Done: func(i int, sp diff.SpacePlan, err error) {
			ds := desired.Spaces[i]
			if err != nil {
				out.plans[i] = diff.SpacePlan{Summary: diff.SpaceSummary{Name: ds.Name, Label: ds.Label, Desired: len(ds.Members)}}
				out.errors = append(out.errors, &SpaceError{Space: ds.Name, Err: err, Stopped: ctx.Err() != nil})
				if ctx.Err() == nil {
					j.Logger.Error("space not read; nothing is planned for it", "space", ds.Name, "error", err.Error())
				}
				return
			}
			out.plans[i] = sp
			out.planned++
			j.Progress.SpacePlanned(len(sp.Changes))
			if stream != nil && len(sp.Changes) > 0 {
				if streamText {
					report.TextSpace(j.Stdout, sp.Summary, sp.Changes) // people see each space's plan as it is decided
				}
				stream.Submit(out.plans[i].Changes)
			}
		},
	})
	setup.Wait() // it obeys ctx
	for _, w := range warnings {
		if w != "" {
			out.warnings = append(out.warnings, w)
			j.Logger.Warn(w)
		}
	}
	slices.SortFunc(out.errors, func(a, b *SpaceError) int { return strings.Compare(a.Space, b.Space) })
	return out
}

// StopReason says why ctx ended: the cause it was cancelled with (a signal,
// the run deadline, a failure no retry can mend), or its error.
func StopReason(ctx context.Context) string {
	if cause := context.Cause(ctx); cause != nil {
		return cause.Error()
	}
	return "not stopped"
}

// markUnread flags the spaces that could not be read, each with why, and
// says so first in the plan. Spaces a stopped run never got to are counted
// in the stop's own line.
func markUnread(p *diff.Plan, errs []*SpaceError) {
	why := map[string]string{}
	failed := 0
	for _, e := range errs {
		why[e.Space] = e.Err.Error()
		if !e.Stopped {
			failed++
		}
	}
	for i := range p.Spaces {
		if w, ok := why[p.Spaces[i].Name]; ok {
			p.Spaces[i].Listed, p.Spaces[i].Error = false, w
		}
	}
	if failed > 0 {
		p.Incomplete = append(p.Incomplete, fmt.Sprintf("%d of %d spaces could not be read; nothing is planned for them", failed, len(p.Spaces)))
	}
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

// refuseOutsiders drops from a space's plan the creates the access can't
// make (people outside the organisation under admin access or app
// authentication), with a warning each; they may still be members already.
func refuseOutsiders(sp *diff.SpacePlan, outside func(email string) bool, why string) {
	kept := sp.Changes[:0]
	dropped := map[membership.Principal]bool{}
	for _, c := range sp.Changes {
		switch {
		case dropped[c.Principal]:
			continue // the role change that followed a refused create
		case c.Action == diff.Create && outside(c.Principal.Email()):
			sp.Warnings = append(sp.Warnings, fmt.Sprintf("%s: %s %s; not added to %s", c.Source, c.Member, why, c.Space))
			dropped[c.Principal] = true
		default:
			kept = append(kept, c)
		}
	}
	sp.Changes = kept
}

func (j *Job) report(p diff.Plan) error {
	if err := report.Write(j.Stdout, j.Output, p); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// screenRemovals keeps in place, in one space's plan, who must never be
// removed; members listed without an email are looked up first when
// protect or the acting user needs to know who they are.
func (j *Job) screenRemovals(ctx context.Context, sp *diff.SpacePlan, ds membership.DesiredSpace, rm *removalRun, ids *identity.Service, unresolved map[string]string) {
	if !slices.ContainsFunc(sp.Changes, func(c diff.Change) bool { return c.Action == diff.Delete }) {
		return
	}
	in := removals.ScreenInput{Protect: rm.protect, ProtectIDs: rm.protectIDs, Acting: rm.acting, Unresolved: unresolved, Wanted: map[string]bool{}}
	for _, m := range ds.Members {
		if e := m.Principal.Email(); e != "" {
			in.Wanted[e] = true
		}
	}
	// Addresses the Directory could not tie to an ID (the acting user's,
	// protect's): this space answers who they are here, a read each.
	ask := slices.Clone(rm.unresolvedProtect)
	if in.Acting.ID == "" && in.Acting.Email != "" {
		ask = append(ask, in.Acting.Email)
	}
	if len(ask) > 0 {
		in.ProtectIDs = maps.Clone(rm.protectIDs)
		for _, email := range ask {
			p, err := j.memberByEmail(ctx, ds.Name, email)
			switch {
			case err != nil:
				in.Unsure = fmt.Sprintf("can't tell who %s is in this space (%v), and it must not be removed", email, err)
			case p == "":
				// not a member here
			case email == in.Acting.Email:
				in.Acting.ID = p
			default:
				in.ProtectIDs[p] = email
			}
		}
	}
	// People in the space through a group the sources want there: Google
	// keeps them, and they are wanted through it.
	for _, m := range ds.Members {
		if !m.Principal.IsGroup() || in.Unsure != "" {
			continue
		}
		if in.ViaGroup == nil {
			in.ViaGroup = map[membership.Principal]string{}
		}
		if j.Rules == nil {
			in.Unsure = fmt.Sprintf("the sources want %s here, and without the Directory its members can't be listed: anyone may be in the space through it", m.Principal)
			break
		}
		people, err := j.Rules.GroupPeople(ctx, m.Principal)
		if err != nil {
			in.Unsure = fmt.Sprintf("the sources want %s here, and its members could not be listed (%v): anyone may be in the space through it", m.Principal, err)
			break
		}
		for p := range people {
			if _, ok := in.ViaGroup[p]; !ok {
				in.ViaGroup[p] = string(m.Principal)
			}
		}
	}
	var unknown []membership.Principal
	for _, c := range sp.Changes {
		if c.Action == diff.Delete && !c.Principal.IsGroup() && !strings.Contains(c.Member, "@") {
			unknown = append(unknown, c.Principal)
		}
	}
	if len(unknown) > 0 && ids != nil {
		in.Emails = ids.EmailsOf(ctx, unknown)
		for i := range sp.Changes {
			if e := in.Emails[sp.Changes[i].Principal]; len(e) > 0 && sp.Changes[i].Action == diff.Delete {
				sp.Changes[i].Member = e[0] // people read emails better than IDs
			}
		}
	}
	if ids != nil {
		in.Stale = ids.Forget
	}
	removals.Screen(sp, in)
}

// memberByEmail asks a space who an address is there (Chat accepts any of
// a user's addresses): their canonical name, "" when not a member.
func (j *Job) memberByEmail(ctx context.Context, space, email string) (membership.Principal, error) {
	var m membership.Membership
	err := j.Throttle.Read(ctx, "get", space, func(ctx context.Context) (err error) {
		m, err = j.Reader.Get(ctx, space, email)
		return err
	})
	switch {
	case errors.Is(err, chatapi.ErrNotFound):
		return "", nil
	case err != nil:
		return "", err
	}
	return m.Principal, nil
}

// relativeKeys names sources by their path relative to the config's
// folder, so the totals survive a checkout elsewhere (another CI runner, a
// fresh container): the same config's sources are the same sources.
func relativeKeys(totals map[string]int, base string) map[string]int {
	out := make(map[string]int, len(totals))
	for path, n := range totals {
		if rel, err := filepath.Rel(base, path); err == nil && filepath.IsAbs(path) {
			path = filepath.ToSlash(rel)
		}
		out[path] = n
	}
	return out
}

// syncing reports whether a space's plan may remove members.
func (j *Job) syncing(d membership.Desired, space string) bool {
	i, ok := slices.BinarySearchFunc(d.Spaces, space, func(s membership.DesiredSpace, name string) int { return strings.Compare(s.Name, name) })
	if !ok {
		return false
	}
	p := d.Spaces[i].Policy
	return p == config.PolicySync || p == "" && j.Config.Policy == config.PolicySync
}
