package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/auth"
	"github.com/syncer-dev/syncer/internal/auth/authtest"
	"github.com/syncer-dev/syncer/internal/config"
)

// A token endpoint that never answers is named as one: the client's
// timeout cancels the request, and the transport's own words for that
// ("request canceled") must not hide why.
func TestAHungTokenRequestSaysItTimedOut(t *testing.T) {
	ts := authtest.Start(t)
	key, _ := ts.ServiceAccountKey(t, t.TempDir())
	ts.Hang()
	for i := 0; i < 5; i++ {
		creds, err := auth.New(context.Background(), config.Auth{Mode: "service-account", CredentialsFile: key, Subject: "admin@example.com"}, auth.Need{},
			auth.Options{CallTimeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		err = listAll(t, creds, 1, context.Background())[0]
		if err == nil || !strings.Contains(err.Error(), "did not answer within the call timeout") {
			t.Fatalf("try %d: %v; want it to say the token endpoint did not answer in time", i, err)
		}
	}
}
