package chatapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"google.golang.org/api/googleapi"
)

func TestClassify(t *testing.T) {
	apiErr := func(code int, status string, header http.Header, reasons ...string) error {
		e := &googleapi.Error{Code: code, Message: "msg", Body: fmt.Sprintf(`{"error":{"code":%d,"message":"msg","status":%q}}`, code, status), Header: header}
		for _, r := range reasons {
			e.Errors = append(e.Errors, googleapi.ErrorItem{Reason: r})
		}
		return e
	}
	tests := []struct {
		name  string
		err   error
		kind  error
		text  string
		after time.Duration
	}{
		{"429", apiErr(429, "RESOURCE_EXHAUSTED", http.Header{"Retry-After": {"7"}}), ErrQuota, "429 RESOURCE_EXHAUSTED: msg", 7 * time.Second},
		{"directory rate limit 403", apiErr(403, "", nil, "userRateLimitExceeded"), ErrQuota, "403: msg", 0},
		{"500", apiErr(500, "INTERNAL", nil), ErrTransient, "500 INTERNAL: msg", 0},
		{"502", apiErr(502, "", nil), ErrTransient, "502: msg", 0},
		{"503", apiErr(503, "UNAVAILABLE", nil), ErrTransient, "", 0},
		{"504", apiErr(504, "DEADLINE_EXCEEDED", nil), ErrTransient, "", 0},
		{"409", apiErr(409, "ALREADY_EXISTS", nil), ErrAlreadyExists, "409 ALREADY_EXISTS: msg", 0},
		{"404", apiErr(404, "NOT_FOUND", nil), ErrNotFound, "", 0},
		{"403 permission", apiErr(403, "PERMISSION_DENIED", nil), ErrPermanent, "403 PERMISSION_DENIED: msg", 0},
		{"400 precondition", apiErr(400, "FAILED_PRECONDITION", nil), ErrPermanent, "", 0},
		{"reset", fmt.Errorf("Post: %w", syscall.ECONNRESET), ErrTransient, "connection reset by the server", 0},
		{"eof", fmt.Errorf("Post: %w", io.ErrUnexpectedEOF), ErrTransient, "connection closed before the answer", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(tt.err)
			if !errors.Is(err, tt.kind) {
				t.Errorf("classify(%v) = %v, want kind %v", tt.err, err, tt.kind)
			}
			if tt.text != "" && err.Error() != tt.text {
				t.Errorf("text %q, want %q", err.Error(), tt.text)
			}
			if RetryAfter(err) != tt.after {
				t.Errorf("RetryAfter = %v, want %v", RetryAfter(err), tt.after)
			}
			if Retryable(err) != (tt.kind == ErrQuota || tt.kind == ErrTransient) {
				t.Errorf("Retryable = %v", Retryable(err))
			}
		})
	}
}
