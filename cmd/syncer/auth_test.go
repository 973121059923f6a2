package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/auth"
	"github.com/syncer-dev/syncer/internal/auth/authtest"
	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/membership"
)

// authSetup is setup() with the emulator demanding the token endpoint's token.
func authSetup(t *testing.T, authYAML string, csv string) (*emulator.Server, string, *authtest.TokenServer, string) {
	t.Helper()
	ts := authtest.Start(t)
	em, cfg := setup(t, 3, emulator.Options{RequireToken: authtest.AccessToken}, "max_attempts: 2")
	dir := filepath.Dir(cfg)
	key, pem := ts.ServiceAccountKey(t, dir)
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(data, []byte(fmt.Sprintf(authYAML, key))...), 0o644)
	if csv != "" {
		os.WriteFile(filepath.Join(dir, "members.csv"), []byte(csv), 0o644)
	}
	return em, cfg, ts, pem
}

func TestServiceAccountRunAgainstATokenCheckingEmulator(t *testing.T) {
	em, cfg, ts, pem := authSetup(t, "auth: {mode: service-account, credentials_file: %q, subject: admin@example.com}\n", "")
	code, out, errOut := runCLI(t, "apply", "--config", cfg, "--log-level", "debug")
	if code != exitOK || !strings.Contains(out, "Applied: 3 applied") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	claims, _ := ts.Requests()
	scopes := map[any]int{}
	for _, c := range claims {
		scopes[c["scope"]]++
		if c["sub"] != "admin@example.com" {
			t.Errorf("token request for %v", c)
		}
	}
	// One token for Chat with the write scope alone; the three unknown emails
	// needed the Directory, which got its own read-only token.
	if scopes[auth.ScopeMemberships+" "+auth.ScopeSpacesRead] != 1 || scopes[auth.ScopeDirectoryRead] != 1 || len(claims) != 2 {
		t.Errorf("token requests %v", claims)
	}
	if st := em.Stats(); st.Requests["members.create 401"] != 0 || st.Count("members.create") != 3 {
		t.Errorf("requests %v", st.Requests)
	}
	// Secrets never reach logs or reports, even at debug level.
	body := strings.SplitN(strings.TrimSpace(strings.SplitN(pem, "\n", 3)[1]), "\n", 2)[0]
	for _, secret := range []string{authtest.AccessToken, body, "PRIVATE KEY"} {
		if strings.Contains(out+errOut, secret) {
			t.Errorf("output contains a secret (%.12s...)", secret)
		}
	}
	if !strings.Contains(errOut, `"acting_as":"admin@example.com (impersonated by syncer@syncer-test.iam.gserviceaccount.com)"`) {
		t.Errorf("debug log does not say who the syncer acts as:\n%s", errOut)
	}
	before := len(claims)
	code, out, _ = runCLI(t, "plan", "--config", cfg)
	claims, _ = ts.Requests()
	// Converged, and the list carries every email: no Directory token at all.
	if !strings.Contains(out, "Plan: 0 to add, 0 to change, 0 to remove.") {
		t.Errorf("plan after apply is not converged:\n%s", out)
	}
	if code != exitOK || len(claims) != before+1 || claims[before]["scope"] != auth.ScopeMembershipsRead+" "+auth.ScopeSpacesRead {
		t.Errorf("plan's token requests %v (exit %d), want one with the read-only Chat scope", claims[before:], code)
	}
}

