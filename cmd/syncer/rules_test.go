package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/syncer-dev/syncer/internal/auth"
	"github.com/syncer-dev/syncer/internal/auth/authtest"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
	"github.com/syncer-dev/syncer/internal/logging"
	"github.com/syncer-dev/syncer/internal/metrics"
)

// directoryDemo starts an emulator seeded like make demo and returns a
// config in a fresh folder managing spaces/PLATFORM through
// testdata/directory/platform.yaml's rules, under policy.
func directoryDemo(t *testing.T, policy string, opts emulator.Options) (*emulator.Server, string) {
	t.Helper()
	seed, err := emulator.LoadSeed("../../testdata/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	em, url := emulatortest.Start(t, seed, opts)
	dir := t.TempDir()
	rules, err := os.ReadFile("../../testdata/directory/platform.yaml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "platform.yaml"), rules, 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: platform.yaml}]\npolicy: %s\napi: {endpoint: %q}\nlimits: {max_attempts: 2}\n", policy, url)), 0o644)
	return em, cfg
}

func platform(em *emulator.Server) string {
	var out []string
	for _, m := range em.Snapshot()["spaces/PLATFORM"] {
		who := m.Email
		if who == "" {
			who = m.Member
		}
		out = append(out, who+" "+m.Role)
	}
	return strings.Join(out, ", ")
}

func TestDirectoryRulesDriveASpace(t *testing.T) {
	em, cfg := directoryDemo(t, "sync", emulator.Options{})
	code, out, errOut := runCLI(t, "plan", "--config", cfg, "--output", "json")
	r := parseRemovals(t, out)
	if code != exitOK || r.Summary["create"] != 4 || r.Summary["update_role"] != 1 || r.Summary["delete"] != 0 {
		t.Fatalf("plan: exit %d %v\n%s", code, r.Summary, logText(errOut))
	}
	// Each change says which rule decided it.
	sources := map[string]string{}
	for _, c := range r.Changes {
		sources[fmt.Sprint(c["member"], " ", c["action"])] = fmt.Sprint(c["source"])
	}
	for change, want := range map[string]string{
		"alice@example.com create":      "platform.yaml:8 (org_unit /Engineering/Platform)",
		"bob@example.com update_role":   "platform.yaml:9 (group_members platform-leads@example.com)",
		"dan@example.com create":        "platform.yaml:10 (group_members eng-oncall@example.com (nested))",
		"groups/eng-oncall create":      "platform.yaml:11 (group eng-oncall@example.com)",
		"mallory@example.com create":    "", // suspended: no rule names her
		"carol@example.com update_role": "", // named owner, already owner
	} {
		if got := sources[change]; !strings.HasSuffix(got, want) || (want == "") != (got == "") {
			t.Errorf("%s: source %q, want …%q", change, got, want)
		}
	}
	if st := em.Stats(); st.Writes != 0 {
		t.Fatalf("plan wrote %d times", st.Writes)
	}

	if code, out, errOut := runCLI(t, "apply", "--config", cfg); code != exitOK {
		t.Fatalf("apply: exit %d\n%s%s", code, out, logText(errOut))
	}
	got := platform(em)
	for _, m := range []string{"alice@example.com ROLE_MEMBER", "bob@example.com ROLE_ASSISTANT_MANAGER", "carol@example.com ROLE_MANAGER", "dan@example.com ROLE_MEMBER", "groups/eng-oncall"} {
		if !strings.Contains(got, m) {
			t.Errorf("after apply, PLATFORM lacks %q: %s", m, got)
		}
	}
	if code, out, _ := runCLI(t, "plan", "--config", cfg, "--detailed-exitcode"); code != exitOK {
		t.Errorf("plan after apply: exit %d\n%s", code, out)
	}

	// HR moves alice to Sales: with policy sync she leaves the space, and
	// the plan says why.
	if err := em.MoveUser("alice@example.com", "/Sales"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "apply", "--config", cfg, "--output", "json")
	r = parseRemovals(t, out)
	if code != exitOK || r.Summary["delete"] != 1 || r.Summary["applied"] != 1 {
		t.Fatalf("apply after the move: exit %d %v\n%s", code, r.Summary, logText(errOut))
	}
	if got := platform(em); strings.Contains(got, "alice@") {
		t.Errorf("alice is still in PLATFORM: %s", got)
	}
}

