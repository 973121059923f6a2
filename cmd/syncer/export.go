package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/export"
	"github.com/syncer-dev/syncer/internal/job"
	"github.com/syncer-dev/syncer/internal/logging"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/report"
	"github.com/syncer-dev/syncer/internal/source"
	"github.com/syncer-dev/syncer/internal/throttle"
)

func exportCommand() command {
	return command{
		name:    "export",
		summary: "write spaces' current memberships as a desired-state file",
		usage: `Usage: syncer export --config FILE [--space spaces/X ...] [--format yaml|csv] [--out FILE]

Reads the current memberships of the managed spaces (or of the --space ones)
and writes them as a source file: emails where they resolve (Directory IDs
otherwise), roles as Chat UI names, groups by ID. A plan with the exported
file shows no change: this is how to adopt spaces that already exist.
Reads only.

Examples:
  syncer export --config config.yaml --space spaces/AAAA --space spaces/BBBB > current.yaml
  syncer export --config config.yaml --format csv --out current.csv`,
		run: runExport,
	}
}

type spaceList []string

func (s *spaceList) String() string { return strings.Join(*s, ",") }
func (s *spaceList) Set(v string) error {
	// It goes into the URL: "A?x" or "A/../B" would read another resource.
	name, err := source.ParseSpace(v)
	if err != nil {
		return err
	}
	*s = append(*s, name)
	return nil
}

func runExport(ctx context.Context, out cmdIO, args []string) int {
	fs := newFlags(exportCommand(), out)
	configPath := fs.String("config", "config.yaml", "config file")
	format := fs.String("format", "yaml", "yaml or csv")
	outPath := fs.String("out", "", "write here instead of stdout")
	endpoint := fs.String("endpoint", "", "base URL of the APIs (default: the config's api.endpoint)")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	var spaces spaceList
	fs.Var(&spaces, "space", "a space to export (repeatable); default: every space the sources name")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *format != "yaml" && *format != "csv" {
		fmt.Fprintf(out.stderr, "export: --format %q: want yaml or csv\n", *format)
		return exitInvalid
	}
	level, err := logging.ParseLevel(*logLevel)
	if err != nil {
		fmt.Fprintln(out.stderr, err)
		return exitInvalid
	}
	if *outPath != "" {
		// Before any call, as plan's --out: not after reading every space.
		if err := checkRunFlags(runFlags{planOut: *outPath}); err != nil {
			fmt.Fprintf(out.stderr, "export: %v; nothing was sent\n", err)
			return exitInvalid
		}
	}
	log := logging.New(out.stderr, level)
	cfg, err := config.Load(*configPath)
	if err != nil {
		return printInputErrors(out.stderr, err)
	}
	if err := setEndpoint(cfg, *endpoint); err != nil {
		fmt.Fprintln(out.stderr, err)
		return exitInvalid
	}
	if err := exportOverwrites(*outPath, cfg); err != nil {
		fmt.Fprintf(out.stderr, "export: %v; nothing was sent\n", err)
		return exitInvalid
	}
	if len(spaces) == 0 {
		desired, err := source.Load(cfg.Sources)
		if err != nil {
			return printInputErrors(out.stderr, err)
		}
		for _, s := range desired.Spaces {
			spaces = append(spaces, s.Name)
		}
	}
	slices.Sort(spaces)
	spaces = slices.Compact(spaces)

	readNeed := need(cfg, false)
	readNeed.Directory = false
	ctx, cancel := context.WithTimeoutCause(ctx, cfg.Limits.RunTimeout, fmt.Errorf("the export took longer than limits.run_timeout (%v)", cfg.Limits.RunTimeout))
	defer cancel()
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	opts := authOptions(cfg, nil)
	creds, err := credentials(ctx, cfg, readNeed, opts)
	if err != nil {
		fmt.Fprintln(out.stderr, err)
		return exitInvalid
	}
	api, err := newChatClient(ctx, cfg, creds)
	if err != nil {
		fmt.Fprintln(out.stderr, err)
		return exitFailure
	}
	th := newThrottle(cfg)
	th.OnFatal = func(err error) { stop(err) }
	current, errs, warnings := job.ReadCurrent(ctx, api, th, spaces, nil, cfg.Limits.CallsInFlight(), !creds.UserAuth)
	for _, w := range warnings {
		log.Warn(w)
	}
	for _, e := range errs {
		// Google's words and the names it answered with: shown, not
		// acted on by the terminal.
		fmt.Fprintln(out.stderr, report.Printable(e.Error()))
	}
	if len(errs) > 0 {
		if ctx.Err() != nil {
			fmt.Fprintf(out.stderr, "export stopped: %s\n", report.Printable(context.Cause(ctx).Error()))
		}
		return exitFailure
	}
	direct := false
	for _, name := range spaces {
		if current.Spaces[name].Type == membership.TypeDirectMessage {
			fmt.Fprintf(out.stderr, "%s is a direct message: Google fixes who is in one, and a run refuses a source that names it; not exported\n", name)
			direct = true
		}
	}
	if direct {
		return exitFailure // found by reading: exit 3 means no call was made
	}
	resolver, _, err := newResolver(ctx, cfg, creds, api, th, log, opts, membership.Desired{}, nil)
	if err != nil {
		fmt.Fprintln(out.stderr, err)
		return exitFailure
	}
	if resolver.Cache != nil {
		defer resolver.Cache.Loaded() // its warnings are this command's
	}
	var (
		states  []*membership.SpaceState
		noEmail []membership.Principal
		seen    = map[membership.Principal]bool{}
	)
	for _, name := range spaces {
		st := current.Spaces[name]
		states = append(states, st)
		for _, m := range st.Memberships {
			if !m.Bot && !m.Principal.IsGroup() && m.Email == "" && !seen[m.Principal] {
				seen[m.Principal] = true
				noEmail = append(noEmail, m.Principal)
			}
		}
	}
	emails := resolver.Emails(ctx, noEmail)
	if app := ourApp(ctx, api, th, states); app != "" && app != membership.App {
		// Listed by its own ID (canonical names): written as app.
		for _, st := range states {
			for i, m := range st.Memberships {
				if m.Bot && m.Principal == app {
					st.Memberships[i].Principal = membership.App
				}
			}
		}
	}
	if ctx.Err() != nil {
		// Stopped while it looked up emails or the calling app (the
		// run_timeout, a fatal answer, an interrupt): what it could not
		// find would be missing from the file, which is not written.
		fmt.Fprintf(out.stderr, "export stopped: %s\n", report.Printable(context.Cause(ctx).Error()))
		return exitFailure
	}

	var w io.Writer = out.stdout
	if *outPath != "" {
		f, err := os.Create(*outPath)
		if err != nil {
			fmt.Fprintln(out.stderr, err)
			return exitFailure
		}
		defer f.Close()
		w = f
	}
	built := export.Build(states, emails)
	if *format == "csv" {
		err = export.CSV(w, built)
	} else {
		err = export.YAML(w, built)
	}
	if err != nil {
		fmt.Fprintln(out.stderr, err)
		return exitFailure
	}
	return exitOK
}

