package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/state/gcstest"
)

// toFake sends Google's hosts to the fake Cloud Storage.
type toFake struct{ host string }

func (t toFake) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Host, "googleapis.com") {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host = "http", t.host
	}
	return http.DefaultTransport.RoundTrip(r)
}

// serve's run history opens its Cloud Storage store (and the credentials in
// it) once, for serve's life. oauth-user tokens are refreshed with the
// context they were made with: that of the first request that wanted the
// history would end every refresh after it, and the history with it.
func TestServesHistoryOutlivesTheRequestThatOpenedIt(t *testing.T) {
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	var fetches atomic.Int64
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		// 2 s: used for its first second (stands for Google's 3600 s).
		fmt.Fprint(w, `{"access_token":"ya29.x","token_type":"Bearer","expires_in":2}`)
	}))
	defer tokens.Close()
	gcs := gcstest.Start(t, "syncer-bucket")
	dir := t.TempDir()
	client, _ := json.Marshal(map[string]any{"installed": map[string]any{"client_id": "c", "client_secret": "s",
		"auth_uri": tokens.URL + "/auth", "token_uri": tokens.URL + "/token", "redirect_uris": []string{"http://localhost"}}})
	os.WriteFile(filepath.Join(dir, "client.json"), client, 0o600)
	os.WriteFile(filepath.Join(dir, "token.json"), []byte(`{"refresh_token":"1//r","email":"me@example.com"}`), 0o600)
	os.WriteFile(filepath.Join(dir, "m.yaml"), []byte("spaces:\n  - space: spaces/A\n    members:\n      - a@example.com\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(`sources:
  - path: m.yaml
state:
  location: gs://syncer-bucket/p
auth:
  mode: oauth-user
  credentials_file: client.json
  token_file: token.json
identity:
  directory: false
`), 0o600)
	cfg, err := config.Load(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	opts := authOptions(cfg, nil)
	opts.Transport = toFake{gcs.Host}
	runs := &runHistory{cfg: cfg, keep: 5, opts: opts}

	// The first /runs request: its own context, ended when the page is served.
	reqCtx, cancel := context.WithTimeout(context.Background(), historyTimeout)
	h, err := runs.get(reqCtx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Runs(reqCtx); err != nil {
		t.Fatalf("first page: %v", err)
	}
	cancel()
	time.Sleep(1500 * time.Millisecond) // the access token expires
	h, _ = runs.get(context.Background())
	_, err = h.Runs(context.Background())
	if err != nil || fetches.Load() < 2 {
		t.Errorf("a later page, once the first token expired: %v (%d token fetches)", err, fetches.Load())
	}
}
