// Package emulatortest starts the emulator for tests.
package emulatortest

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/emulator"
)

// Start serves an emulator for the test's lifetime and returns it with its base URL (trailing slash).
func Start(t testing.TB, seed *emulator.Seed, opts emulator.Options) (*emulator.Server, string) {
	t.Helper()
	em, err := emulator.New(seed, opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(em.Handler())
	t.Cleanup(ts.Close)
	return em, ts.URL + "/"
}

// Client returns an adapter pointed at url with user-authentication visibility.
func Client(t testing.TB, url string) *chatapi.Client {
	t.Helper()
	c, err := chatapi.New(context.Background(), chatapi.Options{Endpoint: url, ShowInvited: true, ShowGroups: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
