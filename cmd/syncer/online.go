package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/syncer-dev/syncer/internal/apply"
	"github.com/syncer-dev/syncer/internal/auth"
	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/identity"
	"github.com/syncer-dev/syncer/internal/job"
	"github.com/syncer-dev/syncer/internal/logging"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/metrics"
	"github.com/syncer-dev/syncer/internal/source"
	"github.com/syncer-dev/syncer/internal/throttle"
)

// runFlags are the flags plan and apply share.
type runFlags struct {
	config, output, endpoint, logLevel string
	reportFile, lockFile, pushgateway  string
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "config.yaml", "config file")
	fs.StringVar(&f.output, "output", "", "report format: text, markdown or json (default: the config's report.output)")
	fs.StringVar(&f.endpoint, "endpoint", "", "base URL of the Chat and Directory APIs, e.g. the emulator's (default: the config's api.endpoint)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.reportFile, "report-file", "", "also write the report here; format from the extension (.json, .md, .txt); $GITHUB_STEP_SUMMARY works")
	fs.StringVar(&f.lockFile, "lock-file", "", "lock held during apply so a second run on this host refuses to start (default: one per config in the temp folder)")
	fs.StringVar(&f.pushgateway, "pushgateway", "", "push the run's metrics to this Prometheus Pushgateway URL (add semantics)")
}

// runJob is plan and apply from the command line: one run, then its exit code.
func runJob(ctx context.Context, out cmdIO, f runFlags, write, detailedExitCode bool) int {
	level, err := logging.ParseLevel(f.logLevel)
	if err != nil {
		fmt.Fprintln(out.stderr, err)
		return exitInvalid
	}
	m := metrics.New()
	s := runSettings{flags: f, write: write, detailed: detailedExitCode, metrics: m, log: logging.New(out.stderr, level)}
	if write {
		unlock, err := acquireLock(f.lockFile, f.config)
		if err != nil {
			fmt.Fprintln(out.stderr, err)
			return exitLocked
		}
		defer unlock()
	}
	_, code := runOnce(ctx, out, s)
	if f.pushgateway != "" {
		if err := pushMetrics(f.pushgateway, m, code == exitOK || code == exitChanges); err != nil {
			s.log.Error("metrics not pushed", "pushgateway", f.pushgateway, "error", err.Error())
			if code == exitOK {
				code = exitFailure
			}
		}
	}
	return code
}

// runSettings are one run's settings beyond the config file.
type runSettings struct {
	flags           runFlags
	write, detailed bool
	metrics         *metrics.Metrics
	log             *slog.Logger
}

