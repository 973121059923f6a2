package chatapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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
		// google.rpc.Code maps ABORTED (a concurrency conflict) to 409 too:
		// nothing was made, and a later try may succeed.
		{"409 aborted", apiErr(409, "ABORTED", nil), ErrAborted, "409 ABORTED: msg", 0},
		// A 409 whose status says something else is no "already exists":
		// taken as one, a create that made nothing was counted done, run
		// after run.
		{"409 other status", apiErr(409, "FAILED_PRECONDITION", nil), ErrPermanent, "409 FAILED_PRECONDITION: msg", 0},
		{"409 without a status", &googleapi.Error{Code: 409, Message: "Conflict"}, ErrAlreadyExists, "", 0},
		{"404", apiErr(404, "NOT_FOUND", nil), ErrNotFound, "", 0},
		{"403 permission", apiErr(403, "PERMISSION_DENIED", nil), ErrPermanent, "403 PERMISSION_DENIED: msg", 0},
		{"400 precondition", apiErr(400, "FAILED_PRECONDITION", nil), ErrPermanent, "", 0},
		{"directory concurrency 403", apiErr(403, "", nil, "quotaExceeded"), ErrQuota, "", 0},
		{"directory rate 403", apiErr(403, "", nil, "rateLimitExceeded"), ErrQuota, "", 0},
		{"directory forbidden 403", apiErr(403, "", nil, "forbidden"), ErrPermanent, "", 0},
		{"401 is fatal", apiErr(401, "UNAUTHENTICATED", nil), ErrFatal, "", 0},
		{"app not configured", &googleapi.Error{Code: 404, Message: "Google Chat app not found. To create a Chat app, you must turn on the Chat API and configure the app in the Google Cloud console."}, ErrFatal, "", 0},
		{"no bot", &googleapi.Error{Code: 400, Message: "No bot associated with this project."}, ErrFatal, "", 0},
		{"plain 404", apiErr(404, "NOT_FOUND", nil), ErrNotFound, "", 0},
		{"Retry-After as a date in the past", apiErr(429, "", http.Header{"Retry-After": {"Wed, 21 Oct 2015 07:28:00 GMT"}}), ErrQuota, "", 0},
		{"absurd Retry-After", apiErr(429, "", http.Header{"Retry-After": {"99999999999"}}), ErrQuota, "", 0},
		{"http to an https server", &url.Error{Op: "Get", URL: "https://x/", Err: errors.New("http: server gave HTTP response to HTTPS client")}, ErrFatal, "", 0},
		{"no such host", &url.Error{Op: "Get", URL: "https://x/", Err: &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}}, ErrFatal, "", 0},
		{"call deadline", &url.Error{Op: "Get", URL: "https://x/", Err: context.DeadlineExceeded}, ErrTransient, "no answer within the call timeout", 0},
		{"refused token", &url.Error{Op: "Get", URL: "https://x/", Err: fatalErr{}}, ErrFatal, "authentication refused", 0},
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
			if Retryable(err) != (tt.kind == ErrQuota || tt.kind == ErrTransient || tt.kind == ErrAborted) {
				t.Errorf("Retryable = %v", Retryable(err))
			}
		})
	}
}

type fatalErr struct{}

func (fatalErr) Error() string { return "authentication refused" }
func (fatalErr) Fatal() bool   { return true }

// A token given as an endpoint's user (https://TOKEN@host/) is not quoted
// back in a network error, and the error keeps its cause: the URL's query
// is left out, not the reason.
func TestANetworkErrorQuotesNoUserAndKeepsItsCause(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler()) // plain HTTP: an https client fails
	defer srv.Close()
	c, err := New(context.Background(), Options{Endpoint: "https://SECRETtoken0123@" + strings.TrimPrefix(srv.URL, "http://") + "/"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.ListPage(context.Background(), "spaces/S", "")
	if err == nil || strings.Contains(err.Error(), "SECRETtoken0123") || !strings.Contains(err.Error(), "HTTP response to HTTPS client") || strings.Contains(err.Error(), "pageSize") {
		t.Errorf("%v", err)
	}
}
