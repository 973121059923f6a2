package config

import (
	"strings"
	"testing"
)

// Google's APIs are served over https only: an endpoint written http://
// sends the run's access token across the network in clear before the
// call fails as a "protocol mismatch". It is refused before any call.
func TestGoogleOverHTTPIsRefused(t *testing.T) {
	for _, endpoint := range []string{"http://chat.googleapis.com/", "HTTP://chat.googleapis.com", "http://googleapis.com:80/",
		"http://chat.googleapis.com./", "http://CHAT.GoogleAPIs.com.:80/"} { // the root's dot: the same host
		_, err := Parse("c.yaml", []byte("sources: [{path: a.csv}]\napi:\n  endpoint: "+endpoint+"\n"))
		if err == nil || !strings.Contains(err.Error(), "c.yaml:3: api.endpoint") || !strings.Contains(err.Error(), "https") {
			t.Errorf("%s: err = %v, want it refused at its line, saying https", endpoint, err)
		}
	}
	for _, endpoint := range []string{"https://chat.googleapis.com/", "http://127.0.0.1:8085/", "http://emulator.internal/"} {
		if _, err := Parse("c.yaml", []byte("sources: [{path: a.csv}]\napi:\n  endpoint: "+endpoint+"\n")); err != nil {
			t.Errorf("%s: %v", endpoint, err)
		}
	}
}
