package scrub_test

import (
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/scrub"
)

func TestSecretsAreLeftOutAndNamesStay(t *testing.T) {
	for _, tt := range []struct{ in, secret, keep string }{
		{"Token 1//0gLx-abc has been expired or revoked.", "1//0gLx-abc", "has been expired"},
		{"Request had invalid authentication credentials: Bearer ya29.a0AfH6SM-xyz", "ya29.a0AfH6SM-xyz", "invalid authentication credentials"},
		{"Authorization: Bearer short-token", "short-token", "Authorization"},
		{"assertion eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln is bad", "eyJhbGciOiJSUzI1NiJ9", "is bad"},
		{"secret 0123456789abcdefABCDEF0123 sent", "0123456789abcdefABCDEF0123", "sent"},
		{"Member spaces/AAAAxyz/members/111111111111111111111 not found; scope https://www.googleapis.com/auth/chat.memberships", "", "spaces/AAAAxyz/members/111111111111111111111"},
	} {
		got := scrub.Secrets(tt.in)
		if (tt.secret != "" && strings.Contains(got, tt.secret)) || !strings.Contains(got, tt.keep) {
			t.Errorf("Secrets(%q) = %q", tt.in, got)
		}
	}
	if got := scrub.Secrets("scope https://www.googleapis.com/auth/chat.memberships"); !strings.Contains(got, "https://www.googleapis.com/auth/chat.memberships") {
		t.Errorf("a scope's URL: %q", got)
	}
}

func TestCutKeepsUTF8Whole(t *testing.T) {
	if got := scrub.Cut(strings.Repeat("é", 10), 5); got != "éé…" {
		t.Errorf("Cut = %q", got)
	}
	if got := scrub.Cut("short", 300); got != "short" {
		t.Errorf("Cut = %q", got)
	}
}
