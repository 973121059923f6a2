package auth_test

// Token endpoints that answer oddly: tokens that expire as they are given,
// and refusals that quote what was sent.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/auth"
	"github.com/syncer-dev/syncer/internal/auth/authtest"
	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/config"
)

// tokenEndpoint starts a token endpoint answering with h, and writes a
// service-account key and an OAuth client with a token file pointing at
// it; hits counts its requests.
func tokenEndpoint(t *testing.T, h http.HandlerFunc) (key, client, token string, hits *atomic.Int64) {
	hits = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1); h(w, r) }))
	t.Cleanup(srv.Close)
	ts := &authtest.TokenServer{URL: srv.URL}
	dir := t.TempDir()
	key, _ = ts.ServiceAccountKey(t, dir)
	client = ts.OAuthClient(t, dir)
	token = filepath.Join(dir, "token.json")
	data, _ := json.Marshal(map[string]any{"access_token": "", "refresh_token": authtest.RefreshToken, "email": "u@example.com"})
	os.WriteFile(token, data, 0o600)
	return key, client, token, hits
}

// callOnce makes one API call through creds within a second.
func callOnce(t *testing.T, creds *auth.Credentials) error {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer api.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", api.URL, nil)
	resp, err := creds.Client.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return err
}

// oauth2 counts a token expired 10 s early: one that lives 5 s was never
// valid, and one call asked the token endpoint hundreds of times. A token
// that has expired as given (expires_in 0, negative, out of range) is a
// failed fetch, and the failures are bounded.
func TestShortLivedTokensAreNotFetchedWithoutEnd(t *testing.T) {
	for _, tt := range []struct {
		expiresIn string
		mode      string
		works     bool
	}{
		{"5", "service-account", true},
		{"5", "oauth-user", true},
		{"0", "service-account", true}, // oauth2 reads 0 as "no expiry given"
		{"-100", "oauth-user", false},
		{"9223372036854775807", "service-account", false},
	} {
		t.Run(tt.mode+" "+tt.expiresIn, func(t *testing.T) {
			key, client, tok, hits := tokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"access_token":"ya29.x","token_type":"Bearer","expires_in":%s}`, tt.expiresIn)
			})
			a := config.Auth{Mode: "service-account", CredentialsFile: key, Subject: "admin@example.com"}
			if tt.mode == "oauth-user" {
				a = config.Auth{Mode: "oauth-user", CredentialsFile: client, TokenFile: tok}
			}
			creds, err := auth.New(context.Background(), a, auth.Need{}, auth.Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = callOnce(t, creds)
			if hits.Load() > 3 {
				t.Errorf("one API call made %d token requests", hits.Load())
			}
			if tt.works && err != nil || !tt.works && (err == nil || !strings.Contains(err.Error(), "already expired")) {
				t.Errorf("the call: %v", err)
			}
		})
	}
}

// A token endpoint whose refusal quotes the refresh token or the signed
// assertion it was sent: the error (which reaches logs, reports and serve's
// /readyz) does not.
func TestARefusalQuotingTheSecretDoesNotPassItOn(t *testing.T) {
	var sent atomic.Value
	key, client, tok, _ := tokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		secret := r.PostForm.Get("refresh_token") + r.PostForm.Get("assertion")
		sent.Store(secret)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"error":"invalid_grant %s","error_description":"Token %s has been expired or revoked."}`, secret, secret)
	})
	for _, a := range []config.Auth{
		{Mode: "oauth-user", CredentialsFile: client, TokenFile: tok},
		{Mode: "service-account", CredentialsFile: key, Subject: "admin@example.com"},
	} {
		creds, err := auth.New(context.Background(), a, auth.Need{}, auth.Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = callOnce(t, creds)
		secret, _ := sent.Load().(string)
		if err == nil || secret == "" || !strings.Contains(err.Error(), "authentication refused: 400") {
			t.Fatalf("%s: %v (sent %q)", a.Mode, err, secret)
		}
		for _, part := range []string{secret, secret[:20], secret[len(secret)-20:]} {
			if strings.Contains(err.Error(), part) {
				t.Errorf("%s: the error quotes what was sent: %v", a.Mode, err)
				break
			}
		}
	}
}

