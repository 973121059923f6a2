package auth_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/auth"
	"github.com/syncer-dev/syncer/internal/auth/authtest"
	"github.com/syncer-dev/syncer/internal/config"
)

// A token request carries a secret (a refresh token and the client secret,
// or a signed assertion): a credentials file whose token URI is http:// on
// another machine is refused before any request, as api.endpoint is. A
// loopback token endpoint (a test's, an emulator's) stays allowed.
func TestCleartextRemoteTokenURIRefused(t *testing.T) {
	ts := authtest.Start(t)
	dir := t.TempDir()
	key, _ := ts.ServiceAccountKey(t, dir)
	client := ts.OAuthClient(t, dir)
	token := filepath.Join(dir, "token.json")
	if err := auth.WriteToken(token, map[string]string{"access_token": "AT", "refresh_token": "RT"}); err != nil {
		t.Fatal(err)
	}
	remote := func(path string) string {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), filepath.Base(path))
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(data), ts.URL, "http://192.0.2.1:9")), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, a := range map[string]config.Auth{
		"service-account": {Mode: "service-account", CredentialsFile: remote(key), Subject: "a@example.com"},
		"app":             {Mode: "app", CredentialsFile: remote(key)},
		"oauth-user":      {Mode: "oauth-user", CredentialsFile: remote(client), TokenFile: token},
		"adc":             {Mode: "adc", Subject: "a@example.com"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", remote(key))
			_, err := auth.New(context.Background(), a, auth.Need{Write: true}, auth.Options{})
			if err == nil || !strings.Contains(err.Error(), "in clear") {
				t.Errorf("%v; want the token URI http://192.0.2.1:9/token refused", err)
			}
			if _, forms := ts.Requests(); len(forms) != 0 {
				t.Errorf("%d token requests", len(forms))
			}
		})
	}
	// Loopback, over http, as the tests' token endpoint is: allowed.
	if _, err := auth.New(context.Background(), config.Auth{Mode: "oauth-user", CredentialsFile: client, TokenFile: token}, auth.Need{}, auth.Options{}); err != nil {
		t.Errorf("loopback token endpoint: %v", err)
	}
}

// validate checks the files offline (CheckFiles): it refuses what a run would.
func TestCheckFilesRefusesACleartextRemoteTokenURI(t *testing.T) {
	ts := authtest.Start(t)
	dir := t.TempDir()
	key, _ := ts.ServiceAccountKey(t, dir)
	client := ts.OAuthClient(t, dir)
	for _, p := range []string{key, client} {
		data, _ := os.ReadFile(p)
		os.WriteFile(p, []byte(strings.ReplaceAll(string(data), ts.URL, "http://192.0.2.1:9")), 0o600)
	}
	for _, a := range []config.Auth{{Mode: "service-account", CredentialsFile: key}, {Mode: "oauth-user", CredentialsFile: client}} {
		if err := auth.CheckFiles(a); err == nil || !strings.Contains(err.Error(), "in clear") {
			t.Errorf("%s: %v; want the token URI refused", a.Mode, err)
		}
	}
}

// An impersonated_service_account ADC file (gcloud auth application-default
// login --impersonate-service-account) carries the user's refresh token and
// client secret in source_credentials, and the libraries send them to its
// token_uri: one there that is http:// on another machine is refused too.
func TestCleartextRemoteTokenURIInSourceCredentialsRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "adc.json")
	doc := `{"type": "impersonated_service_account",
 "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken",
 "delegates": [],
 "source_credentials": {"type": "authorized_user", "client_id": "id.apps.googleusercontent.com", "client_secret": "CS", "refresh_token": "RT", "token_uri": "http://192.0.2.1:9/token"}}`
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", p)
	_, err := auth.New(context.Background(), config.Auth{Mode: "adc"}, auth.Need{Write: true}, auth.Options{})
	if err == nil || !strings.Contains(err.Error(), "in clear") {
		t.Errorf("%v; want source_credentials' token_uri http://192.0.2.1:9/token refused", err)
	}
	// The same file naming Google's token endpoint is taken.
	if err := os.WriteFile(p, []byte(strings.Replace(doc, "http://192.0.2.1:9/token", "https://oauth2.googleapis.com/token", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.New(context.Background(), config.Auth{Mode: "adc"}, auth.Need{Write: true}, auth.Options{}); err != nil && strings.Contains(err.Error(), "in clear") {
		t.Errorf("https token_uri refused: %v", err)
	}
}
