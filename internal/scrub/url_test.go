package scrub

import (
	"strings"
	"testing"
)

// A URL given with its password is printed without it, however it is
// mistyped: no scheme ("user:pw@host", which parses as the scheme "user"
// and the opaque "pw@host"), a space, an escape that doesn't decode.
func TestURLLeavesOutPasswords(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://user:s3cretpw@push.example:9091/", "http://user:xxxxx@push.example:9091/"},
		{"https://s3cretpw@push.example/", "https://xxxxx@push.example/"},
		{"https://admin:s3cret pw@push.example:9091", "https://xxxxx@push.example:9091"},
		{"admin:s3cretpw@push.example:9091", "xxxxx@push.example:9091"},
		{"admin:s3cretpw@push.example:9091/metrics@x", "xxxxx@push.example:9091/metrics@x"},
		{"push.example:9091", "push.example:9091"},
		{"http://push.example/a@b", "http://push.example/a@b"},
	} {
		got := URL(tc.in)
		if got != tc.want || strings.Contains(got, "s3cret") {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
