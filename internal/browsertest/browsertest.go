// Package browsertest starts a headless Chromium for tests that look at a
// page as a person would. Where no Chromium is installed, such a test is
// skipped with one line saying so, unless SYNCER_BROWSER_TESTS=require
// (CI sets it), which fails it instead. The browser is started with no
// network of its own: it loads what a test points it at, and nothing else.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Names are the browser programs looked for on PATH, in order, after
// $SYNCER_CHROMIUM. The Makefile looks for the same ones.
var Names = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell", "headless-shell"}

// Chromium is the browser the tests use: $SYNCER_CHROMIUM when set, else
// the first of Names on PATH; "" when there is none.
func Chromium() string {
	if p := os.Getenv("SYNCER_CHROMIUM"); p != "" {
		if found, err := exec.LookPath(p); err == nil {
			return found
		}
		return ""
	}
	for _, name := range Names {
		if found, err := exec.LookPath(name); err == nil {
			return found
		}
	}
	return ""
}

// Required reports whether the browser tests must run (CI): then a missing
// browser fails them rather than skipping them.
func Required() bool { return os.Getenv("SYNCER_BROWSER_TESTS") == "require" }

// Start starts a headless Chromium for tb and returns a tab in it; both
// close when tb ends. Without a browser it skips tb (or fails it when
// Required). More tabs: chromedp.NewContext(tab).
func Start(tb testing.TB) context.Context {
	tb.Helper()
	path := Chromium()
	if path == "" {
		if Required() {
			tb.Fatal("SYNCER_BROWSER_TESTS=require, and no Chromium was found (install Debian's chromium, or set SYNCER_CHROMIUM)")
		}
		tb.Skip("browser test skipped: no Chromium found (install chromium, or set SYNCER_CHROMIUM)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // root in a container has no sandbox to give
		chromedp.DisableGPU,
		chromedp.UserDataDir(tb.TempDir()),
		// Its own scratch folders too, so a test leaves nothing in /tmp.
		chromedp.Env("TMPDIR="+tb.TempDir()),
		chromedp.WindowSize(1280, 900),
		// No connection of its own to anywhere: this network refuses them,
		// and a test must not depend on them.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	// The first action starts the browser and ties its life to tab (so it
	// is given no deadline of its own; the test's bounds it).
	if err := chromedp.Do(tab); err != nil {
		cancelTab()
		cancelAlloc()
		tb.Fatalf("starting %s: %v", path, err)
	}
	tb.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	return tab
}

// Dialogs counts the JavaScript dialogs (alert, confirm, prompt) a tab
// opens, and dismisses each: a page that runs an injected alert() is
// caught, not left hanging.
type Dialogs struct {
	n    atomic.Int32
	mu   sync.Mutex
	msgs []string
}

// WatchDialogs starts counting tab's dialogs, until tab ends.
func WatchDialogs(tab context.Context) *Dialogs {
	d := &Dialogs{}
	dialogs := chromedp.Events(tab, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			d.n.Add(1)
			d.mu.Lock()
			d.msgs = append(d.msgs, ev.Message)
			d.mu.Unlock()
			chromedp.Call(tab, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	return d
}

// Count is how many dialogs opened, and what they said.
func (d *Dialogs) Count() (int, []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return int(d.n.Load()), append([]string(nil), d.msgs...)
}