// An API answer redirecting to another host: the transport puts the access
// token on every request it carries, so the redirect is not followed.
func TestTheAccessTokenIsNotSentToAnotherHost(t *testing.T) {
	ts := authtest.Start(t)
	key, _ := ts.ServiceAccountKey(t, t.TempDir())
	var received atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"memberships":[]}`))
	}))
	defer other.Close()
	// 127.0.0.1 and localhost are different hosts to net/http.
	otherURL := "http://localhost:" + strings.TrimPrefix(other.URL, "http://127.0.0.1:")
	var sameHostToo atomic.Bool
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("moved") == "" {
			sameHostToo.Store(true)
			http.Redirect(w, r, r.URL.Path+"?moved=1", http.StatusFound) // same host: followed
			return
		}
		http.Redirect(w, r, otherURL+r.URL.Path, http.StatusFound)
	}))
	defer api.Close()
	creds, err := auth.New(context.Background(), config.Auth{Mode: "service-account", CredentialsFile: key, Subject: "a@example.com"}, auth.Need{}, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	client, err := chatapi.New(context.Background(), chatapi.Options{Endpoint: api.URL + "/", HTTPClient: creds.Client})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = client.ListPage(context.Background(), "spaces/S", "")
	if got, _ := received.Load().(string); got != "" || err == nil || !strings.Contains(err.Error(), "not followed, so the access token is not sent there") || !sameHostToo.Load() {
		t.Errorf("the other host received %q; the list: %v", got, err)
	}
	// Every call goes to that host: the run stops rather than retrying each.
	if !errors.Is(err, chatapi.ErrFatal) {
		t.Errorf("a redirect to another host is not fatal: %v", err)
	}
}

// auth login's code exchange is one call, with a deadline: a token
// endpoint that never answers after the consent does not keep it waiting.
func TestLoginsExchangeHasADeadline(t *testing.T) {
	defer auth.SetExchangeTimeout(time.Second)()
	ts := authtest.Start(t)
	dir := t.TempDir()
	client := ts.OAuthClient(t, dir)
	ts.Hang()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- auth.Login(context.Background(), config.Auth{Mode: "oauth-user", CredentialsFile: client, TokenFile: filepath.Join(dir, "token.json")}, []string{auth.ScopeMemberships}, pw)
	}()
	sc := bufio.NewScanner(pr)
	var consent string
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "http") {
			consent = l
			break
		}
	}
	go io.Copy(io.Discard, pr)
	u, err := url.Parse(consent)
	if err != nil || consent == "" {
		t.Fatalf("no consent URL printed: %q", consent)
	}
	resp, err := http.Get(u.Query().Get("redirect_uri") + "?code=abc&state=" + u.Query().Get("state"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "exchange the code") {
			t.Errorf("login: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("auth login still waiting on the token endpoint after 15 s")
	}
}

// oauth2 reads an error code in a 200 answer as a failure: that text is
// the server's too, and is scrubbed the same way. URLs in a refusal stay
// readable (Google names an invalid scope by its URL).
func TestTokenEndpointTextIsScrubbedWhateverItsStatus(t *testing.T) {
	var sent atomic.Value
	_, client, tok, _ := tokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		sent.Store(r.PostForm.Get("refresh_token"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"Token %s has been expired or revoked."}`, r.PostForm.Get("refresh_token"))
	})
	creds, err := auth.New(context.Background(), config.Auth{Mode: "oauth-user", CredentialsFile: client, TokenFile: tok}, auth.Need{}, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		err := callOnce(t, creds)
		secret, _ := sent.Load().(string)
		if err == nil || secret == "" || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), secret[3:20]) {
			t.Fatalf("call %d: %v (sent %q)", i+1, err, secret)
		}
	}

	_, client, tok, _ = tokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		fmt.Fprint(w, `{"error":"invalid_scope","error_description":"Some requested scopes were invalid. {invalid=[https://www.googleapis.com/auth/chat.memberships]}"}`)
	})
	creds, err = auth.New(context.Background(), config.Auth{Mode: "oauth-user", CredentialsFile: client, TokenFile: tok}, auth.Need{}, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := callOnce(t, creds); err == nil || !strings.Contains(err.Error(), "https://www.googleapis.com/auth/chat.memberships") {
		t.Errorf("an invalid scope's refusal: %v", err)
	}
}

