package scrub_test

import (
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/scrub"
)

func TestSecretsAreLeftOut(t *testing.T) {
	for _, tt := range []struct{ in, secret, keep string }{
		{"Token 1//0gLx-abc has been expired or revoked.", "1//0gLx-abc", "has been expired"},
		{"Request had invalid authentication credentials: Bearer ya29.a0AfH6SM-xyz", "ya29.a0AfH6SM-xyz", "invalid authentication credentials"},
		{"Authorization: Bearer sk-short-token", "sk-short-token", "Authorization"},
		{"Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA==", "Authorization"},
		{"assertion=eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln&x=1", "eyJhbGciOiJSUzI1NiJ9", "x=1"},
		// As a form or a URL escapes them, and as JSON does.
		{"Authorization=Bearer%20ya29.a0AfH6SM-xyz&x=1", "a0AfH6SM", "x=1"},
		{"Authorization=Bearer%20eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "eyJhbGciOiJSUzI1NiJ9", "Authorization"},
		{"refresh_token=1%2F%2F0gLxAbCdEf&x=1", "0gLxAbCdEf", "x=1"},
		{`{"h":"\u0022ya29.a0AfH6SM-xyz\u0022"}`, "a0AfH6SM", `"h"`},
		{"Authorization=Bearer%20ya29%2Ea0AfH6SM-xyz&x=1", "a0AfH6SM", "x=1"},
		{"a token ya29.aaaa-1,ya29.bbbb-2 (twice)", "bbbb", "twice"},
		// Escaped twice: a server quoting a URL whose query was a form.
		{"url=https%3A%2F%2Fx%2Fcb%3Frefresh_token%3D1%252F%252F0gLxAbCdEf%26x%3D1 done", "0gLxAbCdEf", "done"},
		{"next=%2Fcb%3Fauthorization%3DBearer%2520ya29%252Ea0AfH6SM-xyz%26x done", "a0AfH6SM", "done"},
		{"q=%253Dya29.a0AfH6SM-xyz end", "a0AfH6SM", "end"},
		{`{"body":"{\\"t\\":\\"ya29.a0AfH6SM-xyz\\"}"}`, "a0AfH6SM", "body"},
		{`{"body":"\\u0022eyJhbGciOiJSUzI1NiJ9.e30.c2ln\\u0022"}`, "eyJhbGciOiJSUzI1NiJ9", "body"},
	} {
		for _, f := range []func(string) string{scrub.Secrets, scrub.Tokens} {
			if got := f(tt.in); strings.Contains(got, tt.secret) || !strings.Contains(got, tt.keep) {
				t.Errorf("%q → %q", tt.in, got)
			}
		}
	}
	if got := scrub.Tokens("secret 0123456789abcdefABCDEF0123 sent"); strings.Contains(got, "0123456789abcdefABCDEF0123") {
		t.Errorf("Tokens left a long run: %q", got)
	}
}

// What admins read in Google's errors stays readable.
func TestAnAPIsWordsStayReadable(t *testing.T) {
	for _, in := range []string{
		"Quota exceeded for quota metric 'Membership write requests' and limit 'membership_write_requests_per_minute_per_project' of service 'chat.googleapis.com' for consumer 'project_number:123456789012'.",
		"Request had insufficient authentication scopes. reason ACCESS_TOKEN_SCOPE_INSUFFICIENT",
		"Permission denied on resource project my-very-long-project-id-2026-prod.",
		"The caller sa-syncer-production-runner-01@my-project.iam.gserviceaccount.com lacks it",
		"Member spaces/AAAAxyz/members/111111111111111111111 not found; scope https://www.googleapis.com/auth/chat.memberships",
		"Request violates VPC Service Controls. vpcServiceControlsUniqueIdentifier: 4bQmD8fGkLpR2sT7uVwX9yZa1cEe",
		"send a bearer token; keyJSON is malformed; path v1//users",
		"Basic authentication failed; use Bearer Authentication",
		"spaces/AAAA/members/2021//x and api/v1.1//users",
	} {
		if got := scrub.Secrets(in); got != in {
			t.Errorf("%q\n→ %q", in, got)
		}
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
