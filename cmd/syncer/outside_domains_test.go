package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
)

// identity.domains is a hint for what the Directory can't tell: under
// admin access, a source's address the Directory names as one of the
// organisation's users (an alias in a domain the list leaves out) is
// added, not left out as "outside the organisation", and the report says
// to add its domain, on the run that asks the Directory and on the run
// that finds the answer in the identity cache. An address the Directory
// does not know there is still left out.
func TestAnAddressTheDirectoryNamesIsAddedWhateverIdentityDomainsSays(t *testing.T) {
	seed := &emulator.Seed{
		Domains: []string{"example.com", "example.org"},
		Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"},
			{ID: "2", Email: "bob@example.com", NonEditableAliases: []string{"bob@example.org"}},
			{ID: "3", Email: "carol@example.com", Aliases: []string{"carol@example.org"}},
			{ID: "4", Email: "ext@partner.org", External: true}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}},
	}
	em, url := emulatortest.Start(t, seed, emulator.Options{})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "members.csv"), []byte("space,member,role\nspaces/S,boss@example.com,\nspaces/S,bob@example.org,\nspaces/S,carol@example.org,manager\nspaces/S,ext@partner.org,\n"), 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q, use_admin_access: true}\nidentity: {domains: [example.com]}\nlimits: {max_attempts: 2}\n", url)), 0o644)
	// A plan first, as a review would: the apply then finds the addresses
	// in the identity cache, not from the Directory.
	if code, out, errOut := runCLI(t, "plan", "--config", cfg); code != exitOK || !strings.Contains(out, "+ bob@example.org") {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, logText(errOut))
	}
	code, out, errOut := runCLI(t, "apply", "--config", cfg)
	text := out + logText(errOut)
	if got := em.Stats().Count("members.create"); code != exitOK || got != 2 {
		t.Fatalf("exit %d, %d creates (want bob@ and carol@ added by their example.org addresses)\n%s", code, got, text)
	}
	if !strings.Contains(text, "ext@partner.org is not in the organisation's Directory") || strings.Contains(text, "bob@example.org is outside") || strings.Contains(text, "carol@example.org is outside") {
		t.Errorf("who was left out, and why:\n%s", text)
	}
	if !strings.Contains(text, "identity.domains does not list example.org") || !strings.Contains(text, "by_cache=2") {
		t.Errorf("no word of the domain to add to identity.domains:\n%s", text)
	}
}

// A group_members rule names whoever the group holds, people outside the
// organisation too: the Directory listing a group's member does not make
// them one of the organisation's users. Under admin access with
// identity.domains, an outsider a rule names is still left out before any
// call, not sent to a create Google refuses run after run.
func TestAnOutsiderARuleNamesIsStillLeftOutUnderAdminAccess(t *testing.T) {
	seed := &emulator.Seed{
		Domains: []string{"example.com"},
		Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"},
			{ID: "2", Email: "bob@example.com"},
			{ID: "4", Email: "ext@partner.org", External: true}},
		Groups: []emulator.SeedGroup{{ID: "team", Email: "team@example.com", Members: []string{"bob@example.com", "ext@partner.org"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}},
	}
	em, code, _, text := applyGroupRuleUnderAdmin(t, seed)
	if got := em.Stats().Count("members.create"); code != exitOK || got != 1 {
		t.Fatalf("exit %d, %d creates (want bob@ alone added, ext@partner.org left out before any call)\n%s", code, got, text)
	}
	if !strings.Contains(text, "ext@partner.org is outside identity.domains") || strings.Contains(text, "identity.domains does not list partner.org") {
		t.Errorf("who was left out, and why:\n%s", text)
	}
}

// A group's member in a domain the Directory says is the organisation's
// (one identity.domains leaves out) is one of its users: added, with the
// word to add the domain, as before 10ca652, and as someone a source names
// in that domain is. An outsider stays out (the test above).
func TestARulesInsiderInADomainIdentityDomainsLeavesOutIsAdded(t *testing.T) {
	seed := &emulator.Seed{
		Domains: []string{"example.com", "example.org"},
		Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"},
			{ID: "2", Email: "carol@example.org"}, {ID: "4", Email: "ext@partner.org", External: true}},
		Groups: []emulator.SeedGroup{{ID: "team", Email: "team@example.com", Members: []string{"carol@example.org", "ext@partner.org"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}},
	}
	em, code, out, text := applyGroupRuleUnderAdmin(t, seed)
	if got := em.Stats().Count("members.create"); code != exitOK || got != 1 || !strings.Contains(out, "+ carol@example.org") {
		t.Fatalf("exit %d, %d creates (want carol@example.org added, ext@partner.org left out)\n%s", code, got, text)
	}
	if !strings.Contains(text, "add example.org to identity.domains") || !strings.Contains(text, "ext@partner.org is outside identity.domains") {
		t.Errorf("what the report says:\n%s", text)
	}
}

// applyGroupRuleUnderAdmin applies, under admin access with
// identity.domains [example.com], a source wanting boss@ and the people of
// the seed's team@example.com in spaces/S: the emulator, the exit code,
// stdout, and stdout with the logs.
func applyGroupRuleUnderAdmin(t *testing.T, seed *emulator.Seed) (*emulator.Server, int, string, string) {
	t.Helper()
	em, url := emulatortest.Start(t, seed, emulator.Options{})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "members.csv"), []byte("space,member,role\nspaces/S,boss@example.com,\nspaces/S,group_members:team@example.com,\n"), 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q, use_admin_access: true}\nidentity: {domains: [example.com]}\nlimits: {max_attempts: 2}\n", url)), 0o644)
	code, out, errOut := runCLI(t, "apply", "--config", cfg)
	return em, code, out, out + logText(errOut)
}
