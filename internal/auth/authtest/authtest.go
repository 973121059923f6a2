// Package authtest serves a local OAuth token endpoint and writes service
// account keys that point at it, so auth can be tested without Google.
package authtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// AccessToken is what the token endpoint hands out.
const AccessToken = "ya29.test-access-token-5d41402abc4b2a76"

// UserEmail is the email in the ID token the code exchange hands out.
const UserEmail = "someone@example.com"

// RefreshToken is what the code exchange hands out.
const RefreshToken = "1//test-refresh-token-7d793037a076"

// TokenServer records every token request.
type TokenServer struct {
	URL string
	mu  sync.Mutex
	// Claims are the decoded JWT-bearer assertions' claims.
	Claims []map[string]any
	// Forms are every request's form values.
	Forms []map[string]string
	// answer, when set, replaces the token answer: a status and a body, or
	// a hang until the request is abandoned.
	status int
	body   string
	hang   bool
	// refusedScope: requests for a scope list holding it get status and
	// body (scopeStatus, scopeBody), the others a token.
	refusedScope string
	scopeStatus  int
	scopeBody    string
	// ended is closed when the test ends: a hung request returns then,
	// so a client that never gives up fails its test instead of hanging
	// the server's Close.
	ended chan struct{}
}

// RefuseScope makes every later token request whose assertion asks for
// scope answer status with body, as Google's token endpoint does for a
// scope domain-wide delegation does not grant; others get a token.
func (ts *TokenServer) RefuseScope(scope string, status int, body string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.refusedScope, ts.scopeStatus, ts.scopeBody = scope, status, body
}

// Refuse makes every later token request answer status with body.
func (ts *TokenServer) Refuse(status int, body string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.status, ts.body = status, body
}

// Hang makes every later token request wait until the client gives up
// (or the test ends).
func (ts *TokenServer) Hang() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.hang = true
}

// Start serves a token endpoint at URL+"/token".
func Start(t testing.TB) *TokenServer {
	ts := &TokenServer{ended: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		form := map[string]string{}
		for k := range r.PostForm {
			form[k] = r.PostForm.Get(k)
		}
		ts.mu.Lock()
		ts.Forms = append(ts.Forms, form)
		scopes := ""
		if a := form["assertion"]; a != "" {
			parts := strings.Split(a, ".")
			if len(parts) == 3 {
				payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
				var claims map[string]any
				json.Unmarshal(payload, &claims)
				ts.Claims = append(ts.Claims, claims)
				scopes, _ = claims["scope"].(string)
			}
		}
		status, body, hang := ts.status, ts.body, ts.hang
		if ts.refusedScope != "" && slices.Contains(strings.Fields(scopes), ts.refusedScope) {
			status, body = ts.scopeStatus, ts.scopeBody
		}
		ts.mu.Unlock()
		if hang {
			select {
			case <-r.Context().Done():
			case <-ts.ended:
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if status != 0 {
			w.WriteHeader(status)
			w.Write([]byte(body))
			return
		}
		resp := map[string]any{"access_token": AccessToken, "token_type": "Bearer", "expires_in": 3600}
		if form["grant_type"] == "authorization_code" {
			resp["refresh_token"] = RefreshToken
			claims, _ := json.Marshal(map[string]string{"email": UserEmail, "sub": "110"})
			resp["id_token"] = "e30." + base64.RawURLEncoding.EncodeToString(claims) + ".c2ln"
		}
		json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(ts.ended) }) // runs first: cleanups run last-in first-out
	ts.URL = srv.URL
	return ts
}

// Requests returns copies of what was recorded.
func (ts *TokenServer) Requests() ([]map[string]any, []map[string]string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]map[string]any(nil), ts.Claims...), append([]map[string]string(nil), ts.Forms...)
}

// ServiceAccountKey writes a fresh key file and returns its path and its PEM.
func (ts *TokenServer) ServiceAccountKey(t testing.TB, dir string) (path, privatePEM string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	privatePEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	data, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "syncer-test", "private_key_id": "k1", "private_key": privatePEM,
		"client_email": "syncer@syncer-test.iam.gserviceaccount.com", "client_id": "123", "token_uri": ts.URL + "/token",
	})
	path = filepath.Join(dir, "key.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, privatePEM
}

// OAuthClient writes an installed-app client file that uses this endpoint.
func (ts *TokenServer) OAuthClient(t testing.TB, dir string) string {
	t.Helper()
	data, _ := json.Marshal(map[string]any{"installed": map[string]any{
		"client_id": "cid.apps.googleusercontent.com", "client_secret": "test-client-secret-2c26b46b",
		"auth_uri": ts.URL + "/auth", "token_uri": ts.URL + "/token", "redirect_uris": []string{"http://localhost"},
	}})
	path := filepath.Join(dir, "client.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
