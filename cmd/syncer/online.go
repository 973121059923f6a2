package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/syncer-dev/syncer/internal/apply"
	"github.com/syncer-dev/syncer/internal/auth"
	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/job"
	"github.com/syncer-dev/syncer/internal/logging"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/metrics"
	"github.com/syncer-dev/syncer/internal/progress"
	"github.com/syncer-dev/syncer/internal/report"
	"github.com/syncer-dev/syncer/internal/rules"
	"github.com/syncer-dev/syncer/internal/scrub"
	"github.com/syncer-dev/syncer/internal/source"
	"github.com/syncer-dev/syncer/internal/state"
	"github.com/syncer-dev/syncer/internal/throttle"
)

// runFlags are the flags plan and apply share.
type runFlags struct {
	config, output, endpoint, logLevel string
	reportFile, lockFile, pushgateway  string
	detailed                           bool
	allowRemovals                      int
	// planOut is plan's --out; planFile is apply's --plan.
	planOut, planFile string
	// refused is why the command refused these flags together (said on
	// stderr already): runJob only writes --report-file saying so.
	refused error
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "config.yaml", "config file")
	fs.StringVar(&f.output, "output", "", "report format: text, markdown, json or html (default: the config's report.output)")
	fs.StringVar(&f.endpoint, "endpoint", "", "base URL of the Chat and Directory APIs, e.g. the emulator's (default: the config's api.endpoint)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.reportFile, "report-file", "", "also write the report here; format from the extension (.json, .md, .html, .txt); $GITHUB_STEP_SUMMARY works")
	fs.StringVar(&f.lockFile, "lock-file", "", "lock held during apply so a second run on this host refuses to start (default: one per config in the temp folder)")
	fs.StringVar(&f.pushgateway, "pushgateway", "", "push the run's metrics to this Prometheus Pushgateway URL (add semantics)")
	fs.BoolVar(&f.detailed, "detailed-exitcode", false, "plan and apply --dry-run: exit 2 when changes are pending")
	fs.IntVar(&f.allowRemovals, "allow-removals", -1, "policy sync: allow up to N removals this run, past the safety limits and the first-run stop (after reading the plan)")
	fs.StringVar(&f.planOut, "out", "", "also save the plan to this file (JSON, mode 0600) for syncer apply --plan FILE to apply exactly")
}

// runJob is plan and apply from the command line: one run, then its exit code.
func runJob(ctx context.Context, out cmdIO, f runFlags, write, detailedExitCode bool) int {
	level, levelErr := logging.ParseLevel(f.logLevel)
	if levelErr != nil {
		fmt.Fprintln(out.stderr, levelErr)
		level = slog.LevelInfo
	}
	runID := newRunID()
	log := logging.New(out.stderr, level).With("run_id", runID)
	m := metrics.New()
	s := runSettings{runID: runID, flags: f, write: write, detailed: detailedExitCode, metrics: m, calls: &metrics.Calls{}, log: log}
	if why := cmp.Or(levelErr, f.refused); why != nil {
		// Said on stderr already; the report a scheduler keeps must not
		// stay the last run's either.
		if reportFileSound(f) {
			s.noPlanReport("invalid", exitInvalid, why)
		}
		return exitInvalid
	}
	if err := checkRunFlags(f); err != nil {
		log.Error(err.Error() + "; nothing was sent to the API")
		if reportFileSound(f) {
			s.noPlanReport("invalid", exitInvalid, err)
		}
		return exitInvalid
	}
	if write {
		unlock, err := acquireLocks(f.lockFile, f.config)
		var skipped *lockSkipped
		if errors.As(err, &skipped) {
			log.Warn(skipped.Error())
			err = nil
		}
		if err != nil {
			log.Error(err.Error())
			result, code := "failure", exitFailure
			if errors.Is(err, errLockHeld) {
				result, code = "locked", exitLocked
			}
			s.noPlanReport(result, code, err)
			return code
		}
		defer unlock()
	}
	var r runResult
	if f.planFile != "" {
		r = applyPlanFile(ctx, out, s, f.planFile, !write)
	} else {
		r = runOnce(ctx, out, s)
	}
	if f.pushgateway != "" {
		if err := pushMetrics(f.pushgateway, m, r.code == exitOK || r.code == exitChanges); err != nil {
			log.Error("metrics not pushed", "pushgateway", scrub.URL(f.pushgateway), "error", scrub.Cut(scrub.WithoutUser(err.Error(), f.pushgateway), 300))
			if r.code == exitOK {
				r.code = exitFailure
			}
		}
	}
	return r.code
}