func parseRemovals(t *testing.T, stdout string) removalReport {
	t.Helper()
	var r removalReport
	if err := jsonUnmarshal(stdout, &r); err != nil {
		t.Fatalf("stdout is not one JSON report: %v\n%s", err, stdout)
	}
	return r
}

func TestAFailedRuleWritesNothing(t *testing.T) {
	tests := []struct {
		name  string
		mis   string // method to fail with 500
		edit  func(string) string
		wants []string
	}{
		{"5xx after retries", "directory.members.list", nil,
			[]string{"platform.yaml:9: group_members platform-leads@example.com: gave up after 2 attempts", "platform.yaml:10: group_members eng-oncall@example.com (nested): gave up"}},
		{"no such group", "", func(s string) string {
			return strings.Replace(s, "platform-leads@example.com", "nobody@example.com", 1)
		}, []string{"platform.yaml:9: group_members nobody@example.com: no such group in the Directory"}},
		{"an organisational unit with nobody in it", "", func(s string) string {
			return strings.Replace(s, "/Engineering/Platform", "/Legal", 1)
		}, []string{"platform.yaml:8: org_unit /Legal: the Directory returned nobody; if that is right, mark the rule allow_empty: true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			em, cfg := directoryDemo(t, "sync", emulator.Options{})
			if tt.mis != "" {
				em.SetMisbehaviour(tt.mis, emulator.Misbehaviour{Status: 500})
			}
			if tt.edit != nil {
				path := filepath.Join(filepath.Dir(cfg), "platform.yaml")
				data, _ := os.ReadFile(path)
				os.WriteFile(path, []byte(tt.edit(string(data))), 0o644)
			}
			reportFile := filepath.Join(t.TempDir(), "report.md")
			code, out, errOut := runCLI(t, "apply", "--config", cfg, "--allow-removals", "10", "--report-file", reportFile)
			logs := logText(errOut)
			if code != exitFailure {
				t.Errorf("exit %d, want %d\n%s%s", code, exitFailure, out, logs)
			}
			for _, want := range append(tt.wants, "could not be expanded; nothing was written") {
				if !strings.Contains(logs, want) {
					t.Errorf("logs lack %q:\n%s", want, logs)
				}
			}
			// The report says it too, for whoever reads it rather than
			// the logs (a review's comment, the report file).
			md, _ := os.ReadFile(reportFile)
			for what, report := range map[string]string{"stdout": out, "the report file": string(md)} {
				if !strings.Contains(report, "could not be expanded; nothing was written, and no space was planned") || !strings.Contains(report, tt.wants[0]) {
					t.Errorf("%s does not say the rule failed:\n%s", what, report)
				}
			}
			// Spaces are read while rules expand; a failed rule stops the
			// run before any space is planned, so before any write.
			if st := em.Stats(); st.Writes != 0 {
				t.Errorf("a failed rule let the run write: %d writes", st.Writes)
			}
		})
	}
}

func TestSpacesAreReadWhileRulesExpand(t *testing.T) {
	// The Directory hangs on the rules' group pages until the call times
	// out, twice: the rule fails after about 2 s. The space needs no rule
	// to be read, so its list is in by then; nothing is written.
	em, cfg := directoryDemo(t, "sync", emulator.Options{})
	em.SetMisbehaviour("directory.members.list", emulator.Misbehaviour{Hang: true})
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(data), "limits: {max_attempts: 2}", "limits: {max_attempts: 2, call_timeout: 1s}", 1)), 0o644)
	code, out, errOut := runCLI(t, "apply", "--config", cfg, "--allow-removals", "10")
	if code != exitFailure || !strings.Contains(logText(errOut), "could not be expanded; nothing was written") {
		t.Fatalf("exit %d, want %d and the rule named\n%s%s", code, exitFailure, out, logText(errOut))
	}
	st := em.Stats()
	if st.Count("members.list") == 0 {
		t.Errorf("no space was read while the rules hung: reads waited for the rules")
	}
	if st.Writes != 0 {
		t.Errorf("%d writes after a failed rule", st.Writes)
	}
}

