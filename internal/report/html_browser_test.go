package report

// These tests look at the page in a real browser (headless Chromium). They
// skip with one line where none is installed, unless
// SYNCER_BROWSER_TESTS=require. With SYNCER_SCREENSHOTS=DIR they also
// save the README's screenshot of the page there.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"

	"github.com/syncer-dev/syncer/internal/browsertest"
	"github.com/syncer-dev/syncer/internal/diff"
	m "github.com/syncer-dev/syncer/internal/membership"
)

// show writes the page to a file and opens it in tab, as someone opening
// an attachment would.
func show(t testing.TB, tab context.Context, p Page) string {
	t.Helper()
	var buf bytes.Buffer
	if err := HTML(&buf, p); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab, chromedp.Navigate("file://"+path)); err != nil {
		t.Fatal(err)
	}
	return path
}

// eval runs a script in the page and decodes its result.
func eval[T any](t testing.TB, tab context.Context, script string) T {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[T](script))
	if err != nil {
		t.Fatalf("%v\n%s", err, script)
	}
	return v
}

// visibleText is the text of what the selector finds, as a person sees it
// ("" for what is not shown).
func visibleText(t testing.TB, tab context.Context, selector string) string {
	return eval[string](t, tab, fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e && e.checkVisibility() ? e.innerText : "" })()`, selector))
}

func TestBrowserBanners(t *testing.T) {
	tab := browsertest.Start(t)
	stale := removalPlan()
	stale.Blocked = []string{"spaces/AAA changed since the plan was made: 1 member added (u5@example.com)", "make a new plan from the spaces as they are now, and review it"}
	for _, tc := range []struct {
		name, banner string
		page         Page
		want         []string
	}{
		{"incomplete", ".banner.incomplete", Page{Plan: incompletePlan()},
			[]string{"INCOMPLETE: this run could not see or do everything.", "1 of 2 spaces could not be read", "spaces/BBB not read: read spaces/BBB: 503 UNAVAILABLE", "alice@example.com (directory: 500 INTERNAL)"}},
		{"blocked", ".banner.blocked", Page{Plan: removalPlan()},
			[]string{"BLOCKED by a safety check: nothing was changed.", "first run with policy sync for this state", "--allow-removals 2"}},
		{"stale", ".banner.stale", Page{Plan: stale, Run: &Run{Command: "apply --plan plan.json", Result: "blocked", Exit: 4, PlanFile: &PlanFile{Path: "plan.json", Moved: stale.Blocked[:1]}}},
			[]string{"STALE PLAN: nothing was written.", "spaces/AAA changed since the plan was made: 1 member added (u5@example.com)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			show(t, tab, tc.page)
			text := visibleText(t, tab, tc.banner)
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("the banner shows %q, lacking %q", text, w)
				}
			}
			// It is what a reader meets first.
			if first := eval[string](t, tab, `document.querySelector(".banner").className`); !strings.Contains(first, strings.Split(tc.banner, ".")[2]) {
				t.Errorf("the first banner is %q", first)
			}
			if n := eval[int](t, tab, `document.querySelectorAll(".banner").length`); n != 1 {
				t.Errorf("%d banners, want 1", n)
			}
		})
	}
}

// longPlan has two short spaces, open, and one of 25 changes, folded.
func longPlan() diff.Plan {
	p := appliedPlan()
	p.Spaces = append(p.Spaces, diff.SpaceSummary{Name: "spaces/LONG", Label: "Everyone", Desired: 25, Listed: true})
	for i := 0; i < 25; i++ {
		p.Changes = append(p.Changes, diff.Change{Space: "spaces/LONG", Member: fmt.Sprintf("person%02d@example.com", i), Principal: "users/9", Action: diff.Create,
			ToRole: m.RoleMember, Source: fmt.Sprintf("all.yaml:4 (org_unit /Sales/Team%d)", i), Status: diff.Applied})
	}
	p.Recount()
	return p
}

// missingRows lists the plan's changes that no visible row shows with its
// member, role move and source.
func missingRows(t testing.TB, tab context.Context, p diff.Plan) []string {
	type row struct{ Member, Roles, At, Rule string }
	var want []row
	for _, c := range p.Changes {
		s := splitSource(c.Source)
		want = append(want, row{c.Member, cellRole(c.FromRole) + " → " + cellRole(c.ToRole), s[0], s[1]})
	}
	data, _ := json.Marshal(want)
	return eval[[]string](t, tab, fmt.Sprintf(`(() => {
		const rows = [...document.querySelectorAll("table.changes tbody tr")].filter(r => r.checkVisibility());
		return %s.filter(w => !rows.some(r => r.cells[0].innerText.includes(w.Member) && r.cells[1].innerText === w.Roles &&
			r.cells[2].innerText.includes(w.At) && r.cells[2].innerText.includes(w.Rule))).map(w => w.Member + " " + w.At);
	})()`, data))
}

// Every change is there to see with the entry that decided it: long
// spaces are folded, and open with a click.
func TestBrowserEveryChangeVisible(t *testing.T) {
	tab := browsertest.Start(t)
	p := longPlan()
	show(t, tab, Page{Plan: p})
	missing := missingRows(t, tab, p)
	if len(missing) != 25 || !strings.HasPrefix(missing[0], "person00@example.com all.yaml:4") {
		t.Errorf("before unfolding, missing %d rows (want the folded space's 25): %v", len(missing), missing)
	}
	for i := 0; i < 10 && eval[int](t, tab, `document.querySelectorAll("details.space:not([open])").length`) > 0; i++ {
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS("details.space:not([open]) > summary"))); err != nil {
			t.Fatal(err)
		}
	}
	if missing := missingRows(t, tab, p); len(missing) > 0 {
		t.Errorf("changes not visible with their source after unfolding: %v", missing)
	}
	if got := visibleText(t, tab, "table.changes tbody tr.d"); got != "" {
		t.Errorf("a removal row in a plan without removals: %q", got)
	}
}

// A hostile label, address, source or message is shown as text: nothing
// runs and no element is made of it.
func TestBrowserHostileTextStaysText(t *testing.T) {
	tab := browsertest.Start(t)
	dialogs := browsertest.WatchDialogs(tab)
	run := &Run{ID: `<img src=x onerror=alert("id")>`, Command: "apply", Result: "failure", Calls: []Calls{{Kind: hostileWarn, N: 1}}}
	show(t, tab, Page{Plan: hostilePlan(), Run: run})
	time.Sleep(300 * time.Millisecond) // an onerror or onload would have fired by now
	if pwned := eval[string](t, tab, `String(window.__pwned)`); pwned != "undefined" {
		t.Errorf("injected script ran: window.__pwned = %s", pwned)
	}
	if n, msgs := dialogs.Count(); n > 0 {
		t.Errorf("%d dialogs opened: %q", n, msgs)
	}
	if made := eval[[]string](t, tab, `[...document.querySelectorAll("img, svg:not(.chart), iframe, a[href^='javascript'], b > b, script:not(:last-of-type)")].map(e => e.outerHTML)`); len(made) > 0 {
		t.Errorf("elements made from data: %q", made)
	}
	body := eval[string](t, tab, `document.body.innerText`)
	for _, text := range []string{hostileLabel, hostileMember, hostileError, "<a href=\"javascript:alert('source')\">x.yaml</a>:1", hostileWarn, `<img src=x onerror=alert("id")>`} {
		if !strings.Contains(body, text) {
			t.Errorf("the page does not show %q as text", text)
		}
	}
}

// With scripts off, the page reads the same: banners, figures, tables;
// folded spaces open with a click; only the filter box is gone.
func TestBrowserScriptsOff(t *testing.T) {
	tab := browsertest.Start(t)
	if _, err := chromedp.Call(tab, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	p := longPlan()
	p.Incomplete = []string{"1 addresses could not be resolved"}
	show(t, tab, Page{Plan: p})
	if text := visibleText(t, tab, ".banner.incomplete"); !strings.Contains(text, "INCOMPLETE") {
		t.Errorf("banner %q", text)
	}
	if text := visibleText(t, tab, ".figures"); !strings.Contains(text, "28\nto add") {
		t.Errorf("figures %q", text)
	}
	if text := visibleText(t, tab, "#filterbar"); text != "" {
		t.Errorf("a filter box that can't work is shown: %q", text)
	}
	if text := visibleText(t, tab, "noscript"); !strings.Contains(text, "find (Ctrl+F)") {
		t.Errorf("no word on how to search without the filter box: %q", text)
	}
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS("details.space:not([open]) > summary"))); err != nil {
		t.Fatal(err)
	}
	if missing := missingRows(t, tab, p); len(missing) > 0 {
		t.Errorf("with scripts off, after a click, not visible: %v", missing)
	}
}

// The filter box narrows the rows to those that match, unfolding the
// spaces they are in, and clearing it brings everything back.
func TestBrowserFilter(t *testing.T) {
	tab := browsertest.Start(t)
	p := longPlan()
	show(t, tab, Page{Plan: p})
	filter := func(q string) []string {
		t.Helper()
		if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const box = document.getElementById("filter"); box.value = %q; box.dispatchEvent(new Event("input")) })()`, q))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(400 * time.Millisecond) // the box waits for typing to pause
		return eval[[]string](t, tab, `[...document.querySelectorAll("table.changes tbody tr")].filter(r => r.checkVisibility()).map(r => r.cells[0].innerText)`)
	}
	if rows := filter("team1"); len(rows) != 11 || rows[0] != "person01@example.com" {
		t.Errorf("filter team1: %d rows %v, want person01 and person10-19 (their rule), unfolded", len(rows), rows)
	}
	if text := visibleText(t, tab, "#matches"); text != "11 rows in 1 space" {
		t.Errorf("matches %q", text)
	}
	if rows := filter("Engineering"); len(rows) != 5 {
		t.Errorf("a space's label matches all its rows: %v", rows)
	}
	if rows := filter(""); len(rows) != 5 {
		t.Errorf("a cleared filter shows %d rows, want the unfolded space's 5 (the long one folded again)", len(rows))
	}
}