// noPlanReport writes --report-file for a run that stopped before it made
// a plan (a command line refused, the lock held): the report a scheduler
// keeps must not stay the last run's.
func (s runSettings) noPlanReport(result string, code int, why error) {
	path := s.flags.reportFile
	if path == "" {
		return
	}
	run := s.runInfo(commandLine(s.write, s.flags.planFile, !s.write), time.Now(), result, code, nil)
	run.Why = why.Error()
	plan := diff.Plan{Incomplete: []string{"no plan was made: " + why.Error()}}
	if err := writeReportFile(path, plan, run); err != nil {
		s.log.Error("report file not written", "path", path, "error", err.Error())
	}
}

// runSettings are one run's settings beyond the config file.
type runSettings struct {
	runID           string // in every log line, and in a Cloud Storage lock
	flags           runFlags
	write, detailed bool
	// stateLock: the run takes a local state folder's lock itself (serve,
	// whose lifetime lock is its config's host lock only).
	stateLock bool
	metrics   *metrics.Metrics
	// calls counts this run's requests, for its report (nil: none).
	calls *metrics.Calls
	log   *slog.Logger
}

// runResult is what one run left behind.
type runResult struct {
	plan *diff.Plan // nil when no plan was made
	code int
	// apiDown is set when the run failed for a reason no space escapes
	// (credentials refused, no space readable): serve turns unready on it.
	apiDown error
	// run is what the run's page says of it: when, how long, its result
	// and calls.
	run report.Run
}

