package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The refusal of a real auth mode against an http:// endpoint on another
// machine holds on every path that sends the token, not only plan, apply
// and validate: auth check and export (and serve's readiness read) call
// the endpoint with it too.
func TestCleartextRemoteEndpointRefusedOnEveryPath(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("m.csv", "space,member\nspaces/A,a@example.com\n")
	write("client.json", `{"installed":{"client_id":"c.apps.googleusercontent.com","client_secret":"s","auth_uri":"https://accounts.google.com/o/oauth2/auth","token_uri":"https://oauth2.googleapis.com/token","redirect_uris":["http://localhost"]}}`)
	write("token.json", `{"access_token":"AT-SECRET","token_type":"Bearer","refresh_token":"RT","expiry":"2099-01-01T00:00:00Z","email":"a@example.com"}`)
	cfg := write("config.yaml", "sources: [{path: m.csv}]\napi: {endpoint: \"http://chat-proxy.invalid:8080/\"}\nauth: {mode: oauth-user, credentials_file: client.json, token_file: token.json}\nidentity: {directory: false}\n")
	for _, args := range [][]string{
		{"auth", "check", "--config", cfg},
		{"export", "--config", cfg, "--out", filepath.Join(dir, "out.csv")},
	} {
		code, stdout, stderr := runCLI(t, args...)
		if code != exitInvalid || !strings.Contains(stderr, "in clear") {
			t.Errorf("syncer %s: exit %d, want 3 refusing the cleartext endpoint:\n%s%s", strings.Join(args[:2], " "), code, stdout, stderr)
		}
	}
	if err := checkReady(context.Background(), runFlags{config: cfg}); err == nil || !strings.Contains(err.Error(), "in clear") {
		t.Errorf("serve's readiness read: %v; want the cleartext endpoint refused", err)
	}
}