// runOnce is the single run both the command line and serve use: it reads
// the config afresh, runs the job, records metrics and writes the reports.
// It returns the final plan (nil when none was computed) and an exit code.
func runOnce(ctx context.Context, out cmdIO, s runSettings) (*diff.Plan, int) {
	started := time.Now()
	log := s.log.With("run_id", newRunID())
	f := s.flags
	fail := func(result string, code int) (*diff.Plan, int) {
		s.metrics.ObserveRun(started, result, nil, 0, 0)
		return nil, code
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		log.Error("config invalid; nothing was sent to the API", "config", f.config)
		return fail("invalid", printInputErrors(out.stderr, err))
	}
	if f.endpoint != "" {
		cfg.API.Endpoint = strings.TrimSuffix(f.endpoint, "/") + "/"
	}
	if f.output != "" {
		if !slices.Contains(config.Outputs, f.output) {
			fmt.Fprintf(out.stderr, "unknown --output %q (want text, markdown or json)\n", f.output)
			return fail("invalid", exitInvalid)
		}
		cfg.Report.Output = f.output
	}
	// Sources first: a broken one stops the run before any credential is
	// touched, and the scopes depend on what they name.
	desired, err := source.Load(cfg.Sources)
	if err != nil {
		log.Error("sources invalid; nothing was sent to the API")
		return fail("invalid", printInputErrors(out.stderr, err))
	}
	// The Chat token never carries the Directory scope; the resolver asks
	// for its own token, and only if a Directory lookup happens.
	chatNeed := need(cfg, s.write)
	chatNeed.Directory = false
	chatNeed.App = namesApp(desired)
	creds, err := credentials(ctx, cfg, chatNeed)
	if err != nil {
		fmt.Fprintln(out.stderr, err)
		return fail("invalid", exitInvalid)
	}
	log.Debug("authenticated", "mode", creds.Mode, "acting_as", creds.ActingAs, "scopes", strings.Join(creds.Scopes, " "))
	creds.Client = instrumented(creds.Client, s.metrics)
	api, err := newChatClient(ctx, cfg, creds)
	if err != nil {
		log.Error("chat client", "error", err.Error())
		return fail("failure", exitFailure)
	}
	th := throttle.New(throttle.Limits{
		ProjectWritesPerMinute: cfg.Limits.ProjectWritesPerMinute,
		ProjectReadsPerMinute:  cfg.Limits.ProjectReadsPerMinute,
		SpaceReadsPerSecond:    cfg.Limits.SpaceReadsPerSecond,
		SpaceWritesPerSecond:   cfg.Limits.SpaceWritesPerSecond,
		MaxAttempts:            cfg.Limits.MaxAttempts,
	})
	th.OnRetry = func(op string, attempt int, delay time.Duration, err error) {
		s.metrics.APIRetries.Inc()
		log.Debug("retrying", "op", op, "attempt", attempt, "delay", delay.String(), "error", err.Error())
	}
	resolver, err := newResolver(ctx, cfg, creds, api, th, log, s.metrics)
	if err != nil {
		log.Error("identity resolver", "error", err.Error())
		return fail("failure", exitFailure)
	}
	j := &job.Job{Config: cfg, Reader: api, Throttle: th, Logger: log, Output: cfg.Report.Output, Stdout: out.stdout,
		AppAuth: !creds.UserAuth, Resolver: resolver, Desired: &desired, AdminAccess: cfg.API.UseAdminAccess}
	if s.write {
		progress := &apply.Progress{Logger: log}
		if logging.IsTerminal(out.stderr) {
			progress.Terminal = out.stderr
		}
		j.Engine = &apply.Engine{API: api, Throttle: th, Concurrency: cfg.Limits.CallsInFlight(), Logger: log, Progress: progress}
	}
	res, err := j.Run(ctx)
	var inputErr *job.InputError
	switch {
	case errors.As(err, &inputErr):
		return fail("invalid", printInputErrors(out.stderr, inputErr.Err))
	case err != nil:
		log.Error("run failed", "error", err.Error())
		return fail("failure", exitFailure)
	}
	if f.reportFile != "" {
		if err := writeReportFile(f.reportFile, res.Plan); err != nil {
			log.Error("report file not written", "path", f.reportFile, "error", err.Error())
			res.SpaceErrors = append(res.SpaceErrors, &job.SpaceError{Space: "(report file)", Err: err})
		}
	}
	code, result := exitOK, "success"
	switch {
	case res.Failed():
		code, result = exitFailure, "failure"
	case s.detailed && !res.Plan.Empty():
		code = exitChanges
	}
	s.metrics.ObserveRun(started, result, &res.Plan, desired.Count(), len(desired.Spaces))
	log.Info("run finished", "result", result, "seconds", time.Since(started).Seconds())
	return &res.Plan, code
}

// baseTransport is Go's default transport with room for many idle
// connections to one host: the default keeps 2, so at a few hundred calls a
// second most calls would open a new connection (Google's own client
// transport keeps 100).
var baseTransport = func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 256, 256
	return t
}()

// withTransport makes oauth2 token sources and clients built from ctx use
// baseTransport.
func withTransport(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: baseTransport})
}

// instrumented counts every API request the client makes.
func instrumented(c *http.Client, m *metrics.Metrics) *http.Client {
	if c == nil {
		return &http.Client{Transport: m.Transport(baseTransport)}
	}
	wrapped := *c
	wrapped.Transport = m.Transport(c.Transport)
	return &wrapped
}

func newRunID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func namesApp(d membership.Desired) bool {
	for _, s := range d.Spaces {
		for _, m := range s.Members {
			if m.Principal == membership.App {
				return true
			}
		}
	}
	return false
}

// need is what a run asks of its credentials.
func need(cfg *config.Config, write bool) auth.Need {
	return auth.Need{Write: write, Admin: cfg.API.UseAdminAccess, Directory: directoryEnabled(cfg)}
}

// directoryEnabled: app authentication can't read the Directory.
func directoryEnabled(cfg *config.Config) bool {
	return cfg.Identity.Directory && !auth.AppAuth(cfg.Auth) || cfg.Identity.Directory && cfg.Auth.Mode == "none"
}

