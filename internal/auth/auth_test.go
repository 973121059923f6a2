package auth_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/syncer-dev/syncer/internal/auth"
	"github.com/syncer-dev/syncer/internal/auth/authtest"
	"github.com/syncer-dev/syncer/internal/config"
)

func TestScopesAreTheLeastNeeded(t *testing.T) {
	user := config.Auth{Mode: "service-account", CredentialsFile: "k", Subject: "admin@example.com"}
	tests := []struct {
		name string
		a    config.Auth
		need auth.Need
		want []string
	}{
		{"plan", user, auth.Need{}, []string{auth.ScopeMembershipsRead, auth.ScopeSpacesRead}},
		{"apply", user, auth.Need{Write: true}, []string{auth.ScopeMemberships, auth.ScopeSpacesRead}},
		{"admin plan", user, auth.Need{Admin: true}, []string{auth.ScopeAdminMembershipsRead, auth.ScopeAdminSpacesRead}},
		{"admin apply", user, auth.Need{Write: true, Admin: true}, []string{auth.ScopeAdminMemberships, auth.ScopeAdminSpacesRead}},
		{"apply adding the app", user, auth.Need{Write: true, App: true}, []string{auth.ScopeMemberships, auth.ScopeSpacesRead, auth.ScopeMembershipsApp}},
		{"plan with the app named", user, auth.Need{App: true}, []string{auth.ScopeMembershipsRead, auth.ScopeSpacesRead}},
		{"apply with directory", user, auth.Need{Write: true, Directory: true}, []string{auth.ScopeMemberships, auth.ScopeSpacesRead, auth.ScopeDirectoryRead}},
		{"service account without subject is app auth", config.Auth{Mode: "service-account"}, auth.Need{Write: true}, []string{auth.ScopeBot, auth.ScopeAppMemberships}},
		{"app plan", config.Auth{Mode: "app"}, auth.Need{}, []string{auth.ScopeBot}},
		{"none", config.Auth{Mode: "none"}, auth.Need{Write: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := auth.Scopes(tt.a, tt.need); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestServiceAccountTokenCarriesScopeAndSubject(t *testing.T) {
	ts := authtest.Start(t)
	key, _ := ts.ServiceAccountKey(t, t.TempDir())
	for _, tc := range []struct {
		name, subject, scope string
		need                 auth.Need
	}{
		{"domain-wide delegation, apply", "admin@example.com", auth.ScopeMemberships + " " + auth.ScopeSpacesRead, auth.Need{Write: true}},
		{"domain-wide delegation, plan", "admin@example.com", auth.ScopeMembershipsRead + " " + auth.ScopeSpacesRead, auth.Need{}},
		{"app", "", auth.ScopeBot + " " + auth.ScopeAppMemberships, auth.Need{Write: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			creds, err := auth.New(context.Background(), config.Auth{Mode: "service-account", CredentialsFile: key, Subject: tc.subject}, tc.need, auth.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := authorization(t, creds.Client); got != "Bearer "+authtest.AccessToken {
				t.Errorf("Authorization %q", got)
			}
			claims, _ := ts.Requests()
			last := claims[len(claims)-1]
			if last["scope"] != tc.scope || (tc.subject == "" && last["sub"] != nil) || (tc.subject != "" && last["sub"] != tc.subject) {
				t.Errorf("JWT claims %v; want scope %s, sub %q", last, tc.scope, tc.subject)
			}
			if creds.UserAuth != (tc.subject != "") {
				t.Errorf("UserAuth = %v", creds.UserAuth)
			}
		})
	}
}

func TestKeyFileErrorsNameTheFileNotTheKey(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "client.json")
	os.WriteFile(p, []byte(`{"installed":{"client_secret":"s3cr3t-value"}}`), 0o600)
	_, err := auth.New(context.Background(), config.Auth{Mode: "service-account", CredentialsFile: p}, auth.Need{}, auth.Options{})
	if err == nil || !strings.Contains(err.Error(), "is not a service account key") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("err = %v", err)
	}
}

func TestTokenFilePermissions(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "token.json")
	if err := auth.WriteToken(p, &oauth2.Token{AccessToken: "a", RefreshToken: "r"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %#o, want 0600", st.Mode().Perm())
	}
	if _, err := auth.ReadToken(p); err != nil {
		t.Errorf("read a 0600 token: %v", err)
	}
	os.Chmod(p, 0o644)
	if _, err := auth.ReadToken(p); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("a 0644 token file was read: %v", err)
	}
}

func TestLoginStoresARefreshTokenAndUsesIt(t *testing.T) {
	ts := authtest.Start(t)
	dir := t.TempDir()
	a := config.Auth{Mode: "oauth-user", CredentialsFile: ts.OAuthClient(t, dir), TokenFile: filepath.Join(dir, "token.json")}
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- auth.Login(context.Background(), a, auth.Scopes(a, auth.Need{Write: true}), pw)
		pw.Close()
	}()

	// Play the browser: read the consent URL, answer at its redirect_uri.
	sc := bufio.NewScanner(pr)
	var consent *url.URL
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "http") {
			consent, _ = url.Parse(line)
			break
		}
	}
	go io.Copy(io.Discard, pr)
	q := consent.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("access_type") != "offline" || q.Get("scope") != auth.ScopeMemberships+" "+auth.ScopeSpacesRead+" openid email" {
		t.Errorf("consent URL %s", consent)
	}
	resp, err := http.Get(q.Get("redirect_uri") + "?state=" + q.Get("state") + "&code=the-code")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The code is exchanged after the page is shown: it can't say the
	// login worked (the exchange may yet fail).
	if !strings.Contains(string(page), "the terminal says whether the login finished") {
		t.Errorf("the browser was told %q", page)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	_, forms := ts.Requests()
	if f := forms[len(forms)-1]; f["code"] != "the-code" || f["code_verifier"] == "" {
		t.Errorf("exchange form %v: want the code and a PKCE verifier", f)
	}
	creds, err := auth.New(context.Background(), a, auth.Need{Write: true}, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := authorization(t, creds.Client); got != "Bearer "+authtest.AccessToken {
		t.Errorf("a call with the stored token sent Authorization %q", got)
	}
	if email, err := auth.ActingEmail(a); err != nil || email != authtest.UserEmail {
		t.Errorf("the token file says the user is %q (%v), want %q from the ID token", email, err, authtest.UserEmail)
	}
}

func TestApplicationDefaultCredentials(t *testing.T) {
	ts := authtest.Start(t)
	key, _ := ts.ServiceAccountKey(t, t.TempDir())
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", key)
	creds, err := auth.New(context.Background(), config.Auth{Mode: "adc", Subject: "admin@example.com"}, auth.Need{Write: true}, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := authorization(t, creds.Client); got != "Bearer "+authtest.AccessToken {
		t.Errorf("Authorization %q", got)
	}
	claims, _ := ts.Requests()
	if len(claims) != 1 || claims[0]["scope"] != auth.ScopeMemberships+" "+auth.ScopeSpacesRead || claims[0]["sub"] != "admin@example.com" {
		t.Errorf("JWT claims %v", claims)
	}
	if !strings.Contains(creds.ActingAs, "admin@example.com (impersonated by syncer@syncer-test.iam.gserviceaccount.com)") {
		t.Errorf("acting as %q", creds.ActingAs)
	}

	// Default credentials that are not a service account key can't carry a
	// subject by themselves: keyless delegation needs impersonation.
	user := filepath.Join(t.TempDir(), "adc.json")
	os.WriteFile(user, []byte(`{"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"r"}`), 0o600)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", user)
	_, err = auth.New(context.Background(), config.Auth{Mode: "adc", Subject: "admin@example.com"}, auth.Need{}, auth.Options{})
	if err == nil || !strings.Contains(err.Error(), "needs auth.impersonate_service_account") {
		t.Errorf("err = %v", err)
	}
}

func TestKeyFilePermissions(t *testing.T) {
	ts := authtest.Start(t)
	key, _ := ts.ServiceAccountKey(t, t.TempDir())
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o600, true}, {0o400, true}, {0o640, true}, {0o440, true}, {0o644, false}, {0o604, false}, {0o660, false}, {0o666, false}} {
		os.Chmod(key, tc.mode)
		_, err := auth.New(context.Background(), config.Auth{Mode: "service-account", CredentialsFile: key, Subject: "a@example.com"}, auth.Need{}, auth.Options{})
		if (err == nil) != tc.ok {
			t.Errorf("key mode %#o: err = %v; want accepted %v", tc.mode, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "by others") {
			t.Errorf("key mode %#o: %v", tc.mode, err)
		}
	}
	// A Kubernetes Secret is a symlink: the target's mode is what counts.
	os.Chmod(key, 0o440)
	link := filepath.Join(t.TempDir(), "key.json")
	os.Symlink(key, link)
	if err := auth.CheckFiles(config.Auth{Mode: "service-account", CredentialsFile: link, Subject: "a@example.com"}); err != nil {
		t.Errorf("a symlink to a 0440 key: %v", err)
	}
}

func TestDamagedKeyIsFoundOffline(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key.json")
	os.WriteFile(p, []byte(`{"type":"service_account","client_email":"x@y.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"}`), 0o600)
	err := auth.CheckFiles(config.Auth{Mode: "service-account", CredentialsFile: p, Subject: "a@example.com"})
	if err == nil || !strings.Contains(err.Error(), "does not parse as a private key") || strings.Contains(err.Error(), "bm90") {
		t.Errorf("err = %v", err)
	}
}