var _ flag.Value = (*spaceList)(nil)

// ourApp is how lists name the calling app, when a space lists an app
// under an ID of its own (answers give canonical names; users/app is an
// alias for requests): a space is asked (members/app) while it lists an
// app not yet ruled out, and one that has no membership of ours rules out
// every app it lists, so there is at most one read per other app, however
// many spaces list them ahead of ours. "" when none tells (no such app, or
// after three reads that failed, it can't be asked).
func ourApp(ctx context.Context, api *chatapi.Client, th *throttle.Throttle, states []*membership.SpaceState) membership.Principal {
	notOurs := map[membership.Principal]bool{}
	failed := 0
	for _, st := range states {
		if failed == 3 || ctx.Err() != nil {
			break
		}
		if !slices.ContainsFunc(st.Memberships, func(m membership.Membership) bool {
			return m.Bot && m.Principal != membership.App && !notOurs[m.Principal]
		}) {
			continue
		}
		var m membership.Membership
		err := th.Read(ctx, "get", st.Name, func(ctx context.Context) (err error) {
			m, err = api.Get(ctx, st.Name, "app")
			return err
		})
		switch {
		case err == nil && m.Bot:
			return m.Principal
		case err == nil, errors.Is(err, chatapi.ErrNotFound):
			// Not a member here: no app this space lists is ours.
			for _, l := range st.Memberships {
				if l.Bot {
					notOurs[l.Principal] = true
				}
			}
		default:
			failed++
		}
	}
	return ""
}

// exportOverwrites refuses an --out that is the config, a file it
// names that is not a source (the key, the token, the identity cache) or
// a document of its state folder: the export would replace it. A source may be written over: an export
// refreshes the file it adopted.
func exportOverwrites(outPath string, cfg *config.Config) error {
	for _, doc := range stateDocuments(cfg) {
		if outPath != "" && samePath(outPath, doc) {
			return fmt.Errorf("--out %s would overwrite %s, a file of the state folder's", outPath, doc)
		}
	}
	st, err := os.Stat(outPath)
	if outPath == "" || err != nil {
		return nil // a file that does not exist yet is no input
	}
	for _, in := range []string{cfg.Path, cfg.Auth.CredentialsFile, cfg.Auth.TokenFile, cfg.Identity.CacheFile} {
		if ist, err := os.Stat(in); in != "" && err == nil && os.SameFile(st, ist) {
			return fmt.Errorf("--out %s would overwrite %s, which the run reads", outPath, in)
		}
	}
	return nil
}
