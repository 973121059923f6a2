package chatapi

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/api/googleapi"
)

// Error kinds; test them with errors.Is.
var (
	ErrQuota         = errors.New("quota exceeded")     // 429, or a rate-limit 403: retry later
	ErrTransient     = errors.New("transient failure")  // 5xx, resets, timeouts: retry
	ErrAlreadyExists = errors.New("already exists")     // 409
	ErrNotFound      = errors.New("not found")          // 404
	ErrPermanent     = errors.New("refused by the API") // other 4xx: retrying won't help
)

// Error is an API failure with what the API said.
type Error struct {
	Code       int    // HTTP status; 0 when no answer came back
	Status     string // e.g. ALREADY_EXISTS, from the body
	Message    string
	RetryAfter time.Duration // from a Retry-After header, when present
	kind       error
	cause      error
}

func (e *Error) Error() string {
	switch {
	case e.Code == 0:
		return e.Message
	case e.Status != "":
		return strconv.Itoa(e.Code) + " " + e.Status + ": " + e.Message
	}
	return strconv.Itoa(e.Code) + ": " + e.Message
}

func (e *Error) Unwrap() []error { return []error{e.kind, e.cause} }

// Retryable reports whether a later try may succeed.
func Retryable(err error) bool { return errors.Is(err, ErrQuota) || errors.Is(err, ErrTransient) }

// RetryAfter is the server's requested delay, or 0.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// classify turns a client error into an *Error of one kind. Context
// cancellation by the caller is returned unchanged.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, errCallerCancelled) {
		return err
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		// No HTTP answer: resets, refused connections, timeouts, truncated bodies.
		return &Error{Message: networkMessage(err), kind: ErrTransient, cause: err}
	}
	e := &Error{Code: ge.Code, Message: ge.Message, cause: err}
	var body struct {
		Error struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(ge.Body), &body) == nil {
		e.Status = body.Error.Status
		if e.Message == "" {
			e.Message = body.Error.Message
		}
	}
	if e.Message == "" {
		e.Message = http.StatusText(ge.Code)
	}
	e.RetryAfter = parseRetryAfter(ge.Header.Get("Retry-After"))
	reasons := ""
	for _, item := range ge.Errors {
		reasons += item.Reason + " "
	}
	switch {
	case ge.Code == http.StatusTooManyRequests,
		ge.Code == http.StatusForbidden && (strings.Contains(reasons, "RateLimitExceeded") || strings.Contains(reasons, "rateLimitExceeded")):
		e.kind = ErrQuota
	case ge.Code == http.StatusRequestTimeout || ge.Code >= 500:
		e.kind = ErrTransient
	case ge.Code == http.StatusConflict:
		e.kind = ErrAlreadyExists
	case ge.Code == http.StatusNotFound:
		e.kind = ErrNotFound
	default:
		e.kind = ErrPermanent
	}
	return e
}

func networkMessage(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the server"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before the answer"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	return err.Error()
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