// Printed, the page shows every space unfolded, without the filter box.
func TestBrowserPrint(t *testing.T) {
	tab := browsertest.Start(t)
	p := longPlan()
	show(t, tab, Page{Plan: p})
	if _, err := chromedp.Call(tab, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatal(err)
	}
	if missing := missingRows(t, tab, p); len(missing) > 0 {
		t.Errorf("in print, not visible: %v", missing)
	}
	if text := visibleText(t, tab, "#filterbar"); text != "" {
		t.Errorf("the filter box prints: %q", text)
	}
}

// TestBrowserScreenshot saves the README's picture of a report (with
// SYNCER_SCREENSHOTS=DIR), after checking the page is what it shows.
func TestBrowserScreenshot(t *testing.T) {
	tab := browsertest.Start(t)
	p := removalPlan()
	p.Spaces = append(p.Spaces, diff.SpaceSummary{Name: "spaces/CCC", Label: "Sales", Desired: 40, Current: 40, Listed: true})
	p.Blocked = []string{"first run with policy sync for this state: 2 members would be removed (spaces/AAA: 1, spaces/BBB: 1); read the plan, then rerun with --allow-removals 2"}
	run := &Run{ID: "5f2c9a1e07b3", Command: "plan", Started: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC), Seconds: 3.2, Result: "blocked", Exit: 4, Version: "v0.2.0",
		Calls: []Calls{{Kind: "membership reads", N: 3, PerMinute: 3000}, {Kind: "Directory", N: 2, PerMinute: 2400}, {Kind: "token requests", N: 2}}}
	show(t, tab, Page{Plan: p, Run: run})
	if text := visibleText(t, tab, ".banner.blocked"); !strings.Contains(text, "give one run your consent: --allow-removals 2") {
		t.Fatalf("banner %q", text)
	}
	screenshot(t, tab, "report.png")
}

