package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/syncer-dev/syncer/internal/apply"
	"github.com/syncer-dev/syncer/internal/auth"
	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/job"
	"github.com/syncer-dev/syncer/internal/logging"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/planfile"
	"github.com/syncer-dev/syncer/internal/progress"
	"github.com/syncer-dev/syncer/internal/removals"
	"github.com/syncer-dev/syncer/internal/report"
	"github.com/syncer-dev/syncer/internal/state"
	"github.com/syncer-dev/syncer/internal/throttle"
)

// planTarget is where, and as whom, a run's plan applies.
func planTarget(cfg *config.Config, creds *auth.Credentials, acting string) planfile.Target {
	// Relative to the config's folder, so a checkout elsewhere (another
	// CI runner) is the same config.
	base := filepath.Dir(cfg.Path)
	var paths []string
	for _, s := range cfg.Sources {
		p := s.Path
		if rel, err := filepath.Rel(base, s.Path); err == nil {
			p = filepath.ToSlash(rel)
		}
		paths = append(paths, p)
	}
	slices.Sort(paths)
	who := acting
	if who == "" {
		who = creds.ActingAs
	}
	return planfile.Target{Config: filepath.Base(cfg.Path), Endpoint: withoutUserinfo(cfg.API.Endpoint), AuthMode: cfg.Auth.Mode, ActingAs: who,
		AdminAccess: cfg.API.UseAdminAccess, SourcePaths: paths}
}

// withoutUserinfo keeps a password in an endpoint URL out of the plan file.
func withoutUserinfo(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.User == nil {
		return endpoint
	}
	u.User = nil
	return u.String()
}

// otherTarget lists how a plan's target differs from this config's.
func otherTarget(planned, now planfile.Target) []string {
	var diffs []string
	if planned.Endpoint != now.Endpoint {
		diffs = append(diffs, fmt.Sprintf("the plan is for endpoint %s; this run calls %s", planned.Endpoint, now.Endpoint))
	}
	if planned.AuthMode != now.AuthMode || planned.ActingAs != now.ActingAs {
		diffs = append(diffs, fmt.Sprintf("the plan acts as %s (%s); this run as %s (%s)", planned.ActingAs, planned.AuthMode, now.ActingAs, now.AuthMode))
	}
	if planned.AdminAccess != now.AdminAccess {
		diffs = append(diffs, fmt.Sprintf("the plan has api.use_admin_access %t; this config %t", planned.AdminAccess, now.AdminAccess))
	}
	if !slices.Equal(planned.SourcePaths, now.SourcePaths) {
		diffs = append(diffs, fmt.Sprintf("the plan manages the spaces of %s; this config names %s", strings.Join(planned.SourcePaths, ", "), strings.Join(now.SourcePaths, ", ")))
	}
	return diffs
}

