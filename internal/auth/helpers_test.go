package auth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// authorization makes one call with client and returns the Authorization
// header the server saw (handed over by channel, so -race sees the order).
func authorization(t *testing.T, client *http.Client) string {
	t.Helper()
	seen := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen <- r.Header.Get("Authorization") }))
	defer srv.Close()
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return <-seen
}
