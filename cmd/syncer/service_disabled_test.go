package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
)

// A project that has not enabled the Chat API: Google answers every call
// 403 SERVICE_DISABLED. The run stops at the first answer with one
// message naming the API, the project and where to enable it; nothing is
// written, and no space is tried after it.
func TestChatAPIDisabledStopsTheRunWithOneMessage(t *testing.T) {
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}}}
	var csv strings.Builder
	csv.WriteString("space,member\n")
	for i := range 20 {
		name := fmt.Sprintf("spaces/S%d", i)
		seed.Spaces = append(seed.Spaces, emulator.SeedSpace{Name: name, Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}})
		fmt.Fprintf(&csv, "%s,new%d@example.com\n", name, i)
	}
	for _, cmd := range []string{"plan", "apply"} {
		em, cfg := syncWorld(t, seed, emulator.Options{}, csv.String(), "")
		em.SetMisbehaviour("*", emulator.Misbehaviour{ServiceDisabled: true})
		code, out, errOut := runCLI(t, cmd, "--config", cfg)
		logs := logText(errOut)
		url := "https://console.developers.google.com/apis/api/chat.googleapis.com/overview?project=" + emulator.DisabledProject
		if code != exitFailure || !strings.Contains(logs, "Google Chat API") || !strings.Contains(logs, "enable it at "+url+",") || !strings.Contains(logs, "project "+emulator.DisabledProject) {
			t.Errorf("%s: exit %d\n%s\n%s", cmd, code, out, logs)
		}
		if n := strings.Count(logs+out, "has not been used"); n > 1 {
			t.Errorf("%s: Google's message repeated %d times\n%s\n%s", cmd, n, out, logs)
		}
		if w := em.Stats().Writes; w != 0 {
			t.Errorf("%s: %d writes", cmd, w)
		}
		if n := em.Stats().Total(); n > 10 { // a few in flight at once; not one a space
			t.Errorf("%s: %d calls after the API said it is disabled", cmd, n)
		}
	}
}

// A project that has not enabled the Admin SDK API: the Directory can't be
// asked, as when it fails, not as when it refuses this caller (where the
// membership reads take over and removals go on). Lookups fail, removals
// wait, the plan is incomplete (exit 1), and the report says once what to
// enable and where, not once an address; the Directory is asked no more.
func TestAdminSDKDisabledHoldsRemovalsAndSaysSoOnce(t *testing.T) {
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "leaver@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "leaver@example.com"}}}}}
	var csv strings.Builder
	csv.WriteString("space,member,role\nspaces/S,boss@example.com,owner\n")
	for i := range 25 {
		seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(100 + i), Email: fmt.Sprintf("u%d@example.com", i)})
		fmt.Fprintf(&csv, "spaces/S,u%d@example.com,\n", i)
	}
	em, cfg := syncWorld(t, seed, emulator.Options{HideEmails: true}, csv.String(), "")
	for _, m := range []string{"directory.users.get", "directory.users.list", "directory.groups.get", "directory.members.list"} {
		em.SetMisbehaviour(m, emulator.Misbehaviour{ServiceDisabled: true})
	}
	code, out, errOut := runCLI(t, "plan", "--config", cfg, "--allow-removals", "5")
	logs := logText(errOut)
	url := "https://console.developers.google.com/apis/api/admin.googleapis.com/overview?project=" + emulator.DisabledProject
	if code != exitFailure || !strings.HasPrefix(finalReport(out), "INCOMPLETE") || strings.Contains(out, "- users/2") {
		t.Errorf("exit %d: want an incomplete plan that removes nobody\n%s\n%s", code, out, logs)
	}
	var loud []string // the log's warnings and errors (a pass started early may say it at info)
	for _, l := range strings.Split(logs, "\n") {
		if !strings.HasPrefix(l, "INFO ") {
			loud = append(loud, l)
		}
	}
	for what, text := range map[string]string{"the report": out, "the log": strings.Join(loud, "\n")} {
		if n := strings.Count(text, url); n != 1 || !strings.Contains(text, "Admin SDK API") || !strings.Contains(text, "identity.directory: false") {
			t.Errorf("%s names the activation URL %d times, want once, with the API and the other fix:\n%s", what, n, text)
		}
	}
	if n := em.Stats().Count("directory.users.get") + em.Stats().Count("directory.users.list"); n > 17 {
		t.Errorf("%d Directory calls after it said the Admin SDK API is not enabled", n)
	}
	code, _, errOut = runCLI(t, "apply", "--config", cfg, "--allow-removals", "5")
	if code != exitFailure || deletes(em) != 0 {
		t.Errorf("apply: exit %d, %d deletes\n%s", code, deletes(em), logText(errOut))
	}
}

// With Directory rules, a disabled Admin SDK API fails them before any
// write, as any failing Directory does, and the message says what to
// enable and where.
func TestAdminSDKDisabledFailsTheRulesBeforeAnyWrite(t *testing.T) {
	em, cfg := directoryDemo(t, "sync", emulator.Options{})
	for _, m := range []string{"directory.users.get", "directory.users.list", "directory.groups.get", "directory.members.list"} {
		em.SetMisbehaviour(m, emulator.Misbehaviour{ServiceDisabled: true})
	}
	code, out, errOut := runCLI(t, "apply", "--config", cfg, "--allow-removals", "10")
	logs := logText(errOut)
	url := "https://console.developers.google.com/apis/api/admin.googleapis.com/overview?project=" + emulator.DisabledProject + ", then"
	if code != exitFailure || em.Stats().Writes != 0 || !strings.Contains(logs, "could not be expanded; nothing was written") ||
		!strings.Contains(logs, "Admin SDK API (admin.googleapis.com) is not enabled in Google Cloud project "+emulator.DisabledProject) || !strings.Contains(logs, url) {
		t.Errorf("exit %d, %d writes\n%s\n%s", code, em.Stats().Writes, out, logs)
	}
}