func TestWithoutATokenTheEmulatorRefuses(t *testing.T) {
	_, cfg, _, _ := authSetup(t, "# key %q unused\n", "")
	code, out, _ := runCLI(t, "plan", "--config", cfg)
	if code != exitFailure || !strings.Contains(out, "401 UNAUTHENTICATED") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestAppAuthRefusesGroupsBeforeAnyCall(t *testing.T) {
	em, cfg, _, _ := authSetup(t, "auth: {mode: app, credentials_file: %q}\n", "space,member,role\nspaces/S,u0@example.com,\nspaces/S,groups/eng,\n")
	code, _, errOut := runCLI(t, "apply", "--config", cfg)
	if code != exitInvalid || !strings.Contains(errOut, "members.csv:3:10: groups/eng in spaces/S: Chat app authentication can't manage Google Group memberships") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
	if n := em.Stats().Total(); n != 0 {
		t.Errorf("%d requests reached the emulator", n)
	}
}

func TestAuthCheck(t *testing.T) {
	_, cfg, _, _ := authSetup(t, "auth: {mode: service-account, credentials_file: %q, subject: admin@example.com}\n", "")
	code, out, errOut := runCLI(t, "auth", "check", "--config", cfg)
	for _, want := range []string{"Mode:       service-account", "Acting as:  admin@example.com", "Scopes for plan:  " + auth.ScopeMembershipsRead + " " + auth.ScopeSpacesRead,
		"Scopes for apply: " + auth.ScopeMemberships + " " + auth.ScopeSpacesRead, "Read check: spaces.get spaces/S ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("auth check output lacks %q:\n%s%s", want, out, errOut)
		}
	}
	if code != exitOK {
		t.Errorf("exit %d", code)
	}
}

// auth check prints the scopes plan and apply request on Chat's token and
// tries its read with them. It built that token with the Directory's scope
// too (a run asks for it on a token of its own) and without
// chat.memberships.app where a source names the app: it printed scopes no
// run asks for together, left out one apply does, and its read check
// could be refused where a run's is not (a delegation without the
// Directory scope).
func TestAuthCheckPrintsTheScopesARunRequests(t *testing.T) {
	_, cfg, ts, _ := authSetup(t, "auth: {mode: service-account, credentials_file: %q, subject: admin@example.com}\n",
		"space,member,role\nspaces/S,u0@example.com,\nspaces/S,app,\n")
	code, out, errOut := runCLI(t, "auth", "check", "--config", cfg)
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			lines[k] = strings.TrimSpace(v)
		}
	}
	if want := auth.ScopeMembershipsRead + " " + auth.ScopeSpacesRead; lines["Scopes for plan"] != want {
		t.Errorf("Scopes for plan: %q, want %q", lines["Scopes for plan"], want)
	}
	if want := auth.ScopeMemberships + " " + auth.ScopeSpacesRead + " " + auth.ScopeMembershipsApp; lines["Scopes for apply"] != want {
		t.Errorf("Scopes for apply: %q, want %q", lines["Scopes for apply"], want)
	}
	claims, _ := ts.Requests()
	if len(claims) != 1 || claims[0]["scope"] != auth.ScopeMembershipsRead+" "+auth.ScopeSpacesRead {
		t.Errorf("the read check's token requests %v, want one with plan's Chat scopes", claims)
	}
	if code != exitOK {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}

// auth login's consent is the only one an oauth-user run's tokens come
// from (a refresh adds no scope), and it left out chat.memberships.app
// where a source names the app: apply's create of the app's membership
// then failed for want of the scope the README says it asks for.
func TestAuthLoginAsksForTheAppScopeWhenASourceNamesTheApp(t *testing.T) {
	cfg := &config.Config{Auth: config.Auth{Mode: "oauth-user"}, Policy: config.PolicyUpsert, Identity: config.Identity{Directory: true}}
	withApp := membership.Desired{Spaces: []membership.DesiredSpace{{Members: []membership.DesiredMember{{Principal: membership.App}}}}}
	if got := loginScopes(cfg, withApp); !slices.Contains(got, auth.ScopeMembershipsApp) || !slices.Contains(got, auth.ScopeMemberships) {
		t.Errorf("a source names the app: login asks for %v, want %s among them", got, auth.ScopeMembershipsApp)
	}
	if got := loginScopes(cfg, membership.Desired{}); slices.Contains(got, auth.ScopeMembershipsApp) {
		t.Errorf("no source names the app: login asks for %v", got)
	}
}