// runOnce is the single run both the command line and serve use: it reads
// the config afresh, runs the job under the run's deadline, records metrics
// and writes the reports.
func runOnce(ctx context.Context, out cmdIO, s runSettings) runResult {
	started := time.Now()
	log := s.log // carries the run's run_id
	f := s.flags
	release := func() {} // the run lock, once taken: given back before the last line
	command := commandLine(s.write, "", false)
	var limits *config.Limits // once the config is read
	why := ""                 // what stopped a run that made no plan, for its line in serve's history
	var made *diff.Plan       // a plan the run made (and maybe applied) before it failed
	fail := func(result string, code int) runResult {
		release()
		s.metrics.ObserveRun(started, result, nil, 0, 0)
		run := s.runInfo(command, started, result, code, limits)
		run.Why = why
		if f.reportFile != "" {
			// The report a scheduler or pipeline keeps must not stay the
			// last run's, complete, while this one saw nothing.
			line := "no plan was made (" + result + ")"
			if why != "" {
				line = "no plan was made: " + why
			}
			p := diff.Plan{Incomplete: []string{line}}
			if made != nil {
				// Its writes are done: the file says what they were,
				// and why the run failed after them.
				p = *made
				p.Incomplete = append(slices.Clone(p.Incomplete), "the run failed: "+why)
			}
			if err := writeReportFile(f.reportFile, p, run); err != nil {
				log.Error("report file not written", "path", f.reportFile, "error", err.Error())
			}
		}
		log.Error("run finished", "result", result, "seconds", time.Since(started).Seconds())
		return runResult{code: code, run: run}
	}
	invalid := func(err error) runResult {
		why = firstProblem(err)
		return fail("invalid", reportInputErrors(out, log, err))
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		return invalid(err)
	}
	if err := setEndpoint(cfg, f.endpoint); err != nil {
		return invalid(err)
	}
	limits = &cfg.Limits
	if f.output != "" {
		cfg.Report.Output = f.output
	}
	// Sources first: a broken one stops the run before any credential is
	// touched, and the scopes depend on what they name.
	desired, sourceWarnings, stamps, err := source.LoadStamped(cfg.Sources)
	if err != nil {
		return invalid(err)
	}
	for _, w := range sourceWarnings {
		log.Warn(w)
	}
	if err := checkOffline(cfg, desired, true); err != nil {
		return invalid(err)
	}
	runCtx, cancelRun := context.WithTimeoutCause(ctx, cfg.Limits.RunTimeout,
		fmt.Errorf("the run took longer than limits.run_timeout (%v)", cfg.Limits.RunTimeout))
	defer cancelRun()
	runCtx, stopRun := context.WithCancelCause(runCtx)
	defer stopRun(nil)

	// The Chat token never carries the Directory scope; the resolver asks
	// for its own token, and only if a Directory lookup happens.
	chatNeed := need(cfg, s.write)
	chatNeed.Directory = false
	chatNeed.App = namesApp(desired)
	opts := s.authOptions(cfg)
	creds, err := credentials(runCtx, cfg, chatNeed, opts)
	if err != nil {
		return invalid(err)
	}
	log.Debug("authenticated", "mode", creds.Mode, "acting_as", creds.ActingAs, "scopes", strings.Join(creds.Scopes, " "))
	api, err := newChatClient(runCtx, cfg, creds)
	if err != nil {
		log.Error("chat client", "error", err.Error())
		why = "chat client: " + err.Error()
		return fail("failure", exitFailure)
	}
	th := newThrottle(cfg)
	var fatal error
	th.OnFatal = func(err error) {
		fatal = err
		log.Error(stopMessage(err), "error", err.Error())
		stopRun(err)
	}
	th.OnSlowdown = func(op string, from, to float64) {
		log.Info("pace lowered: the API keeps refusing calls for quota", "op", op, "from_per_second", math.Round(from*10)/10, "to_per_second", math.Round(to*10)/10)
	}
	th.OnRetry = func(op string, attempt int, delay time.Duration, err error) {
		s.metrics.APIRetries.Inc()
		log.Debug("retrying", "op", op, "attempt", attempt, "delay", delay.String(), "error", err.Error())
	}
	store, err := openState(runCtx, cfg, opts)
	if err != nil {
		log.Error("state location "+cfg.State.Location+" can't be opened; nothing was done", "error", err.Error())
		why = "state location " + cfg.State.Location + " can't be opened: " + err.Error()
		return fail("failure", exitFailure)
	}
	if s.write && s.stateLock {
		unlockFolder, err := lockStateFolder(cfg, f.lockFile)
		var skipped *lockSkipped
		if errors.As(err, &skipped) {
			log.Warn(skipped.Error())
			err = nil
		}
		switch {
		case errors.Is(err, errLockHeld):
			log.Error(err.Error())
			why = err.Error()
			return fail("locked", exitLocked)
		case err != nil:
			log.Error("the run lock could not be taken; nothing was done", "error", err.Error())
			why = "the run lock could not be taken: " + err.Error()
			return fail("failure", exitFailure)
		}
		defer unlockFolder()
	}
	if s.write {
		lock, err := lockState(runCtx, cfg, store, s.runID, log)
		switch {
		case errors.Is(err, state.ErrLocked):
			log.Error(err.Error() + "; not starting a second run")
			why = err.Error()
			return fail("locked", exitLocked)
		case err != nil:
			log.Error("the run lock could not be taken; nothing was done", "error", err.Error())
			why = "the run lock could not be taken: " + err.Error()
			return fail("failure", exitFailure)
		case lock != nil:
			release = sync.OnceFunc(func() { releaseState(runCtx, lock, cfg, log) })
			defer release()
			th.BeforeWrite = lock.Check // a run that lost its lock makes no further write
		}
	}
	resolver, dir, err := newResolver(runCtx, cfg, creds, api, th, log, opts, desired, store)
	if err != nil {
		log.Error("identity resolver", "error", err.Error())
		why = "identity resolver: " + err.Error()
		return fail("failure", exitFailure)
	}
	if resolver.Cache != nil {
		defer resolver.Cache.Loaded()
	}
	bar := &progress.Progress{Logger: log}
	if logging.IsTerminal(out.stderr) {
		bar.Terminal = out.stderr
	}
	acting, err := auth.ActingEmail(cfg.Auth)
	if err != nil {
		return invalid(err)
	}
	j := &job.Job{Config: cfg, Reader: api, Throttle: th, Logger: log, Output: jobOutput(cfg.Report.Output), Stdout: out.stdout,
		AppAuth: !creds.UserAuth, Resolver: resolver, Desired: &desired, AdminAccess: cfg.API.UseAdminAccess, SourceWarnings: sourceWarnings, SourceStamps: stamps, SavesPlan: f.planOut != "",
		Progress: bar, State: store, Acting: acting, AllowRemovals: f.allowRemovals}
	j.KeepStates = f.planOut != ""
	j.Held = heldBudget(cfg.Limits, bar, log)
	if dir != nil {
		j.Rules = &rules.Expander{Directory: dir, Throttle: th, Concurrency: cfg.Limits.CallsInFlight()}
	}
	if s.write {
		j.Engine = &apply.Engine{API: api, Throttle: th, Concurrency: cfg.Limits.CallsInFlight(), Logger: log, Progress: bar, Acting: acting}
	}
	res, err := j.Run(runCtx)
	ruleFailed := false
	if peak, waited := j.Held.Stats(); peak > 0 {
		log.Info("memberships held between read and plan", "peak", peak, "limit", j.Held.Limit(), "reads_paused_seconds", waited.Seconds())
	}
	var (
		inputErr *job.InputError
		ruleErr  *job.RuleError
	)
	switch {
	case errors.As(err, &inputErr):
		return invalid(inputErr.Err)
	case errors.As(err, &ruleErr):
		lines := strings.Split(ruleErr.Error(), "\n")
		for _, line := range lines {
			log.Error(line)
		}
		log.Error(fmt.Sprintf("%d Directory %s could not be expanded; nothing was written", len(lines), pluralWord(len(lines), "rule", "rules")))
		why = lines[0]    // for serve's list of runs
		ruleFailed = true // res has the report that says so; no plan to save
	case err != nil:
		log.Error("run failed", "error", err.Error())
		why = firstProblem(err)
		if res.Plan.Policy != "" {
			// Planned, and maybe applied, before the error (stdout's
			// report not written): not a run that made no plan.
			made = &res.Plan
		}
		return fail("failure", exitFailure)
	}
	if f.planOut != "" && !ruleFailed {
		if err := savePlanFile(f.planOut, cfg, planTarget(cfg, creds, acting), f.allowRemovals, res, desired); err != nil {
			log.Error("plan file not written", "path", f.planOut, "error", err.Error())
			res.SpaceErrors = append(res.SpaceErrors, &job.SpaceError{Space: "(plan file)", Err: err})
		} else {
			log.Info("plan file written", "path", f.planOut, "changes", len(res.Plan.Changes), "applicable", !res.Blocked() && !res.Failed())
		}
	}
	r := runResult{plan: &res.Plan, code: exitOK}
	result := "success"
	switch {
	case res.Blocked():
		r.code, result = exitBlocked, "blocked"
	case res.Failed():
		r.code, result = exitFailure, "failure"
	case s.detailed && !res.Plan.Empty():
		r.code = exitChanges
	}
	if f.reportFile != "" {
		if err := writeReportFile(f.reportFile, res.Plan, s.runInfo(command, started, result, r.code, limits)); err != nil {
			log.Error("report file not written", "path", f.reportFile, "error", err.Error())
			res.SpaceErrors = append(res.SpaceErrors, &job.SpaceError{Space: "(report file)", Err: err})
			if !res.Blocked() {
				r.code, result = exitFailure, "failure"
			}
		}
	}
	if cfg.Report.Output == "html" {
		if err := writeHTMLReport(out.stdout, res.Plan, s.runInfo(command, started, result, r.code, limits)); err != nil {
			log.Error("report not written", "error", err.Error())
			if r.code == exitOK || r.code == exitChanges {
				r.code, result = exitFailure, "failure"
			}
		}
	}
	r.run = s.runInfo(command, started, result, r.code, limits)
	if ruleFailed {
		r.run.Why = why
	}
	switch {
	case fatal != nil:
		r.apiDown = fatal
	case len(desired.Spaces) > 0 && len(res.SpaceErrors) >= len(desired.Spaces):
		r.apiDown = fmt.Errorf("no space could be read: %v", res.SpaceErrors[0].Err)
	}
	release()
	observed := &res.Plan
	if ruleFailed {
		// No space was planned: the gauges of what a plan saw (removals
		// pending, desired memberships) keep the last run's values.
		observed = nil
	}
	s.metrics.ObserveRun(started, result, observed, desired.Count(), len(desired.Spaces))
	level := slog.LevelInfo
	if result != "success" {
		level = slog.LevelError
	}
	log.Log(ctx, level, "run finished", "result", result, "complete", res.Plan.Complete(), "seconds", time.Since(started).Seconds(),
		"token_requests", creds.TokenRequests())
	return r
}

