package report

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/diff"
	m "github.com/syncer-dev/syncer/internal/membership"
)

// hostile is what a source, the API or a message could carry: each would
// run, or reach out, if it reached the page as markup.
const (
	hostileLabel  = `<script>window.__pwned = "label"</script>Eng`
	hostileMember = `"><img src=x onerror="window.__pwned='member'">@example.com`
	hostileError  = `</td></tr></table><svg onload="alert('error')"></svg>`
	hostileSource = `<a href="javascript:alert('source')">x.yaml</a>:1 (group_members <b>x</b>@example.com)`
	hostileWarn   = `<iframe src="https://example.com/"></iframe>`
)

// hostilePlan puts hostile text in every string the page shows.
func hostilePlan() diff.Plan {
	p := appliedPlan()
	p.Spaces[0].Label = hostileLabel
	p.Spaces[1].Error = hostileError
	p.Changes[0].Member, p.Changes[0].Source = hostileMember, hostileSource
	p.Changes[2].Error = hostileError
	p.Warnings = append(p.Warnings, hostileWarn)
	p.Incomplete = []string{hostileError}
	p.Blocked = []string{hostileWarn}
	p.Protected = []diff.Kept{{Space: "spaces/AAA", Member: hostileMember, Why: hostileError}}
	return p
}