// savePlanFile writes a run's plan as a reviewed-plan file.
func savePlanFile(path string, cfg *config.Config, target planfile.Target, allowRemovals int, res job.Result, desired membership.Desired) error {
	f := &planfile.File{Created: time.Now().UTC(), Version: versionString(), Target: target, Plan: res.Plan}
	f.Settings = planfile.Settings{Policy: cfg.Policy, Blocked: orEmpty(res.Plan.Blocked), Incomplete: orEmpty(res.Plan.Incomplete),
		Applicable: !res.Blocked() && !res.Failed()}
	if allowRemovals >= 0 {
		f.Settings.AllowRemovals = &allowRemovals
	}
	for _, s := range cfg.Sources {
		sum, err := fileSHA256(s.Path)
		if err != nil {
			return fmt.Errorf("source %s: %w", s.Path, err)
		}
		f.Sources = append(f.Sources, planfile.Source{Path: s.Path, SHA256: sum})
	}
	for _, name := range touched(res.Plan) {
		st := res.States[name]
		if st == nil {
			return fmt.Errorf("internal error: no recorded state for %s", name)
		}
		ms := planfile.Members(st.Memberships)
		sp := planfile.Space{Name: name, Fingerprint: planfile.Fingerprint(ms), Memberships: ms}
		if i, ok := slices.BinarySearchFunc(desired.Spaces, name, func(ds membership.DesiredSpace, n string) int { return strings.Compare(ds.Name, n) }); ok {
			sp.Desired = planfile.DesiredDigest(desired.Spaces[i])
		}
		f.Spaces = append(f.Spaces, sp)
	}
	if res.Removals != nil {
		f.Removals = &planfile.Removals{Version: res.RemovalsVersion, Data: res.Removals}
	}
	return planfile.Write(path, f)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func touched(p diff.Plan) []string {
	f := planfile.File{Plan: p}
	return f.Touched()
}

func fileSHA256(path string) (string, error) {
	file, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer file.Close()
	h := sha256.New()
	if _, err := io.Copy(h, file); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// applyPlanFile applies a saved plan, exactly, or nothing: it re-lists the
// spaces the plan touches, refuses if any moved since, skips what is in
// effect already, and applies the rest. No Directory call is made (the
// plan carries its identities), and the sources are read only to check
// the plan's removals against them (planfile_sources.go).
func applyPlanFile(ctx context.Context, out cmdIO, s runSettings, path string, dryRun bool) runResult {
	started := time.Now()
	log, f := s.log, s.flags
	release := func() {} // the run lock, once taken: given back before the last line
	command := commandLine(true, path, dryRun)
	// What the run's page says beyond the plan: the limits the calls are
	// shown against, the plan file, and which spaces moved since it.
	var (
		limits   *config.Limits
		planFile *report.PlanFile
		output   = f.output
	)
	finish := func(result string, code int, plan *diff.Plan, spaces int) runResult {
		release()
		info := func() report.Run {
			run := s.runInfo(command, started, result, code, limits)
			run.PlanFile = planFile
			return run
		}
		if f.reportFile != "" {
			p := plan
			if p == nil {
				// Stopped before any write: the file a scheduler or
				// pipeline keeps must not stay the last run's report.
				p = &diff.Plan{Incomplete: []string{fmt.Sprintf("the plan file %s was not applied (%s): nothing was written; the log says why", path, result)}}
			}
			if err := writeReportFile(f.reportFile, *p, info()); err != nil {
				log.Error("report file not written", "path", f.reportFile, "error", err.Error())
				if code == exitOK {
					result, code = "failure", exitFailure
				}
			}
		}
		if plan != nil && output == "html" {
			if err := writeHTMLReport(out.stdout, *plan, info()); err != nil {
				log.Error("report not written", "error", err.Error())
				if code == exitOK || code == exitChanges {
					result, code = "failure", exitFailure
				}
			}
		}
		s.metrics.ObserveRun(started, result, plan, 0, spaces)
		log.Log(ctx, resultLevel(result), "run finished", "result", result, "plan_file", path, "seconds", time.Since(started).Seconds())
		return runResult{plan: plan, code: code, run: info()}
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		return finish("invalid", reportInputErrors(out, log, err), nil, 0)
	}
	if err := setEndpoint(cfg, f.endpoint); err != nil {
		return finish("invalid", reportInputErrors(out, log, err), nil, 0)
	}
	if f.output != "" {
		cfg.Report.Output = f.output
	}
	limits, output = &cfg.Limits, cfg.Report.Output
	if err := checkOffline(cfg, membership.Desired{}, true); err != nil {
		return finish("invalid", reportInputErrors(out, log, err), nil, 0)
	}
	pf, err := planfile.Read(path)
	if err != nil {
		log.Error(err.Error() + "; nothing was sent to the API")
		return finish("invalid", exitInvalid, nil, 0)
	}
	planFile = &report.PlanFile{Path: path, Created: pf.Created}
	runCtx, cancelRun := context.WithTimeoutCause(ctx, cfg.Limits.RunTimeout,
		fmt.Errorf("the run took longer than limits.run_timeout (%v)", cfg.Limits.RunTimeout))
	defer cancelRun()
	runCtx, stopRun := context.WithCancelCause(runCtx)
	defer stopRun(nil)

	chatNeed := need(cfg, !dryRun)
	chatNeed.Directory = false
	chatNeed.App = slices.ContainsFunc(pf.Plan.Changes, func(c diff.Change) bool { return c.Principal == membership.App })
	creds, err := credentials(runCtx, cfg, chatNeed, s.authOptions(cfg))
	if err != nil {
		return finish("invalid", reportInputErrors(out, log, err), nil, 0)
	}
	acting, err := auth.ActingEmail(cfg.Auth)
	if err != nil {
		return finish("invalid", reportInputErrors(out, log, err), nil, 0)
	}
	if diffs := otherTarget(pf.Target, planTarget(cfg, creds, acting)); len(diffs) > 0 {
		for _, d := range diffs {
			log.Error(d)
		}
		log.Error(fmt.Sprintf("%s was made for another config (%s); nothing was sent to the API", path, pf.Target.Config))
		return finish("invalid", exitInvalid, nil, 0)
	}
	plan := pf.Plan
	srcMoved, unchecked := sourcesMoved(cfg, pf, log)
	why := append(notApplicable(pf, time.Now(), cfg.Plan.MaxAge), srcMoved...)
	if unchecked != "" {
		plan.Warnings = append(plan.Warnings, unchecked)
	}
	if why != nil {
		plan.Blocked = why
		log.Error("the plan can't be applied; nothing was written", "reasons", strings.Join(why, "; "))
		return finish("blocked", writeReport(out, cfg, log, plan, exitBlocked), &plan, 0)
	}
	store, err := openState(runCtx, cfg, s.authOptions(cfg))
	if err != nil {
		log.Error("state location "+cfg.State.Location+" can't be opened; nothing was done", "error", err.Error())
		return finish("failure", exitFailure, nil, 0)
	}
	if p, ok := store.(interface{ Probe(context.Context) error }); ok && pf.Removals != nil && !dryRun {
		// As a regular apply under sync: removals never happen unrecorded.
		if err := p.Probe(runCtx); err != nil {
			log.Error("the plan's removals state would be saved in state.location, which can't be written; nothing was written", "error", err.Error())
			return finish("failure", exitFailure, nil, 0)
		}
	}
	var lock state.Lock
	if !dryRun {
		lock, err = lockState(runCtx, cfg, store, s.runID, log)
		switch {
		case errors.Is(err, state.ErrLocked):
			log.Error(err.Error() + "; not starting a second run")
			return finish("locked", exitLocked, nil, 0)
		case err != nil:
			log.Error("the run lock could not be taken; nothing was done", "error", err.Error())
			return finish("failure", exitFailure, nil, 0)
		case lock != nil:
			release = sync.OnceFunc(func() { releaseState(runCtx, lock, cfg, log) })
			defer release()
		}
	}
	names := pf.Touched()
	if len(names) == 0 {
		result, code := "success", exitOK
		if !dryRun && !saveRemovals(runCtx, store, pf, &plan, log) {
			result, code = "failure", exitFailure
		}
		if cfg.Report.Output == "text" {
			fmt.Fprintln(out.stdout, "The plan has no changes: nothing to apply.")
		}
		return finish(result, writeReport(out, cfg, log, plan, code), &plan, 0)
	}

	api, err := newChatClient(runCtx, cfg, creds)
	if err != nil {
		log.Error("chat client", "error", err.Error())
		return finish("failure", exitFailure, nil, 0)
	}
	th := newThrottle(cfg)
	th.OnFatal = func(err error) {
		log.Error(stopMessage(err), "error", err.Error())
		stopRun(err)
	}
	if lock != nil {
		th.BeforeWrite = lock.Check
	}
	recorded := map[string]planfile.Space{}
	wantsApp := map[string]bool{}
	for _, sp := range pf.Spaces {
		recorded[sp.Name] = sp
		wantsApp[sp.Name] = slices.ContainsFunc(sp.Memberships, func(m planfile.Member) bool { return m.App })
	}
	for _, c := range plan.Changes {
		wantsApp[c.Space] = wantsApp[c.Space] || c.Principal == membership.App
	}
	cur, readErrs, _ := job.ReadCurrent(runCtx, api, th, names, wantsApp, cfg.Limits.CallsInFlight(), !creds.UserAuth)
	if len(readErrs) > 0 {
		for _, e := range readErrs {
			log.Error("space not read: the plan can't be checked against it", "space", e.Space, "error", e.Err.Error())
			plan.Incomplete = append(plan.Incomplete, fmt.Sprintf("%s could not be read, so the plan can't be checked against it: %v", e.Space, e.Err))
		}
		msg := fmt.Sprintf("%d of %d spaces the plan touches could not be read; nothing was written (apply the file again when they can be read, or make a new plan if a space is gone)", len(readErrs), len(names))
		plan.Incomplete = append(plan.Incomplete, msg)
		log.Error(msg)
		return finish("failure", writeReport(out, cfg, log, plan, exitFailure), &plan, len(names))
	}

	// Which changes are in effect already, and which spaces moved.
	changes := slices.Clone(plan.Changes)
	plan.Changes = changes
	var moved []string
	done := 0
	for _, name := range names {
		var idx []int
		for i, c := range changes {
			if c.Space == name {
				idx = append(idx, i)
			}
		}
		spaceChanges := make([]diff.Change, len(idx))
		for k, i := range idx {
			spaceChanges[k] = changes[i]
		}
		v := planfile.Check(recorded[name], cur.Spaces[name].Memberships, spaceChanges, nil)
		if unmatched := planfile.Unmatched(v, spaceChanges); len(v.Moved) > 0 && len(unmatched) > 0 {
			// Creates the plan made by address, with no ID for the person,
			// and a list that shows no email: ask the space who they are.
			known := map[membership.Principal]membership.Principal{}
			for _, p := range unmatched {
				var m membership.Membership
				err := th.Read(runCtx, "get", name, func(ctx context.Context) (err error) {
					m, err = api.Get(ctx, name, p.ID())
					return err
				})
				if err == nil {
					known[p] = m.Principal
				}
			}
			v = planfile.Check(recorded[name], cur.Spaces[name].Memberships, spaceChanges, known)
		}
		if len(v.Moved) > 0 {
			moved = append(moved, fmt.Sprintf("%s changed since the plan was made: %s", name, strings.Join(v.Moved, ", ")))
		}
		for k, i := range idx {
			if n, ok := v.Names[k]; ok {
				changes[i].Membership = n
			}
			if m, ok := membershipNamed(cur.Spaces[name], changes[i].Membership); ok && changes[i].Action == diff.UpdateRole {
				// Whether the member has joined is as the list shows now, not
				// as when the plan was made: an owner role is not sent to an
				// invitation (an earlier apply of this plan created it), and
				// a removal waiting for a successor needs them joined.
				changes[i].Invited = m.State == membership.StateInvited
			}
			if v.Done[k] {
				changes[i].Status, changes[i].Error = diff.AlreadyDone, "in effect already (an earlier apply of this plan)"
				done++
			}
		}
	}
	if len(moved) > 0 {
		planFile.Moved = moved
		for i := range changes {
			changes[i].Status, changes[i].Error = "", ""
		}
		plan.Blocked = append(moved, "make a new plan from the spaces as they are now, and review it")
		for _, m := range moved {
			log.Error(m)
		}
		log.Error("the plan no longer matches the spaces; nothing was written", "spaces_moved", len(moved))
		return finish("blocked", writeReport(out, cfg, log, plan, exitBlocked), &plan, len(names))
	}
	if done == len(changes) {
		if cfg.Report.Output == "text" {
			fmt.Fprintln(out.stdout, "This plan was already applied: every change in it is in effect. Nothing was written.")
			fmt.Fprintln(out.stdout)
		}
		plan.Applied = true
		plan.Recount()
		result, code := "success", exitOK
		if !dryRun && !saveRemovals(runCtx, store, pf, &plan, log) { // an earlier apply may have stopped before saving it
			result, code = "failure", exitFailure
		}
		if cfg.Report.Output != "text" { // the text report says so first
			plan.Warnings = append(plan.Warnings, "this plan was already applied: every change in it is in effect; nothing was written")
		}
		log.Info("the plan was already applied; nothing was written", "changes", len(changes))
		return finish(result, writeReport(out, cfg, log, plan, code), &plan, len(names))
	}
	if dryRun {
		code := exitOK
		if s.detailed {
			code = exitChanges
		}
		if cfg.Report.Output == "text" {
			fmt.Fprintf(out.stdout, "The plan still applies: %d of %d changes to make, %d in effect already (dry run: nothing was written).\n\n", len(changes)-done, len(changes), done)
		}
		return finish("success", writeReport(out, cfg, log, plan, code), &plan, len(names))
	}

	// Apply what is left, exactly as planned: the changes in effect are
	// passed too, decided already, so a removal waiting for a successor's
	// promotion sees that promotion's outcome, whichever apply made it.
	bar := &progress.Progress{Logger: log}
	if logging.IsTerminal(out.stderr) {
		bar.Terminal = out.stderr
	}
	bar.Start(0)
	bar.Planned(len(changes) - done)
	engine := &apply.Engine{API: api, Throttle: th, Concurrency: cfg.Limits.CallsInFlight(), Logger: log, Progress: bar, Acting: acting}
	for _, name := range names {
		tellActing(runCtx, engine, api, th, cur.Spaces[name], changes, acting)
	}
	applyErr := engine.Apply(runCtx, &plan)
	bar.Stop()
	result, code := "success", exitOK
	stopped := 0
	for _, c := range changes {
		if c.Stopped {
			stopped++
		}
	}
	if applyErr != nil || stopped > 0 {
		plan.Incomplete = append(plan.Incomplete, fmt.Sprintf("stopped during apply (%s): %d changes were not made or may not have been; apply the same plan file again to finish", job.StopReason(runCtx), stopped))
	}
	if plan.Summary.Failed > 0 || applyErr != nil || stopped > 0 {
		result, code = "failure", exitFailure
	}
	if pf.Removals != nil {
		// Removals Google refused are not asked again for a while.
		if data, err := removals.NoteRefusalsIn(pf.Removals.Data, plan.Changes); err == nil {
			pf.Removals.Data = data
		} else {
			log.Warn("the removals Google refused could not be noted in the plan's removals state; the next run asks again", "error", err.Error())
		}
	}
	if code == exitOK && !saveRemovals(runCtx, store, pf, &plan, log) {
		result, code = "failure", exitFailure
	}
	log.Info("apply finished", "applied", plan.Summary.Applied, "already_done", plan.Summary.AlreadyDone,
		"failed", plan.Summary.Failed, "skipped", plan.Summary.Skipped)
	return finish(result, writeReport(out, cfg, log, plan, code), &plan, len(names))
}

// membershipNamed finds a membership of a space by its resource name.
func membershipNamed(st *membership.SpaceState, name string) (membership.Membership, bool) {
	if st == nil || name == "" {
		return membership.Membership{}, false
	}
	for _, m := range st.Memberships {
		if m.Name == name {
			return m, true
		}
	}
	return membership.Membership{}, false
}

// saveRemovals moves the removal rails' state (totals, grace counters) as
// a regular apply of the plan would have: to what the plan recorded,
// unless another run changed it since the plan was made (then it is not
// overwritten, and the run fails, as a regular apply does). Applying the
// same plan twice finds it saved already. It reports whether the state is
// where the plan says.
func saveRemovals(ctx context.Context, store state.Store, pf *planfile.File, plan *diff.Plan, log *slog.Logger) bool {
	if pf.Removals == nil {
		return true
	}
	current, _, err := store.Read(ctx, job.RemovalsState)
	if err == nil && (sameJSON(current, pf.Removals.Data) || sameButRefused(current, pf.Removals.Data)) {
		return true
	}
	if _, err := store.Write(ctx, job.RemovalsState, pf.Removals.Data, pf.Removals.Version); err != nil {
		msg := "removals state not saved: " + err.Error()
		if errors.Is(err, state.ErrConflict) {
			msg = "removals state not saved: another run changed it after this plan was made; it is not overwritten, and the next run counts from that one"
		}
		plan.Incomplete = append(plan.Incomplete, msg)
		log.Error(msg)
		return false
	}
	return true
}

// sameButRefused reports whether two states differ in the removals
// Google refused only: the state an earlier apply of the same plan saved,
// the refusals it met noted (the plan's time is in both, so no other run
// wrote it); this apply met fewer (the member has left since).
func sameButRefused(a, b []byte) bool {
	var ma, mb map[string]json.RawMessage
	if json.Unmarshal(a, &ma) != nil || json.Unmarshal(b, &mb) != nil {
		return false
	}
	delete(ma, "refused")
	delete(mb, "refused")
	ja, erra := json.Marshal(ma)
	jb, errb := json.Marshal(mb)
	return erra == nil && errb == nil && sameJSON(ja, jb)
}

func sameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

func resultLevel(result string) slog.Level {
	if result == "success" {
		return slog.LevelInfo
	}
	return slog.LevelError
}

// notApplicable says why a saved plan may not be applied at all: too old,
// blocked by the rails when it was made, or made without seeing everything.
func notApplicable(pf *planfile.File, now time.Time, maxAge time.Duration) []string {
	var why []string
	if err := pf.CheckAge(now, maxAge); err != nil {
		why = append(why, err.Error())
	}
	if !pf.Settings.Applicable {
		for _, b := range pf.Settings.Blocked {
			why = append(why, "when it was made, a safety check blocked it: "+b)
		}
		for _, in := range pf.Settings.Incomplete {
			why = append(why, "when it was made, the plan was incomplete: "+in)
		}
		if len(pf.Settings.Blocked)+len(pf.Settings.Incomplete) == 0 {
			why = append(why, "it was written as not applicable")
		}
		railed := slices.ContainsFunc(pf.Settings.Blocked, func(b string) bool { return !strings.Contains(b, "since this run read it") })
		switch {
		case railed:
			why = append(why, "make a new plan with syncer plan --out FILE --allow-removals N if the removals are meant, and review it")
		case len(pf.Settings.Blocked) > 0: // a source written while it was read
			why = append(why, "make a new plan once the sources are written whole, and review it")
		default:
			why = append(why, "make a new plan when the spaces can all be read, and review it")
		}
	}
	return why
}

// writeReport prints the report; a report that can't be written fails the
// run. The HTML page is written when the run is over (applyPlanFile's
// finish): it shows how the run ended.
func writeReport(out cmdIO, cfg *config.Config, log interface{ Error(string, ...any) }, plan diff.Plan, code int) int {
	if err := report.Write(out.stdout, jobOutput(cfg.Report.Output), plan); err != nil {
		log.Error("report not written", "error", err.Error())
		if code == exitOK {
			return exitFailure
		}
	}
	return code
}

// tellActing tells the engine who the acting user is in a space the plan
// changes, however the plan names them (a source may give an alias): their
// own demotion goes last. The space's list names them by email, or, when
// it shows none and the plan takes a role or a membership away there, the
// space is asked (members.get by address, one read; lists may leave some
// emails out).
func tellActing(ctx context.Context, engine *apply.Engine, api *chatapi.Client, th *throttle.Throttle, st *membership.SpaceState, changes []diff.Change, acting string) {
	if acting == "" || st == nil {
		return
	}
	for _, m := range st.Memberships {
		if m.Email == acting {
			engine.ActingIs(m.Principal)
			return
		}
	}
	lowers := slices.ContainsFunc(changes, func(c diff.Change) bool {
		return c.Space == st.Name && c.Status == "" && (c.Action == diff.Delete || c.Action == diff.UpdateRole && c.ToRole.Rank() < c.FromRole.Rank())
	})
	if !lowers {
		return
	}
	var m membership.Membership
	err := th.Read(ctx, "get", st.Name, func(ctx context.Context) (err error) {
		m, err = api.Get(ctx, st.Name, acting)
		return err
	})
	if err == nil {
		engine.ActingIs(m.Principal)
	}
}