// A run that stops while its rules expand (here Chat refuses the
// credentials: no call can succeed) is an interrupted run with its report,
// not a rule at fault.
func TestAStopWhileRulesExpandIsNotARuleError(t *testing.T) {
	em, cfg := directoryDemo(t, "upsert", emulator.Options{})
	em.SetMisbehaviour("directory.members.list", emulator.Misbehaviour{HangFirst: 1})
	em.SetMisbehaviour("members.list", emulator.Misbehaviour{Status: 401})
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(data), "limits: {max_attempts: 2}", "limits: {max_attempts: 2, call_timeout: 1s}", 1)), 0o644)
	code, out, errOut := runCLI(t, "apply", "--config", cfg, "--output", "json")
	logs := logText(errOut)
	if code != exitFailure || strings.Contains(logs, "could not be expanded") || !strings.Contains(logs, "stopping the run") {
		t.Errorf("exit %d, want %d, stopped and no rule blamed\n%s", code, exitFailure, logs)
	}
	r := parseReport(t, out)
	if r.Complete || len(r.Incomplete) == 0 || !strings.Contains(strings.Join(r.Incomplete, " "), "stopped") {
		t.Errorf("the report doesn't say the run stopped: %+v", r)
	}
	if em.Stats().Writes != 0 {
		t.Errorf("%d writes", em.Stats().Writes)
	}
}

// The group scopes are asked for only when a rule needs them, on the
// Directory's token, never on Chat's.
func TestRuleScopes(t *testing.T) {
	seed, err := emulator.LoadSeed("../../testdata/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		member string
		want   []string // the Directory token's scopes
	}{
		{"alice@example.com", []string{auth.ScopeDirectoryRead}}, // not in the space: looked up
		{"{org_unit: /Engineering/Platform}", []string{auth.ScopeDirectoryRead}},
		{"{group_members: eng-oncall@example.com}", []string{auth.ScopeDirectoryRead, auth.ScopeDirectoryGroupMemberRead}},
		{"{group: eng-oncall@example.com}", []string{auth.ScopeDirectoryRead, auth.ScopeDirectoryGroupRead}},
	} {
		t.Run(tt.member, func(t *testing.T) {
			ts := authtest.Start(t)
			em, url := emulatortest.Start(t, seed, emulator.Options{RequireToken: authtest.AccessToken})
			dir := t.TempDir()
			key, _ := ts.ServiceAccountKey(t, dir)
			os.WriteFile(filepath.Join(dir, "p.yaml"), []byte("spaces:\n  - space: spaces/PLATFORM\n    members:\n      - "+tt.member+"\n"), 0o644)
			cfg := filepath.Join(dir, "config.yaml")
			os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: p.yaml}]\napi: {endpoint: %q}\nauth: {mode: service-account, credentials_file: %q, subject: admin@example.com}\n", url, key)), 0o644)
			code, out, errOut := runCLI(t, "plan", "--config", cfg)
			if code != exitOK {
				t.Fatalf("plan: exit %d\n%s%s", code, out, logText(errOut))
			}
			claims, _ := ts.Requests()
			var scopes []string
			for _, c := range claims {
				scopes = append(scopes, fmt.Sprint(c["scope"]))
			}
			want := []string{auth.ScopeMembershipsRead + " " + auth.ScopeSpacesRead, strings.Join(tt.want, " ")}
			slices.Sort(scopes) // rules expand before the first Chat read; the order is not the point
			slices.Sort(want)
			if strings.Join(scopes, "|") != strings.Join(want, "|") {
				t.Errorf("token scopes\n%s\nwant\n%s", strings.Join(scopes, "\n"), strings.Join(want, "\n"))
			}
			if em.Stats().Writes != 0 {
				t.Error("plan wrote")
			}
		})
	}
}

