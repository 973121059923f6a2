package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/scrub"
)

func TestBadEndpointFlagIsInvalidInput(t *testing.T) {
	em, cfg := setup(t, 1, emulator.Options{}, "")
	for _, ep := range []string{"not a url", "http://", "127.0.0.1:8085", "ftp://x/"} {
		for _, cmd := range []string{"plan", "apply", "validate", "export"} {
			code, _, errOut := runCLI(t, cmd, "--config", cfg, "--endpoint", ep)
			if code != exitInvalid || !strings.Contains(logText(errOut), "is not an http(s) URL") {
				t.Errorf("%s --endpoint %q: exit %d\n%s", cmd, ep, code, errOut)
			}
		}
	}
	if n := em.Stats().Total(); n != 0 {
		t.Errorf("%d requests", n)
	}
}

// A password in an endpoint's URL is never printed: not by a refusal of
// --endpoint or api.endpoint, not by auth check, not in a failed push's
// error.
func TestEndpointPasswordsAreNotPrinted(t *testing.T) {
	_, cfg := setup(t, 1, emulator.Options{}, "")
	// A token given as the user information, with no password, is a
	// secret too.
	for _, ep := range []string{"ftp://user:hunter2@example.com/", "ftp://hunter2@example.com/"} {
		code, out, errOut := runCLI(t, "plan", "--config", cfg, "--endpoint", ep)
		if code != exitInvalid || strings.Contains(out+errOut, "hunter2") || !strings.Contains(errOut, "example.com") {
			t.Errorf("--endpoint %s: exit %d\n%s%s", ep, code, out, errOut)
		}
	}
	data, _ := os.ReadFile(cfg)
	endpoint := func(url string) {
		t.Helper()
		re := regexp.MustCompile(`endpoint: "[^"]*"`)
		if !re.Match(data) {
			t.Fatalf("no endpoint in %s", data)
		}
		os.WriteFile(cfg, re.ReplaceAll(data, []byte(`endpoint: "`+url+`"`)), 0o644)
	}
	endpoint("ftp://user:hunter2@example.com/")
	if code, out, errOut := runCLI(t, "validate", "--config", cfg); code != exitInvalid || strings.Contains(out+errOut, "hunter2") || !strings.Contains(errOut, "api.endpoint") {
		t.Errorf("api.endpoint: exit %d\n%s%s", code, out, errOut)
	}
	endpoint("http://user:hunter2@127.0.0.1:1/")
	if _, out, errOut := runCLI(t, "auth", "check", "--config", cfg); strings.Contains(out+errOut, "hunter2") || !strings.Contains(out, "Endpoint:") {
		t.Errorf("auth check:\n%s%s", out, errOut)
	}
	for _, pw := range []string{"hunter2", "hunter2!", "s3cr*t", "p(a)ss", "it's"} {
		raw := "http://pg:" + pw + "@127.0.0.1:9091"
		err := "unexpected status code 500 while pushing to " + raw + "/metrics/job/syncer"
		if got := scrub.WithoutUser(err, raw); strings.Contains(got, pw) || !strings.Contains(got, "127.0.0.1:9091") {
			t.Errorf("a push's error: %s", got)
		}
	}
}
