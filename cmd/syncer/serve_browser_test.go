package main

// serve's pages in a real browser (headless Chromium): skipped with one
// line where none is installed, unless SYNCER_BROWSER_TESTS=require. With
// SYNCER_SCREENSHOTS=DIR the README's screenshots of / and /runs are saved
// there.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/syncer-dev/syncer/internal/browsertest"
)

func evalIn[T any](t *testing.T, tab context.Context, script string) T {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[T](script))
	if err != nil {
		t.Fatalf("%v\n%s", err, script)
	}
	return v
}

func TestBrowserServePages(t *testing.T) {
	tab := browsertest.Start(t)
	dialogs := browsertest.WatchDialogs(tab)
	w := newPagesWorld(t, true) // state in Cloud Storage (fake-gcs-server)
	// Run from the config's folder, as people do: sources read as
	// members.yaml, not a temporary path.
	t.Chdir(filepath.Dir(w.cfg))
	w.cfg = filepath.Base(w.cfg)
	ids := w.runs(t, 3, 6, 8)

	// After a restart, with no run of its own yet.
	s := startServe(t, w.cfg)
	defer s.stop()
	if err := chromedp.Do(tab, chromedp.Navigate(s.base+"/runs")); err != nil {
		t.Fatal(err)
	}
	listed := evalIn[[]string](t, tab, `[...document.querySelectorAll("table.runs tbody tr")].filter(r => r.checkVisibility()).map(r => r.innerText)`)
	if len(listed) != 3 {
		t.Fatalf("/runs shows %d runs, want 3: %q", len(listed), listed)
	}
	for i, want := range []string{"4\t2\t0", "6\t3\t0", "6\t3\t0"} {
		if !strings.Contains(listed[i], "success") || !strings.Contains(listed[i], want) || !strings.Contains(listed[i], "report") {
			t.Errorf("run %d reads %q, want success, %q and a report link", i, listed[i], want)
		}
	}
	if bars := evalIn[int](t, tab, `[...document.querySelectorAll("svg.chart g.run")].filter(g => g.getBBox().height > 0).length`); bars != 3 {
		t.Errorf("the chart draws %d runs, want 3", bars)
	}
	if dots := evalIn[int](t, tab, `document.querySelectorAll("svg.chart circle.duration").length`); dots != 3 {
		t.Errorf("the chart has %d duration dots, want 3", dots)
	}
	screenshot(t, tab, "serve-runs.png")

	// The oldest run's report, from its link.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/runs/%s"]`, ids[2])))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first run's page", func() bool {
		return evalIn[string](t, tab, `location.pathname`) == "/runs/"+ids[2] && evalIn[bool](t, tab, `!!document.querySelector("dl.run")`)
	})
	page := evalIn[string](t, tab, `document.body.innerText`)
	for _, want := range []string{"Chat membership sync", ids[2], "syncer apply", hostileLabel, "spaces/S1", "Sales", "membership writes"} {
		if !strings.Contains(page, want) {
			t.Errorf("the first run's page lacks %q", want)
		}
	}
	// Every change, with the entry that decided it (none is folded: 9 rows at most a space).
	rows := evalIn[[]string](t, tab, `[...document.querySelectorAll("table.changes tbody tr")].filter(r => r.checkVisibility()).map(r => r.innerText)`)
	if len(rows) != 9 {
		t.Errorf("%d changes shown, want 9 (3 added to S1; 3 added to S2 and made managers): %q", len(rows), rows)
	}
	for _, r := range rows {
		if !strings.Contains(r, "\tmembers.yaml:") || !strings.Contains(r, "applied") {
			t.Errorf("a change without its source or outcome: %q", r)
		}
	}
	// The hostile label is text: nothing ran, nothing was made of it.
	time.Sleep(300 * time.Millisecond)
	if pwned := evalIn[string](t, tab, `String(window.__pwned)`); pwned != "undefined" {
		t.Errorf("the label's script ran: window.__pwned = %s", pwned)
	}
	if n, msgs := dialogs.Count(); n > 0 {
		t.Errorf("%d dialogs: %q", n, msgs)
	}
	if imgs := evalIn[int](t, tab, `document.querySelectorAll("img").length`); imgs != 0 {
		t.Errorf("%d img elements made from the label", imgs)
	}

	// / is the last run's page, from the history.
	if err := chromedp.Do(tab, chromedp.Navigate(s.base+"/")); err != nil {
		t.Fatal(err)
	}
	if run := evalIn[string](t, tab, `document.querySelector("dl.run").innerText`); !strings.Contains(run, ids[0]) {
		t.Errorf("/ shows run %q, want the last one, %s", run, ids[0])
	}
	if nav := evalIn[string](t, tab, `document.querySelector("nav").innerText`); !strings.Contains(nav, "Runs") {
		t.Errorf("nav %q", nav)
	}
	screenshot(t, tab, "serve-last-run.png")
}

// screenshot saves what tab shows to SYNCER_SCREENSHOTS/name, when set.
func screenshot(t *testing.T, tab context.Context, name string) {
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