// A run stopped by a failed rule planned no space: the gauges of what a
// plan saw (removals pending, desired memberships) keep the last run's
// values rather than dropping to what this run never looked at.
func TestAFailedRuleLeavesThePlanGauges(t *testing.T) {
	_, cfg := directoryDemo(t, "sync", emulator.Options{})
	m := metrics.New()
	m.RemovalsPending.Set(3)
	m.DesiredMemberships.Set(40)
	path := filepath.Join(filepath.Dir(cfg), "platform.yaml")
	data, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(data), "platform-leads@example.com", "nobody@example.com", 1)), 0o644)
	var out, errOut bytes.Buffer
	r := runOnce(context.Background(), cmdIO{&out, &errOut}, runSettings{runID: "r1", flags: runFlags{config: cfg, allowRemovals: -1},
		metrics: m, calls: &metrics.Calls{}, log: logging.New(&errOut, slog.LevelInfo)})
	if r.code != exitFailure || r.plan == nil || r.plan.Complete() {
		t.Fatalf("exit %d, plan %+v\n%s", r.code, r.plan, errOut.String())
	}
	if got := gaugeValue(m.RemovalsPending); got != 3 {
		t.Errorf("syncer_removals_pending after a run that planned nothing: %v, want the last run's 3", got)
	}
	if got := gaugeValue(m.DesiredMemberships); got != 40 {
		t.Errorf("syncer_desired_memberships after a run that planned nothing: %v, want the last run's 40", got)
	}
	if got := gaugeValue(m.Runs.WithLabelValues("failure")); got != 1 {
		t.Errorf("failed runs counted: %v, want 1", got)
	}
	// serve's list of runs says why in a line, as for a run that made no plan.
	if !strings.Contains(r.run.Why, "nobody@example.com: no such group") {
		t.Errorf("the run's why: %q", r.run.Why)
	}
}

func gaugeValue(c prometheus.Metric) float64 {
	var m dto.Metric
	c.Write(&m)
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// mallory is suspended, in /Engineering/Platform, and a member of
// spaces/PLATFORM: the org_unit rule names her but adds no suspended
// person. With remove_suspended off (the default) she stays, listed as
// not removed with why; with it on she goes, for being suspended.
func TestASuspendedPersonARuleNamesStaysUnlessRemoveSuspended(t *testing.T) {
	for _, removeSuspended := range []bool{false, true} {
		t.Run(fmt.Sprint("remove_suspended ", removeSuspended), func(t *testing.T) {
			seed, err := emulator.LoadSeed("../../testdata/seed.yaml")
			if err != nil {
				t.Fatal(err)
			}
			// And arch@, archived in the unit: remove_suspended removes
			// nobody for being archived.
			seed.Users = append(seed.Users, emulator.SeedUser{ID: "100000000099", Email: "arch@example.com", OrgUnit: "/Engineering/Platform", Archived: true})
			for i := range seed.Spaces {
				if seed.Spaces[i].Name == "spaces/PLATFORM" {
					seed.Spaces[i].Members = append(seed.Spaces[i].Members, emulator.SeedMember{User: "mallory@example.com"}, emulator.SeedMember{User: "arch@example.com"})
				}
			}
			_, url := emulatortest.Start(t, seed, emulator.Options{HideEmails: true})
			dir := t.TempDir()
			rules, _ := os.ReadFile("../../testdata/directory/platform.yaml")
			os.WriteFile(filepath.Join(dir, "platform.yaml"), rules, 0o644)
			cfg := filepath.Join(dir, "config.yaml")
			os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: platform.yaml}]\npolicy: sync\nremove_suspended: %v\napi: {endpoint: %q}\nlimits: {max_attempts: 2}\n", removeSuspended, url)), 0o644)
			code, out, errOut := runCLI(t, "plan", "--config", cfg, "--output", "json", "--allow-removals", "5")
			r := parseRemovals(t, out)
			if code != exitOK {
				t.Fatalf("plan: exit %d\n%s", code, logText(errOut))
			}
			var removed, kept []string
			for _, c := range r.Changes {
				if c["action"] == "delete" {
					removed = append(removed, fmt.Sprint(c["member"], " (", c["reason"], ")"))
				}
			}
			for _, p := range r.Protected {
				kept = append(kept, fmt.Sprint(p["member"], ": ", p["why"]))
			}
			archKept := strings.Contains(strings.Join(kept, "\n"), "arch@example.com: archived in the Directory, and named by org_unit /Engineering/Platform (")
			if removeSuspended {
				if len(removed) != 1 || !strings.Contains(removed[0], "mallory@example.com (suspended in the Directory)") || len(kept) != 1 || !archKept {
					t.Errorf("removed %q, kept %q; want mallory removed for being suspended, arch@ kept", removed, kept)
				}
				return
			}
			if len(removed) != 0 || len(kept) != 2 || !archKept || !strings.Contains(strings.Join(kept, "\n"), "mallory@example.com: suspended in the Directory, and named by org_unit /Engineering/Platform (") {
				t.Errorf("removed %q, kept %q; want mallory and arch@ kept, the unit rule naming them", removed, kept)
			}
		})
	}
}