// newResolver builds identity resolution: Directory lookups (own quota)
// when enabled, membership reads, and the cache file when configured.
func newResolver(ctx context.Context, cfg *config.Config, creds *auth.Credentials, api *chatapi.Client, th *throttle.Throttle, log *slog.Logger, m *metrics.Metrics) (*identity.Resolver, error) {
	r := &identity.Resolver{Members: api, Throttle: th, Logger: log}
	if directoryEnabled(cfg) {
		endpoint := cfg.API.Endpoint
		if cfg.IsGoogleEndpoint() {
			endpoint = "" // the Directory lives at its own Google host
		}
		dirCreds, err := auth.NewWithScopes(withTransport(ctx), cfg.Auth, directoryScopes(cfg))
		if err != nil {
			return nil, fmt.Errorf("%s: directory credentials: %w", cfg.Path, err)
		}
		dir, err := chatapi.NewDirectory(ctx, endpoint, chatapi.Options{HTTPClient: instrumented(dirCreds.Client, m)})
		if err != nil {
			return nil, err
		}
		r.Directory = dir
		r.DirectoryThrottle = throttle.New(throttle.Limits{ProjectReadsPerMinute: 2400, MaxAttempts: cfg.Limits.MaxAttempts})
	}
	if cfg.Identity.CacheFile != "" {
		r.Cache = identity.OpenCache(cfg.Identity.CacheFile, cfg.Identity.CacheTTL, time.Now, func(msg string) { log.Warn(msg) })
	}
	return r, nil
}

func directoryScopes(cfg *config.Config) []string {
	if cfg.Auth.Mode == "none" {
		return nil
	}
	return []string{auth.ScopeDirectoryRead}
}

// credentials refuses mode none against Google before anything else, then
// builds the credentials for the run.
func credentials(ctx context.Context, cfg *config.Config, need auth.Need) (*auth.Credentials, error) {
	if cfg.Auth.Mode == "none" && cfg.IsGoogleEndpoint() {
		return nil, fmt.Errorf("%s: auth.mode none works only against an emulator; set api.endpoint (or --endpoint) to its URL, or choose a real auth mode", cfg.Path)
	}
	creds, err := auth.New(withTransport(ctx), cfg.Auth, need)
	if err != nil {
		return nil, fmt.Errorf("%s: auth.mode %s: %w", cfg.Path, cfg.Auth.Mode, err)
	}
	return creds, nil
}

func newChatClient(ctx context.Context, cfg *config.Config, creds *auth.Credentials) (*chatapi.Client, error) {
	return chatapi.New(ctx, chatapi.Options{
		Endpoint:       cfg.API.Endpoint,
		HTTPClient:     creds.Client,
		UseAdminAccess: cfg.API.UseAdminAccess,
		// Only user authentication may list invitations and groups; with it,
		// invited members count as present.
		ShowInvited: creds.UserAuth,
		ShowGroups:  creds.UserAuth,
		UserAgent:   "syncer/" + versionString(),
	})
}

func planCommand() command {
	return command{
		name:    "plan",
		summary: "show what a sync would change; reads only",
		usage: `Usage: syncer plan --config FILE [--output text|json|markdown] [--detailed-exitcode]

Reads every source and the current memberships of every space they name,
and prints the changes a sync would make. Makes no change.
Exit 0 (with --detailed-exitcode: 0 nothing to do, 2 changes pending),
1 on API failures, 3 on invalid config or sources (no API call made).

Examples:
  syncer plan --config config.yaml
  syncer plan --config config.yaml --output markdown > plan.md
  syncer plan --config config.yaml --detailed-exitcode || echo "changes pending"`,
		run: func(ctx context.Context, out cmdIO, args []string) int {
			var f runFlags
			fs := newFlags(planCommand(), out)
			f.register(fs)
			detailed := fs.Bool("detailed-exitcode", false, "exit 2 when changes are pending")
			if code, ok := parseFlags(fs, args); !ok {
				return code
			}
			return runJob(ctx, out, f, false, *detailed)
		},
	}
}

func applyCommand() command {
	return command{
		name:    "apply",
		summary: "make the spaces match the sources",
		usage: `Usage: syncer apply --config FILE [--output text|json|markdown] [--dry-run]

Plans as 'syncer plan' does, prints the plan, applies it within Google's
quotas (retrying quota and transient failures) and prints every change's
outcome. --dry-run is exactly 'syncer plan'. Interrupting (Ctrl-C, SIGTERM)
starts no new call, lets calls in flight finish, prints the partial report and
exits 1; rerunning finishes the job.
Exit 0 all done, 1 something failed, 3 invalid config or sources (no API call
made), 5 another apply for this config is running on this host.

Examples:
  syncer apply --config config.yaml
  syncer apply --config config.yaml --dry-run
  syncer apply --config config.yaml --output json > outcome.json`,
		run: func(ctx context.Context, out cmdIO, args []string) int {
			var f runFlags
			fs := newFlags(applyCommand(), out)
			f.register(fs)
			dryRun := fs.Bool("dry-run", false, "plan only; change nothing")
			if code, ok := parseFlags(fs, args); !ok {
				return code
			}
			return runJob(ctx, out, f, !*dryRun, false)
		},
	}
}
