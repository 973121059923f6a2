package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
)

func TestHTMLReport(t *testing.T) {
	_, cfg := setup(t, 3, emulator.Options{}, "max_attempts: 2")
	dir := filepath.Dir(cfg)

	code, out, errOut := runCLI(t, "plan", "--config", cfg, "--output", "html")
	if code != exitOK || !strings.HasPrefix(out, "<!DOCTYPE html>") || strings.Count(out, "<!DOCTYPE html>") != 1 {
		t.Fatalf("plan --output html: exit %d, not one page:\n%.300s%s", code, out, errOut)
	}
	for _, want := range []string{"<title>Chat membership plan</title>", "<code>syncer plan</code>", "<b>3</b><span>to add</span>",
		"<td>membership reads</td><td>1</td><td>3,000 a minute</td>", "members.csv:2"} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan's page lacks %q", want)
		}
	}

	page := filepath.Join(dir, "outcome.html")
	code, out, errOut = runCLI(t, "apply", "--config", cfg, "--output", "json", "--report-file", page)
	if code != exitOK || !strings.HasPrefix(out, "{") {
		t.Fatalf("apply --report-file x.html: exit %d\n%s%s", code, out, errOut)
	}
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<title>Chat membership sync</title>", "<b>3</b><span>applied</span>", "<td>membership writes</td><td>3</td><td>300 a minute</td>",
		"<code>syncer apply</code>", `<span class="result-success">success</span>`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the report file lacks %q", want)
		}
	}

	if code, _, errOut := runCLI(t, "plan", "--config", cfg, "--output", "pdf"); code != exitInvalid || !strings.Contains(logText(errOut), "text, markdown, json or html") {
		t.Errorf("--output pdf: exit %d %s", code, errOut)
	}
}

// A saved plan whose space moved: the page says the plan is stale and
// which space moved, and nothing was written.
func TestHTMLReportStalePlan(t *testing.T) {
	em, cfg, plan := reviewed(t)
	if code, out, errOut := runCLI(t, "plan", "--config", cfg, "--out", plan); code != exitOK {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errOut)
	}
	handAdd(t, em, cfg, "spaces/S", "u5@example.com")
	page := filepath.Join(filepath.Dir(cfg), "apply.html")
	code, out, errOut := runCLI(t, "apply", "--config", cfg, "--plan", plan, "--output", "html", "--report-file", page)
	if code != exitBlocked {
		t.Fatalf("apply --plan on a moved space: exit %d\n%s", code, logText(errOut))
	}
	data, _ := os.ReadFile(page)
	for name, html := range map[string]string{"stdout": out, "report file": string(data)} {
		for _, want := range []string{`class="banner stale"`, "STALE PLAN: nothing was written.", "1 space changed since the plan was made",
			"spaces/S changed since the plan was made: 1 member added (u5@example.com)", "<code>syncer apply --plan " + plan + "</code>", `<span class="result-blocked">blocked</span>`} {
			if !strings.Contains(html, want) {
				t.Errorf("%s lacks %q", name, want)
			}
		}
	}
}
