package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/auth"
	"github.com/syncer-dev/syncer/internal/auth/authtest"
	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/config"
)

// listAll makes n concurrent list calls through creds and returns their errors.
func listAll(t *testing.T, creds *auth.Credentials, n int, ctx context.Context) []error {
	t.Helper()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"memberships":[]}`))
	}))
	t.Cleanup(api.Close)
	client, err := chatapi.New(context.Background(), chatapi.Options{Endpoint: api.URL + "/", HTTPClient: creds.Client})
	if err != nil {
		t.Fatal(err)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = client.ListPage(ctx, "spaces/S", "")
		}()
	}
	wg.Wait()
	return errs
}

func TestRefusedCredentialsAreFatalAfterOneTokenRequest(t *testing.T) {
	tests := []struct {
		name, body, hint string
		status           int
	}{
		{"delegation not granted", `{"error":"unauthorized_client","error_description":"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."}`,
			"domain-wide delegation is not granted", 401},
		{"wrong subject", `{"error":"invalid_grant","error_description":"Invalid email or User ID"}`, "auth.subject is not a user", 400},
		{"revoked key", `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`, "deleted or revoked", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := authtest.Start(t)
			key, pem := ts.ServiceAccountKey(t, t.TempDir())
			ts.Refuse(tt.status, tt.body)
			creds, err := auth.New(context.Background(), config.Auth{Mode: "service-account", CredentialsFile: key, Subject: "admin@example.com"}, auth.Need{}, auth.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i, err := range listAll(t, creds, 20, context.Background()) {
				if !errors.Is(chatapi.Classify(err), chatapi.ErrFatal) || !strings.Contains(err.Error(), tt.hint) {
					t.Fatalf("call %d: %v; want a fatal error saying %q", i, chatapi.Classify(err), tt.hint)
				}
				if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), pem[40:80]) {
					t.Fatalf("the error quotes the key: %v", err)
				}
			}
			if n := creds.TokenRequests(); n != 1 {
				t.Errorf("%d token requests for 20 calls; a refusal should cost one", n)
			}
		})
	}
}

func TestHangingTokenEndpointIsBoundedAndCancellable(t *testing.T) {
	ts := authtest.Start(t)
	key, _ := ts.ServiceAccountKey(t, t.TempDir())
	ts.Hang()
	creds, err := auth.New(context.Background(), config.Auth{Mode: "service-account", CredentialsFile: key, Subject: "admin@example.com"}, auth.Need{},
		auth.Options{CallTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// A caller whose context ends stops waiting at once.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	errs := listAll(t, creds, 5, ctx)
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Errorf("callers waited %v for a hanging token endpoint past their own deadline", d)
	}
	for _, err := range errs {
		if err == nil {
			t.Fatal("a call succeeded without a token")
		}
	}
	// The fetch itself ends at the call timeout; three such failures in a row end the run.
	var last error
	for i := 0; i < 3; i++ {
		time.Sleep(1100 * time.Millisecond) // past the failed-fetch memory
		last = listAll(t, creds, 1, context.Background())[0]
	}
	if !errors.Is(chatapi.Classify(last), chatapi.ErrFatal) || !strings.Contains(last.Error(), "no access token after 3 tries") {
		t.Errorf("after three timed-out fetches: %v; want fatal", chatapi.Classify(last))
	}
	if n := creds.TokenRequests(); n > 4 {
		t.Errorf("%d token requests", n)
	}
}

func TestBusyTokenEndpointIsRetriedNotFatal(t *testing.T) {
	ts := authtest.Start(t)
	key, _ := ts.ServiceAccountKey(t, t.TempDir())
	ts.Refuse(429, `{"error":"rate_limit_exceeded"}`)
	creds, _ := auth.New(context.Background(), config.Auth{Mode: "service-account", CredentialsFile: key, Subject: "admin@example.com"}, auth.Need{}, auth.Options{})
	err := listAll(t, creds, 1, context.Background())[0]
	if c := chatapi.Classify(err); errors.Is(c, chatapi.ErrFatal) || !chatapi.Retryable(c) {
		t.Errorf("a 429 from the token endpoint: %v; want a transient failure", c)
	}
}
