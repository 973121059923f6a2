package chatapi

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/api/googleapi"

	"github.com/syncer-dev/syncer/internal/emulator"
)

// Google's answer for an API the Cloud project has not enabled, in each
// form it comes in: the run can't go on, and the message says which API,
// which project, and the whole link to enable it (Google's own words run
// past what a message keeps, the link cut).
func TestServiceDisabledIsFatalAndSaysWhereToEnableIt(t *testing.T) {
	const link = "https://console.developers.google.com/apis/api/chat.googleapis.com/overview?project=123456789012"
	words := "Google Chat API has not been used in project 123456789012 before or it is disabled. Enable it by visiting " + link +
		" then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry."
	tests := []struct{ name, body, msg string }{
		{"ErrorInfo", `{"error":{"code":403,"message":"` + words + `","status":"PERMISSION_DENIED","details":[` +
			`{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"SERVICE_DISABLED","domain":"googleapis.com","metadata":{"service":"chat.googleapis.com","serviceTitle":"Google Chat API","consumer":"projects/123456789012","activationUrl":"` + link + `"}}]}}`, ""},
		{"accessNotConfigured", `{"error":{"code":403,"message":"` + words + `","errors":[{"message":"` + words + `","domain":"usageLimits","reason":"accessNotConfigured"}]}}`, ""},
		{"the words only", "", words},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(&googleapi.Error{Code: 403, Body: tt.body, Message: tt.msg})
			if !errors.Is(err, ErrFatal) || !ServiceDisabled(err) {
				t.Fatalf("%v: want a fatal service-disabled error", err)
			}
			for _, want := range []string{"Google Chat API", "project 123456789012", "enable it at " + link + ","} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q lacks %q", err, want)
				}
			}
		})
	}
	// A plain refusal is no disabled API.
	err := classify(&googleapi.Error{Code: 403, Body: `{"error":{"code":403,"message":"The caller does not have permission","status":"PERMISSION_DENIED"}}`})
	if ServiceDisabled(err) || !errors.Is(err, ErrPermanent) {
		t.Errorf("a plain 403: %v", err)
	}
	// Nor is what the answer quotes trusted as a link, or a secret kept.
	err = classify(&googleapi.Error{Code: 403, Body: `{"error":{"code":403,"message":"Google Chat API has not been used in project 1 before or it is disabled. Bearer ya29.a0AfH6SMBsecretsecretsecret","details":[` +
		`{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"SERVICE_DISABLED","metadata":{"activationUrl":"https://evil.example/x"}}]}}`})
	if !ServiceDisabled(err) || strings.Contains(err.Error(), "evil.example") || strings.Contains(err.Error(), "secretsecret") {
		t.Errorf("%v", err)
	}
}

// Against the emulator: Chat's answer stops the run; the Directory's is a
// failed lookup (the run decides), says the other fix, and is remembered:
// no further Directory call is sent.
func TestServiceDisabledFromTheEmulator(t *testing.T) {
	em, err := emulator.New(&emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "a@example.com"}}}, emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	em.SetMisbehaviour("*", emulator.Misbehaviour{ServiceDisabled: true})
	ts := httptest.NewServer(em.Handler())
	defer ts.Close()
	ctx := context.Background()
	c, err := New(ctx, Options{Endpoint: ts.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.ListPage(ctx, "spaces/S", "")
	if !errors.Is(err, ErrFatal) || !ServiceDisabled(err) || !strings.Contains(err.Error(), "overview?project="+emulator.DisabledProject+",") {
		t.Errorf("chat: %v", err)
	}
	d, err := NewDirectory(ctx, ts.URL+"/", Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.User(ctx, "a@example.com")
	if errors.Is(err, ErrFatal) || !errors.Is(err, ErrPermanent) || !ServiceDisabled(err) ||
		!strings.Contains(err.Error(), "Admin SDK API (admin.googleapis.com)") || !strings.Contains(err.Error(), "identity.directory: false") {
		t.Errorf("directory: %v", err)
	}
	before := em.Stats().Total()
	_, _, err2 := d.UsersPage(ctx, "", "")
	_, _, err3 := d.Group(ctx, "g@example.com")
	if !ServiceDisabled(err2) || !ServiceDisabled(err3) || em.Stats().Total() != before {
		t.Errorf("after the Directory said so: %v, %v, %d calls more", err2, err3, em.Stats().Total()-before)
	}
}
