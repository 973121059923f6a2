package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/throttle"
)

// Another app in many spaces ahead of ours: export still finds which app
// is the caller, asking each space only while it lists an app not yet
// ruled out (a space that answers members/app 404 has none of its apps
// ours), so at most one read per app, not a fixed few spaces.
func TestOurAppBehindAnotherApp(t *testing.T) {
	var gets atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/v1/spaces/S9/members/app") {
			fmt.Fprint(w, `{"name":"spaces/S9/members/555","member":{"name":"users/555","type":"BOT"},"role":"ROLE_MEMBER","state":"JOINED"}`)
			return
		}
		w.WriteHeader(404)
		fmt.Fprint(w, `{"error":{"code":404,"message":"Membership not found","status":"NOT_FOUND"}}`)
	}))
	defer srv.Close()
	api, err := chatapi.New(context.Background(), chatapi.Options{Endpoint: srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	th := throttle.New(throttle.Limits{ProjectWritesPerMinute: 1e6, ProjectReadsPerMinute: 1e6, SpaceReadsPerSecond: 1e4, MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond})
	other := membership.Membership{Principal: "users/777", Bot: true}
	var states []*membership.SpaceState
	for i := 0; i < 9; i++ {
		states = append(states, &membership.SpaceState{Name: fmt.Sprintf("spaces/S%d", i), Memberships: []membership.Membership{other}})
	}
	states = append(states, &membership.SpaceState{Name: "spaces/S9", Memberships: []membership.Membership{other, {Name: "spaces/S9/members/555", Principal: "users/555", Bot: true}}})
	if got := ourApp(context.Background(), api, th, states); got != "users/555" {
		t.Errorf("ourApp: %q, want users/555 (the app members/app answers in S9)", got)
	}
	if n := gets.Load(); n > 2 {
		t.Errorf("%d reads; want at most one per app (users/777 ruled out by the first)", n)
	}
}
