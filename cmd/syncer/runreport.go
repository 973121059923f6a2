package main

import (
	"io"
	"slices"
	"time"

	"github.com/syncer-dev/syncer/internal/auth"
	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/report"
)

// authOptions are the run's transport options: every request, token
// requests and state included, counted for the run's metrics and for its
// report's calls by kind.
func (s runSettings) authOptions(cfg *config.Config) auth.Options {
	o := authOptions(cfg, s.metrics)
	o.Transport = s.calls.Transport(o.Transport)
	return o
}

// jobOutput is the format the job prints in. The HTML page is written by
// the command once the run is over: it shows the run's duration, result
// and calls, which only the command knows.
func jobOutput(format string) string {
	if format == "html" {
		return report.Deferred
	}
	return format
}

// runInfo is what a run's page says about the run itself. limits is nil
// when the config was not read (no quota to show the calls against).
func (s runSettings) runInfo(command string, started time.Time, result string, code int, limits *config.Limits) report.Run {
	return report.Run{ID: s.runID, Command: command, Started: started.UTC(), Seconds: time.Since(started).Seconds(), Result: result, Exit: code,
		Version: versionString(), Calls: callsByKind(s.calls.Counts(), limits)}
}

// quotaKind is the API's methods that count against one quota.
type quotaKind struct {
	kind    string
	methods []string
	quota   func(config.Limits) int // nil: none
}

// quotaKinds group the API's methods by the quota they count against.
var quotaKinds = []quotaKind{
	{"membership reads", []string{"members.list", "members.get"}, func(l config.Limits) int { return l.ProjectReadsPerMinute }},
	{"membership writes", []string{"members.create", "members.patch", "members.delete"}, func(l config.Limits) int { return l.ProjectWritesPerMinute }},
	{"space reads", []string{"spaces.get"}, func(l config.Limits) int { return l.ProjectSpaceReadsPerMinute }},
	{"Directory", []string{"directory.users.list", "directory.users.get"}, func(l config.Limits) int { return l.DirectoryPerMinute }},
	{"token requests", []string{"oauth.token"}, nil},
	{"state (Cloud Storage)", []string{"storage"}, nil},
}

// callsByKind sums a run's requests by quota, every attempt counted, in a
// fixed order; kinds with no request are left out.
func callsByKind(counts map[string]int, limits *config.Limits) []report.Calls {
	var out []report.Calls
	other := 0
	for method, n := range counts {
		if !slices.ContainsFunc(quotaKinds, func(k quotaKind) bool { return slices.Contains(k.methods, method) }) {
			other += n
		}
	}
	for _, k := range quotaKinds {
		c := report.Calls{Kind: k.kind}
		for _, m := range k.methods {
			c.N += counts[m]
		}
		if c.N == 0 {
			continue
		}
		if k.quota != nil && limits != nil {
			c.PerMinute = k.quota(*limits)
		}
		out = append(out, c)
	}
	if other > 0 {
		out = append(out, report.Calls{Kind: "other", N: other})
	}
	return out
}

// writeHTMLReport writes a run's page.
func writeHTMLReport(w io.Writer, plan diff.Plan, run report.Run) error {
	return report.HTML(w, report.Page{Plan: plan, Run: &run})
}

// commandLine names the command a run was, as its page shows it.
func commandLine(write bool, planFile string, dryRun bool) string {
	switch {
	case planFile != "" && dryRun:
		return "apply --plan " + planFile + " --dry-run"
	case planFile != "":
		return "apply --plan " + planFile
	case write:
		return "apply"
	}
	return "plan"
}
