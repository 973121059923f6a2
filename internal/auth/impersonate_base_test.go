package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/auth"
	"github.com/syncer-dev/syncer/internal/auth/authtest"
	"github.com/syncer-dev/syncer/internal/config"
)

// Keyless delegation from a workstation: the runtime's own credentials
// (gcloud's application-default login) refused when refreshed. The
// impersonate package flattens that refusal into text; the run's error
// still says Google's words, not a bare "400".
func TestARefusedRuntimeCredentialSaysWhy(t *testing.T) {
	ts := authtest.Start(t)
	ts.Refuse(400, `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`)
	p := filepath.Join(t.TempDir(), "adc.json")
	os.WriteFile(p, []byte(`{"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"r","token_uri":"`+ts.URL+`/token"}`), 0o600)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", p)
	iam := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("signJwt called without a runtime token") }))
	defer iam.Close()
	u, _ := url.Parse(iam.URL)
	creds, err := auth.New(context.Background(), config.Auth{Mode: "adc", ImpersonateServiceAccount: "s@p.iam.gserviceaccount.com", Subject: "a@example.com"},
		auth.Need{}, auth.Options{Transport: &toLocal{local: u}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = creds.Client.Get(iam.URL)
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") || !strings.Contains(err.Error(), "expired or revoked") {
		t.Errorf("err = %v; want Google's refusal named", err)
	}
}
