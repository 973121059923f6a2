package main

import (
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
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
