package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/report"
	"github.com/syncer-dev/syncer/internal/source"
)

func validateCommand() command {
	return command{
		name:    "validate",
		summary: "check the config and every source offline; no API call",
		usage: `Usage: syncer validate [--config FILE] [--endpoint URL] [SOURCE ...]

Reads the config and every source it names (or the SOURCE files given, which
replace the config's), and prints the spaces, members per role and groups, or
every problem found with file:line. With a config it also checks, offline,
everything a run would refuse: the auth mode against the endpoint, the
credential files (present, of the right kind, not readable by others) and
sources the configured access can't manage. Makes no API call.
Exit 0 when valid, 3 when not.

Examples:
  syncer validate --config config.yaml
  syncer validate hr-export.csv             # check an export before it is committed
  syncer validate --config config.yaml new-team.yaml`,
		run: runValidate,
	}
}

func runValidate(_ context.Context, out cmdIO, args []string) int {
	fs := newFlags(validateCommand(), out)
	configPath := fs.String("config", "", "config file (optional when SOURCE files are given)")
	endpoint := fs.String("endpoint", "", "check as if api.endpoint were this URL (e.g. the emulator's), as plan --endpoint runs")
	sources, err := parseInterspersed(fs, args)
	if err != nil {
		return exitCodeForFlagError(err)
	}
	if *configPath == "" && len(sources) == 0 {
		fmt.Fprintln(out.stderr, "validate: give --config FILE or one or more SOURCE files")
		return exitInvalid
	}
	cfg, desired, warnings, err := loadInputs(*configPath, sources...)
	for _, w := range warnings {
		fmt.Fprintln(out.stderr, "warning:", w)
	}
	if cfg == nil {
		return printInputErrors(out.stderr, err) // the config itself: nothing else can be checked
	}
	if err := setEndpoint(cfg, *endpoint); err != nil {
		return printInputErrors(out.stderr, err)
	}
	// Every problem at once: the sources', and everything a run would
	// refuse before calling anything.
	var problems source.Errors
	errors.As(err, &problems)
	if *configPath != "" {
		var offline source.Errors
		if errors.As(checkOffline(cfg, desired, true), &offline) {
			problems = append(offline, problems...)
		}
	}
	if len(problems) > 0 {
		return printInputErrors(out.stderr, problems)
	}
	if err != nil {
		return printInputErrors(out.stderr, err)
	}
	printDesired(out.stdout, cfg, desired)
	return exitOK
}

// loadInputs reads the config and its sources; every problem is a
// source.Errors. Sources given by name replace the config's; with no config
// path, defaults are used.
func loadInputs(path string, sources ...string) (*config.Config, membership.Desired, []string, error) {
	var cfg *config.Config
	if path == "" {
		d := config.Defaults()
		cfg = &d
	} else {
		var err error
		if cfg, err = config.Load(path); err != nil {
			return nil, membership.Desired{}, nil, err
		}
	}
	if len(sources) > 0 {
		cfg.Sources = nil
		for _, s := range sources {
			cfg.Sources = append(cfg.Sources, source.Spec{Path: s})
		}
	}
	desired, warnings, err := source.LoadWithWarnings(cfg.Sources)
	return cfg, desired, warnings, err
}

// printInputErrors prints every config or source problem and returns exit 3.
func printInputErrors(w io.Writer, err error) int {
	var errs source.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(w, e)
		}
		fmt.Fprintf(w, "%d %s found; nothing was sent to the API.\n", len(errs), pluralWord(len(errs), "problem", "problems"))
		return exitInvalid
	}
	fmt.Fprintln(w, err)
	return exitInvalid
}

func printDesired(w io.Writer, cfg *config.Config, d membership.Desired) {
	paths := make([]string, len(cfg.Sources))
	for i, s := range cfg.Sources {
		paths[i] = s.Path
	}
	if cfg.Path != "" {
		fmt.Fprintf(w, "Config %s is valid (policy %s).\n", cfg.Path, cfg.Policy)
	}
	fmt.Fprintf(w, "Sources: %s\n", strings.Join(paths, ", "))
	rules := 0
	for _, s := range d.Spaces {
		rules += len(s.Rules)
	}
	fmt.Fprintf(w, "%d %s, %d desired %s named", len(d.Spaces), pluralWord(len(d.Spaces), "space", "spaces"), d.Count(), pluralWord(d.Count(), "membership", "memberships"))
	if rules > 0 {
		fmt.Fprintf(w, ", %d Directory %s (expanded when a run reads the Directory; validate makes no call)", rules, pluralWord(rules, "rule", "rules"))
	}
	fmt.Fprintln(w, ".")
	// A space's own policy (a YAML source's policy:) decides what a run
	// does there: sync in one space removes people whatever the config says.
	own := map[string]int{}
	for _, s := range d.Spaces {
		if s.Policy != "" && s.Policy != cfg.Policy {
			own[s.Policy]++
		}
	}
	for _, p := range []string{config.PolicySync, config.PolicyUpsert, config.PolicyCreateOnly} {
		if own[p] > 0 {
			fmt.Fprintf(w, "%d %s policy %s, set by %s source.\n", own[p], pluralWord(own[p], "space has", "spaces have"), p, pluralWord(own[p], "its", "their"))
		}
	}
	const listAtMost = 50
	for i, s := range d.Spaces {
		if i == listAtMost {
			fmt.Fprintf(w, "  … and %d more spaces\n", len(d.Spaces)-listAtMost)
			break
		}
		counts := map[string]int{}
		groups := 0
		for _, m := range s.Members {
			if m.Principal.IsGroup() {
				groups++
				continue
			}
			name := m.Role.UIName()
			if name == "" {
				name = "role unmanaged"
			}
			counts[name]++
		}
		var parts []string
		for _, k := range []string{"owner", "manager", "member", "role unmanaged"} {
			if counts[k] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
			}
		}
		if groups > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", groups, pluralWord(groups, "group", "groups")))
		}
		for _, r := range s.Rules {
			role := r.Role.UIName()
			switch {
			case r.Kind == membership.RuleGroup:
				parts = append(parts, r.Describe())
				continue
			case role == "":
				role = "role unmanaged"
			}
			parts = append(parts, fmt.Sprintf("%s as %s", r.Describe(), role))
		}
		title := s.Name
		if s.Label != "" {
			title += " (" + s.Label + ")"
		}
		if len(parts) == 0 {
			parts = []string{"empty on purpose (allow_empty: under policy sync, everyone in it is removed)"}
		}
		if s.Policy != "" && s.Policy != cfg.Policy {
			parts = append([]string{fmt.Sprintf("policy %s (%s)", s.Policy, s.PolicyAt)}, parts...)
		}
		fmt.Fprintf(w, "  %s: %s\n", report.Printable(title), report.Printable(strings.Join(parts, ", ")))
	}
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
