package chatapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// A Directory that answered, then was not asked for a while (the run
// listing spaces), then meets a burst of quota refusals (another app
// took the rest of the window): the refusals have lasted milliseconds,
// not two of the quota's windows, so the Directory is not given up.
func TestAQuietSpellBeforeABurstOfRefusalsIsNoGiveUp(t *testing.T) {
	var refuse atomic.Bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if refuse.Load() {
			w.WriteHeader(403)
			w.Write([]byte(`{"error":{"code":403,"message":"Quota exceeded","errors":[{"reason":"quotaExceeded","domain":"usageLimits","message":"Quota exceeded"}]}}`))
			return
		}
		w.Write([]byte(`{"id":"1","primaryEmail":"a@example.com"}`))
	}))
	defer ts.Close()
	ctx := context.Background()
	const window = 50 * time.Millisecond
	d, err := NewDirectory(ctx, ts.URL+"/", Options{QuotaWindow: window})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.User(ctx, "a@example.com"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * window) // no Directory call: the run is busy elsewhere
	refuse.Store(true)
	for i := 0; i < 2*minGiveUpRefusals; i++ {
		_, err = d.User(ctx, "a@example.com")
	}
	if !errors.Is(err, ErrQuota) || d.GaveUp() != "" {
		t.Errorf("after a quiet spell, %d refusals in a few ms: %v (gave up: %q); want a quota refusal, retried, not the Directory given up", 2*minGiveUpRefusals, err, d.GaveUp())
	}
	// Refusals that do last two windows still end it.
	time.Sleep(2*window + 10*time.Millisecond)
	for i := 0; i < minGiveUpRefusals; i++ {
		_, err = d.User(ctx, "a@example.com")
	}
	if d.GaveUp() == "" || !Unasked(err) {
		t.Errorf("refusals for two windows: %v; want the Directory given up", err)
	}
}

// A Directory that answers some lookups "not authorized" (users outside
// the admin role's units) and refuses others for its quota at the end of
// each window is answering: its per-address refusals are answers, and
// the quota refusals between them never last two windows on their own.
func TestPermissionRefusalsAreAnswersForTheGiveUp(t *testing.T) {
	var quota atomic.Bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(403)
		if quota.Load() {
			w.Write([]byte(`{"error":{"code":403,"message":"Quota exceeded","errors":[{"reason":"quotaExceeded","domain":"usageLimits","message":"Quota exceeded"}]}}`))
			return
		}
		w.Write([]byte(`{"error":{"code":403,"message":"Not Authorized to access this resource/api","errors":[{"reason":"forbidden","domain":"global","message":"Not Authorized to access this resource/api"}]}}`))
	}))
	defer ts.Close()
	ctx := context.Background()
	const window = 30 * time.Millisecond
	d, err := NewDirectory(ctx, ts.URL+"/", Options{QuotaWindow: window})
	if err != nil {
		t.Fatal(err)
	}
	for w := 0; w < 5; w++ {
		quota.Store(false)
		for i := 0; i < 3; i++ {
			if _, err = d.User(ctx, "a@example.com"); errors.Is(err, ErrQuota) || Unasked(err) {
				t.Fatalf("a permission refusal: %v", err)
			}
		}
		quota.Store(true)
		for i := 0; i < 5; i++ {
			_, err = d.User(ctx, "a@example.com")
		}
		time.Sleep(window)
	}
	if d.GaveUp() != "" {
		t.Errorf("a Directory answering every window was given up: %s", d.GaveUp())
	}
}
