package auth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/auth"
	"github.com/syncer-dev/syncer/internal/auth/authtest"
	"github.com/syncer-dev/syncer/internal/config"
)

// toLocal sends the requests for Google's IAM Credentials and OAuth hosts,
// which the impersonate package names itself, to a local server instead,
// and counts them.
type toLocal struct {
	local *url.URL
	n     atomic.Int64
}

func (t *toLocal) RoundTrip(req *http.Request) (*http.Response, error) {
	if h := req.URL.Host; h == "iamcredentials.googleapis.com" || h == "oauth2.googleapis.com" {
		t.n.Add(1)
		r := req.Clone(req.Context())
		r.URL.Scheme, r.URL.Host, r.Host = t.local.Scheme, t.local.Host, ""
		return http.DefaultTransport.RoundTrip(r)
	}
	return http.DefaultTransport.RoundTrip(req)
}

// Keyless delegation (adc + impersonate_service_account) makes its token
// requests (IAM signJwt, then the token exchange) through a client of the
// impersonate package's own: they too must go through Options.Transport,
// end at the call timeout, follow no redirect, and be classified as the
// other token requests are.
func TestImpersonationTokenRequestsAreBoundedLikeTheOthers(t *testing.T) {
	const disabled = `{"error": {"code": 403, "message": "IAM Service Account Credentials API has not been used in project 123456789012 before or it is disabled.", "status": "PERMISSION_DENIED"}}`
	tests := []struct {
		name    string
		iam     http.HandlerFunc
		want    string
		fatal   bool
		maxWait time.Duration
	}{
		{"signJwt hangs", func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body); <-r.Context().Done() },
			"did not answer within the call timeout", false, 2 * time.Second},
		{"signJwt redirects", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://elsewhere.example/", http.StatusTemporaryRedirect)
		},
			"redirect: not followed", true, 2 * time.Second},
		{"the IAM Credentials API is off", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(403); w.Write([]byte(disabled)) },
			"iamcredentials.googleapis.com) is not enabled", true, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := authtest.Start(t)
			key, _ := ts.ServiceAccountKey(t, t.TempDir())
			t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", key) // the runtime's own identity
			done := make(chan struct{})
			iam := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-done:
					return
				default:
				}
				tt.iam(w, r)
			}))
			defer iam.Close()
			defer close(done)
			u, _ := url.Parse(iam.URL)
			rt := &toLocal{local: u}
			creds, err := auth.New(context.Background(), config.Auth{Mode: "adc", ImpersonateServiceAccount: "syncer@p.iam.gserviceaccount.com", Subject: "admin@example.com"},
				auth.Need{}, auth.Options{Transport: rt, CallTimeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", iam.URL+"/api", nil)
			start := time.Now()
			resp, err := creds.Client.Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatal("a call succeeded without a token")
			}
			if d := time.Since(start); d > tt.maxWait {
				t.Errorf("the token fetch took %v; the call timeout is 300ms", d)
			}
			if rt.n.Load() == 0 {
				t.Errorf("no impersonation request went through Options.Transport")
			}
			var te *auth.TokenError
			if !errors.As(err, &te) || te.Fatal() != tt.fatal || !strings.Contains(te.Error(), tt.want) {
				t.Errorf("err = %v; want a token error (fatal %v) saying %q", err, tt.fatal, tt.want)
			}
		})
	}
}