// A token endpoint that redirects (307, 308: Go's client would post the
// same form again) to another host: the refresh token, the client secret
// or the signed assertion never reaches it, and the run is told why.
func TestATokenEndpointsRedirectIsNotFollowed(t *testing.T) {
	var got atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
		w.WriteHeader(500)
	}))
	defer other.Close()
	otherURL := "http://localhost:" + strings.TrimPrefix(other.URL, "http://127.0.0.1:")
	for _, code := range []int{307, 308} {
		key, client, tok, _ := tokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, otherURL+"/token", code)
		})
		for _, a := range []config.Auth{
			{Mode: "oauth-user", CredentialsFile: client, TokenFile: tok},
			{Mode: "service-account", CredentialsFile: key, Subject: "admin@example.com"},
		} {
			got.Store("")
			creds, err := auth.New(context.Background(), a, auth.Need{}, auth.Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = callOnce(t, creds)
			if body, _ := got.Load().(string); body != "" || err == nil || !strings.Contains(err.Error(), "a redirect: not followed") {
				t.Errorf("%d %s: the other host received %q; the call: %v", code, a.Mode, body, err)
			}
		}
	}
}

// A token endpoint answering a whole page (a 302 with no Location, or a
// 200 whose error_description is 800 KB): the message that reaches logs,
// reports and /readyz is a few hundred bytes.
func TestATokenEndpointsLongAnswerIsCut(t *testing.T) {
	for _, status := range []int{302, 200} {
		_, client, tok, _ := tokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			if status == 200 {
				fmt.Fprintf(w, `{"error":"server_error","error_description":"%s"}`, strings.Repeat("<p>Service Unavailable </p>", 30000))
				return
			}
			fmt.Fprint(w, "<html>"+strings.Repeat("<p>Service Unavailable, request id abc</p>\n", 30000)+"</html>")
		})
		creds, err := auth.New(context.Background(), config.Auth{Mode: "oauth-user", CredentialsFile: client, TokenFile: tok}, auth.Need{}, auth.Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = callOnce(t, creds)
		if err == nil || len(err.Error()) > 1000 || len(chatapi.Classify(err).Error()) > 1000 {
			t.Errorf("%d: the error is %d bytes", status, len(fmt.Sprint(err)))
		}
	}
}

// An API (or a proxy before it) that quotes the Authorization header in
// its error: the access token stays out of the error's text.
func TestAnAPIErrorQuotingTheAccessTokenIsScrubbed(t *testing.T) {
	ts := authtest.Start(t)
	key, _ := ts.ServiceAccountKey(t, t.TempDir())
	for _, code := range []int{400, 401, 403, 404, 500} {
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			fmt.Fprintf(w, `{"error":{"code":%d,"message":"Request had invalid authentication credentials: %s","status":"X"}}`, code, r.Header.Get("Authorization"))
		}))
		creds, err := auth.New(context.Background(), config.Auth{Mode: "service-account", CredentialsFile: key, Subject: "a@example.com"}, auth.Need{}, auth.Options{})
		if err != nil {
			t.Fatal(err)
		}
		client, err := chatapi.New(context.Background(), chatapi.Options{Endpoint: api.URL + "/", HTTPClient: creds.Client})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = client.ListPage(context.Background(), "spaces/S", "")
		api.Close()
		if err == nil || strings.Contains(err.Error(), authtest.AccessToken) || !strings.Contains(err.Error(), "invalid authentication credentials") {
			t.Errorf("%d: %v", code, err)
		}
	}
}

// A token endpoint that answers its refusal with 200 (a proxy, a
// non-Google endpoint): the service-account flow's library reads that as
// a token without an access token. The run is told what the endpoint said
// and stops at the first answer, as for the same refusal sent as a 400;
// it is not told of a token that "has already expired" three times over.
func TestARefusalAnsweredWith200IsARefusal(t *testing.T) {
	key, _, _, hits := tokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"error":"invalid_grant","error_description":"Invalid email or User ID"}`)
	})
	creds, err := auth.New(context.Background(), config.Auth{Mode: "service-account", CredentialsFile: key, Subject: "admin@example.com"}, auth.Need{}, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		err = callOnce(t, creds)
	}
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") || !strings.Contains(err.Error(), "auth.subject is not a user") || strings.Contains(err.Error(), "expired") {
		t.Errorf("the call: %v", err)
	}
	if !errors.Is(chatapi.Classify(err), chatapi.ErrFatal) || hits.Load() != 1 {
		t.Errorf("%d token requests, fatal %v; want the first refusal to stop the run", hits.Load(), errors.Is(chatapi.Classify(err), chatapi.ErrFatal))
	}
}