func TestHTMLEscapesWhatItShows(t *testing.T) {
	var buf bytes.Buffer
	run := &Run{ID: `<b>id</b>`, Command: "apply", Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Result: "success",
		Calls: []Calls{{Kind: hostileWarn, N: 3}}, PlanFile: &PlanFile{Path: hostileSource, Moved: []string{hostileLabel}}}
	if err := HTML(&buf, Page{Plan: hostilePlan(), Run: run, Nav: []Link{{Href: "javascript:alert(1)", Text: hostileLabel}}}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, markup := range []string{"<script>window", "<img", "<svg", "<iframe", `<a href="javascript`, "<b>id</b>", "<b>x</b>", "href=\"javascript:"} {
		if strings.Contains(out, markup) {
			t.Errorf("the page holds %q as markup", markup)
		}
	}
	if n := strings.Count(out, "<script>"); n != 1 {
		t.Errorf("%d script elements; the page has one, its own", n)
	}
	for _, text := range []string{"&lt;script&gt;window.__pwned", "&lt;img src=x onerror=", "&lt;svg onload=", "&lt;iframe src="} {
		if !strings.Contains(out, text) {
			t.Errorf("the page does not show %q as text", text)
		}
	}
}

// TestHTMLIsOneFile: nothing the page needs comes from elsewhere, and its
// policy, first in the head, forbids anything that would.
func TestHTMLIsOneFile(t *testing.T) {
	var buf bytes.Buffer
	if err := HTML(&buf, Page{Plan: removalPlan()}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if loads := regexp.MustCompile(`(?i)\b(src|href|action)\s*=|url\(|@import|https?:`).FindAllString(out, -1); len(loads) > 0 {
		t.Errorf("the page refers to something outside it: %q", loads)
	}
	policy := strings.Index(out, `http-equiv="Content-Security-Policy"`)
	if policy < 0 || policy > strings.Index(out, "<style>") || !strings.Contains(out, "default-src &#39;none&#39;") {
		t.Errorf("no content policy before the style sheet:\n%.600s", out)
	}
	if strings.Contains(ContentSecurityPolicy(), "unsafe-inline") {
		t.Errorf("the policy allows any inline code: %s", ContentSecurityPolicy())
	}
}

func TestHTMLBanners(t *testing.T) {
	stale := removalPlan()
	stale.Blocked = []string{"spaces/AAA changed since the plan was made: 1 member added (u5@example.com)", "make a new plan from the spaces as they are now, and review it"}
	for _, tc := range []struct {
		name       string
		page       Page
		want, lack []string
	}{
		{"incomplete", Page{Plan: incompletePlan()}, []string{"INCOMPLETE", "1 of 2 spaces could not be read", "<code>spaces/BBB</code> not read: read spaces/BBB: 503 UNAVAILABLE"}, []string{"banner blocked", "STALE"}},
		{"blocked by a rail", Page{Plan: removalPlan()}, []string{"BLOCKED by a safety check", "first run with policy sync", "<code>--allow-removals 2</code>"}, []string{"INCOMPLETE", "STALE"}},
		{"stale plan", Page{Plan: stale, Run: &Run{Command: "apply --plan plan.json", PlanFile: &PlanFile{Path: "plan.json", Moved: stale.Blocked[:1]}}},
			[]string{"STALE PLAN", "1 space changed since the plan was made", "spaces/AAA changed since the plan was made: 1 member added (u5@example.com)"}, []string{"banner blocked", "--allow-removals 1"}},
		{"applied, one change failed", Page{Plan: appliedPlan()}, []string{"Chat membership sync", "<b>1</b><span>failed</span>",
			"FAILED: 1 change did not go through", "(create): PERMISSION_DENIED: caller can&#39;t add groups</li>", `<i class="failed">1 failed</i>`}, []string{"INCOMPLETE", "BLOCKED", "Done:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := HTML(&buf, tc.page); err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.want {
				if !strings.Contains(buf.String(), s) {
					t.Errorf("lacks %q", s)
				}
			}
			for _, s := range tc.lack {
				if strings.Contains(buf.String(), s) {
					t.Errorf("has %q", s)
				}
			}
		})
	}
}

// TestHTMLRun: the run's figures, and its calls against their quotas.
// A folded space with a failed change says so in its header, and the
// banner names the failures: a 60,000-change report stays folded (opening
// every space with a failure costs the browser seconds).
func TestHTMLFailuresShowWhenFolded(t *testing.T) {
	p := bigPlan(3000) // 6 spaces of 500; changes 0, 997, 1994 and 2991 failed
	var buf bytes.Buffer
	if err := HTML(&buf, Page{Plan: p}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if n := strings.Count(out, `<i class="failed">1 failed</i>`); n != 4 {
		t.Errorf("%d space headers say 1 failed, want 4", n)
	}
	if !strings.Contains(out, "FAILED: 4 changes did not go through") || strings.Count(out, "): 503 UNAVAILABLE: backend unavailable</li>") != 4 {
		t.Error("the FAILED banner doesn't name the 4 failures")
	}
}

func TestHTMLRun(t *testing.T) {
	run := &Run{ID: "abc123", Command: "apply", Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Seconds: 130.4, Result: "success",
		Calls: []Calls{{Kind: "membership reads", N: 120, PerMinute: 3000}, {Kind: "membership writes", N: 601, PerMinute: 300}, {Kind: "token requests", N: 2}}}
	var buf bytes.Buffer
	if err := HTML(&buf, Page{Plan: appliedPlan(), Run: run}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, s := range []string{"started 2026-01-02 03:04:05 UTC", "took 2 min 10 s", "<td>membership writes</td><td>601</td><td>300 a minute</td><td>2 min 0 s</td>",
		"<td>membership reads</td><td>120</td><td>3,000 a minute</td><td>no wait</td>", "<td>token requests</td><td>2</td><td>&ndash;</td><td>&ndash;</td>",
		"in no less than 2 min 0 s (membership writes); this run took 2 min 10 s"} {
		if !strings.Contains(out, s) {
			t.Errorf("lacks %q", s)
		}
	}
}

// bigPlan is an applied plan of n changes over spaces of 500, as an HR
// export of a large organisation gives: adds, role changes and removals,
// named in files and by Directory rules.
func bigPlan(n int) diff.Plan {
	p := diff.Plan{Policy: diff.Sync, Applied: true}
	perSpace := 500
	for i := 0; i < n; i++ {
		space := fmt.Sprintf("spaces/AAAA%07d", i/perSpace)
		if i%perSpace == 0 {
			p.Spaces = append(p.Spaces, diff.SpaceSummary{Name: space, Label: fmt.Sprintf("Department %d", i/perSpace), Desired: 900, Current: 700, Listed: true})
		}
		c := diff.Change{Space: space, Member: fmt.Sprintf("firstname.lastname%06d@example.com", i), Principal: m.Principal(fmt.Sprintf("users/1%011d", i)),
			Status: diff.Applied}
		switch i % 10 {
		case 0, 1, 2, 3, 4, 5:
			c.Action, c.ToRole, c.Source = diff.Create, m.RoleMember, fmt.Sprintf("hr/people.csv:%d:12", i+2)
		case 6, 7:
			c.Action, c.FromRole, c.ToRole, c.Source = diff.UpdateRole, m.RoleMember, m.RoleManager, fmt.Sprintf("platform.yaml:%d (group_members platform-leads@example.com)", i%400+1)
		default:
			c.Action, c.FromRole, c.Reason = diff.Delete, m.RoleMember, diff.ReasonAbsent
		}
		if i%997 == 0 {
			c.Status, c.Error = diff.Failed, "503 UNAVAILABLE: backend unavailable"
		}
		p.Changes = append(p.Changes, c)
	}
	p.Recount()
	return p
}

// A report of 60,000 changes stays small enough to attach to an e-mail,
// and holds every change.
func TestHTMLSixtyThousandChanges(t *testing.T) {
	const n, limit = 60000, 15 << 20
	var buf bytes.Buffer
	if err := HTML(&buf, Page{Plan: bigPlan(n), Run: &Run{Command: "apply", Result: "failure", Exit: 1}}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() >= limit {
		t.Errorf("%d bytes; the page must stay under %d", buf.Len(), limit)
	}
	if rows := regexp.MustCompile(`<tr class="[ard][ "]`).FindAllIndex(buf.Bytes(), -1); len(rows) != n {
		t.Errorf("%d change rows, want %d", len(rows), n)
	}
	t.Logf("%d changes: %d bytes (%.0f a change)", n, buf.Len(), float64(buf.Len())/n)
}

func TestRunsPage(t *testing.T) {
	var lines []RunLine
	for i := 0; i < 3; i++ {
		p := appliedPlan()
		run := Run{ID: fmt.Sprintf("run%d", i), Command: "apply", Started: time.Date(2026, 1, 2, 3, i, 0, 0, time.UTC), Seconds: float64(10 + i), Result: "success",
			Calls: []Calls{{Kind: "membership writes", N: 5}}}
		l := LineOf(run, &p)
		if i != 1 {
			l.Report = "/runs/" + run.ID
		}
		lines = append([]RunLine{l}, lines...)
	}
	lines = append(lines, LineOf(Run{ID: "bad", Command: "apply", Result: "invalid", Exit: 3, Why: `hr.csv:7: malformed CSV <b>x</b> (and 2 more)`}, nil))
	var buf bytes.Buffer
	if err := Runs(&buf, RunsPage{Runs: lines, Keep: 50, Where: "gs://b/p"}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if n := strings.Count(out, `<g class="run `); n != 4 {
		t.Errorf("%d bars in the chart, want 4", n)
	}
	for _, s := range []string{`<a href="/runs/run2">report</a>`, `<a href="/runs/run0">report</a>`, "not kept", `class="result-invalid">invalid</span>`, "gs://b/p",
		"<small>no plan</small>", "<small>hr.csv:7: malformed CSV &lt;b&gt;x&lt;/b&gt; (and 2 more)</small>"} {
		if !strings.Contains(out, s) {
			t.Errorf("lacks %q", s)
		}
	}
	if strings.Contains(out, `href="/runs/run1"`) {
		t.Error("links a report that is not kept")
	}
}

func TestNiceCeiling(t *testing.T) {
	for n, want := range map[int]int{0: 4, 3: 4, 5: 8, 9: 20, 21: 40, 399: 400, 401: 800, 60000: 80000} {
		if got := niceCeiling(n); got != want || got%4 != 0 {
			t.Errorf("niceCeiling(%d) = %d, want %d", n, got, want)
		}
	}
}

// The quota counts calls per minute: a minute's worth goes at once, each
// further minute's worth waits a minute.
func TestCallsLeast(t *testing.T) {
	for _, tc := range []struct {
		n, perMinute int
		want         time.Duration
	}{{0, 300, 0}, {300, 300, 0}, {301, 300, time.Minute}, {600, 300, time.Minute}, {3000, 300, 9 * time.Minute}, {5, 0, 0}} {
		if got := (Calls{N: tc.n, PerMinute: tc.perMinute}).Least(); got != tc.want {
			t.Errorf("%d calls at %d a minute: %v, want %v", tc.n, tc.perMinute, got, tc.want)
		}
	}
}

// The plan's newer fields: a last owner's removal names the promotion it
// waits for, and a space new to policy sync says so.
func TestHTMLSuccessorAndNewToSync(t *testing.T) {
	var buf bytes.Buffer
	if err := HTML(&buf, Page{Plan: removalPlan()}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<td>olga@example.com <small>after carol@example.com is owner</small>", `<span class="newsync">new to policy sync</span>`,
		"1 space new to policy sync (no completed sync run yet; removals there need <code>--allow-removals</code> once): spaces/BBB."} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("lacks %q", want)
		}
	}
}
