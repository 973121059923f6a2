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
