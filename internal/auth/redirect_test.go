package auth

import (
	"net/http"
	"testing"
)

// A redirect is followed only to the same scheme and host: https to http
// on the same host would send the access token in clear text.
func TestRedirectsKeepSchemeAndHost(t *testing.T) {
	from, _ := http.NewRequest("GET", "https://chat.googleapis.com/v1/spaces/S/members", nil)
	for to, follow := range map[string]bool{
		"https://chat.googleapis.com/v1/spaces/S/members?x=1": true,
		"http://chat.googleapis.com/v1/spaces/S/members":      false,
		"https://elsewhere.example/v1":                        false,
	} {
		next, _ := http.NewRequest("GET", to, nil)
		if err := sameHost(next, []*http.Request{from}); (err == nil) != follow {
			t.Errorf("%s: %v, want followed %v", to, err, follow)
		}
	}
}