// screenshot saves what tab shows to SYNCER_SCREENSHOTS/name, when set.
func screenshot(t testing.TB, tab context.Context, name string) {
	dir := os.Getenv("SYNCER_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkBrowserRender60k opens a report of 60,000 changes and measures
// how long the browser takes from the start of the navigation to the
// first frame painted after the page loaded (ms/render: wall time, which
// a shared machine stretches), and the renderer's main thread CPU time
// over the same span (ms-cpu/render), with when parsing ended and the load
// event (ms/parsed, ms/loaded).
func BenchmarkBrowserRender60k(b *testing.B) {
	tab := browsertest.Start(b)
	var buf bytes.Buffer
	if err := HTML(&buf, Page{Plan: bigPlan(60000), Run: &Run{Command: "apply", Result: "failure", Exit: 1}}); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "report.html")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	if _, err := chromedp.Call(tab, performance.Enable, performance.EnableParams{TimeDomain: performance.EnableTimeDomainThreadTicks}); err != nil {
		b.Fatal(err)
	}
	taskSeconds := func() float64 {
		r, err := chromedp.Call(tab, performance.GetMetrics, cdp.Empty{})
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range r.Metrics {
			if m.Name == "TaskDuration" {
				return m.Value
			}
		}
		b.Fatal("no TaskDuration metric")
		return 0
	}
	b.ReportMetric(float64(buf.Len())/(1<<20), "MB")
	var wall, cpu, parsed, loaded float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// From an empty page, so that the last iteration's page is not
		// torn down inside this one's measure.
		b.StopTimer()
		if err := chromedp.Do(tab, chromedp.Navigate("about:blank")); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		before := taskSeconds()
		if err := chromedp.Do(tab, chromedp.Navigate(fmt.Sprintf("file://%s?run=%d", path, i))); err != nil {
			b.Fatal(err)
		}
		ms, err := chromedp.Run(tab, chromedp.Evaluate[float64](`new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now()))))`, chromedp.EvalAwaitPromise))
		if err != nil {
			b.Fatal(err)
		}
		after := taskSeconds()
		if after < before { // a new renderer: it counts from zero
			before = 0
		}
		wall += ms
		cpu += (after - before) * 1000
		parsed += eval[float64](b, tab, `performance.getEntriesByType("navigation")[0].domInteractive`)
		loaded += eval[float64](b, tab, `performance.getEntriesByType("navigation")[0].loadEventEnd`)
		if rows := eval[int](b, tab, `document.querySelectorAll("table.changes tbody tr").length`); rows != 60000 {
			b.Fatalf("%d rows", rows)
		}
	}
	n := float64(b.N)
	b.ReportMetric(wall/n, "ms/render")
	b.ReportMetric(cpu/n, "ms-cpu/render")
	b.ReportMetric(parsed/n, "ms/parsed")
	b.ReportMetric(loaded/n, "ms/loaded")
}