// stopMessage is the log line of a failure that stops the run.
func stopMessage(err error) string {
	switch {
	case errors.Is(err, state.ErrLockLost):
		return "stopping the run: its lock is gone, so it makes no further write"
	case errors.Is(err, throttle.ErrNotCleared):
		return "stopping the run: its lock could not be checked, so it makes no further write"
	}
	return "stopping the run: no call can succeed"
}

// checkOffline refuses, before any credential is used, what can be known
// wrong without calling anything: mode none against Google, credential
// files missing, unreadable, of the wrong kind or readable by others, and
// sources the configured access can't manage. validate runs it too, so
// what validate passes, a run doesn't refuse as invalid.
func checkOffline(cfg *config.Config, desired membership.Desired, tokenNeeded bool) error {
	var errs source.Errors
	if cfg.Auth.Mode == "none" && cfg.IsGoogleEndpoint() {
		errs.Add(cfg.At("auth", "mode"), "auth.mode none works only against an emulator; set api.endpoint (or --endpoint) to its URL, or choose a real auth mode")
	}
	if cfg.Auth.Mode != "none" && auth.CleartextRemote(cfg.API.Endpoint) {
		errs.Add(cfg.At("api", "endpoint"), "api.endpoint %s is http:// on another machine: auth.mode %s would send the run's access token there in clear; use https://, or a loopback address (127.0.0.1, localhost) for a local emulator", scrub.URL(cfg.API.Endpoint), cfg.Auth.Mode)
	}
	a := cfg.Auth
	if !tokenNeeded {
		a.TokenFile = "" // auth login is what writes it
	}
	if err := auth.CheckFiles(a); err != nil {
		errs.Add(cfg.At("auth", "credentials_file"), "%v", err)
	}
	if a.Mode == "adc" && a.Subject == "" && a.ImpersonateServiceAccount == "" && syncsAnywhere(cfg, desired) {
		// auth.ActingEmail can't name them: the never-removed rail would
		// not know whom to keep.
		errs.Add(cfg.At("auth", "mode"), "auth.mode adc without auth.subject acts as whoever the application default credentials belong to (gcloud auth application-default login), and the syncer can't tell who that is, so policy sync could remove them like anyone; use auth.mode oauth-user (auth login records who logs in), or auth.impersonate_service_account with auth.subject")
	}
	switch {
	case !cfg.State.InCloudStorage():
		if err := state.CheckDir(cfg.State.Location); err != nil {
			errs.Add(cfg.At("state", "location"), "state.location: %v", err)
		}
	case cfg.Auth.Mode == "none" && state.EmulatorHost() == "":
		errs.Add(cfg.At("state", "location"), "state.location %s is in Cloud Storage, and auth.mode none has no credentials for it (set STORAGE_EMULATOR_HOST to use a Cloud Storage emulator)", cfg.State.Location)
	}
	if p := cfg.Identity.CacheFile; p != "" {
		if st, err := os.Stat(p); err == nil && !st.Mode().IsRegular() {
			errs.Add(cfg.At("identity", "cache_file"), "identity.cache_file %s is not a regular file", p)
		}
		// Its folder is state too: a cache planted there maps wanted
		// addresses to other people.
		if err := state.CheckDir(filepath.Dir(p)); err != nil {
			errs.Add(cfg.At("identity", "cache_file"), "identity.cache_file: %v", err)
		}
	}
	if err := job.Check(desired, job.AccessOf(cfg, auth.AppAuth(cfg.Auth))); err != nil {
		var es source.Errors
		if errors.As(err, &es) {
			errs = append(errs, es...)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// syncsAnywhere reports whether policy sync applies to any space.
func syncsAnywhere(cfg *config.Config, desired membership.Desired) bool {
	return cfg.Policy == config.PolicySync || slices.ContainsFunc(desired.Spaces, func(s membership.DesiredSpace) bool { return s.Policy == config.PolicySync })
}

// reportInputErrors reports every config or source problem and returns
// exit 3. On a terminal they are plain lines; otherwise each is a log entry
// of its own with its file and line, so a log pipeline can alert on it.
func reportInputErrors(out cmdIO, log *slog.Logger, err error) int {
	if logging.IsTerminal(out.stderr) || log == nil {
		return printInputErrors(out.stderr, err)
	}
	var errs source.Errors
	if !errors.As(err, &errs) {
		log.Error(err.Error() + "; nothing was sent to the API")
		return exitInvalid
	}
	for _, e := range errs {
		attrs := []any{"file", e.At.File}
		if e.At.Line > 0 {
			attrs = append(attrs, "line", e.At.Line)
		}
		if e.At.Column > 0 {
			attrs = append(attrs, "column", e.At.Column)
		}
		log.Error(e.Error(), attrs...)
	}
	log.Error(fmt.Sprintf("%d %s found; nothing was sent to the API", len(errs), pluralWord(len(errs), "problem", "problems")))
	return exitInvalid
}

// baseTransport is Go's default transport with room for many idle
// connections to one host: the default keeps 2, so at a few hundred calls a
// second most calls would open a new connection (Google's own client
// transport keeps 100). Each call's own deadline bounds it as a whole; these
// bound the steps a stuck server could stretch.
var baseTransport = func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 256, 256
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 0 // the call's own deadline applies
	t.ExpectContinueTimeout = time.Second
	return t
}()

// identityCache is the identity cache's document in the state location.
const identityCache = "identity-cache.json"

// firstProblem is the first of err's problems, on one line, with how many
// more there are.
func firstProblem(err error) string {
	var errs source.Errors
	if errors.As(err, &errs) && len(errs) > 0 {
		first := errs[0].Error()
		if len(errs) > 1 {
			first += fmt.Sprintf(" (and %d more)", len(errs)-1)
		}
		return first
	}
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}
