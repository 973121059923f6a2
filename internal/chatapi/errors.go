package chatapi

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/syncer-dev/syncer/internal/scrub"
)

// Error kinds; test them with errors.Is. Every error the adapter returns has
// exactly one, so every caller can tell retry from fail-this-change from
// fail-the-run.
var (
	ErrQuota         = errors.New("quota exceeded")        // 429, or a rate-limit 403: retry later, slower
	ErrTransient     = errors.New("transient failure")     // 5xx, resets, timeouts: retry
	ErrAborted       = errors.New("aborted by a conflict") // 409 ABORTED: answered, nothing made: retry
	ErrAlreadyExists = errors.New("already exists")        // 409 ALREADY_EXISTS
	ErrNotFound      = errors.New("not found")             // 404
	ErrPermanent     = errors.New("refused by the API")    // other 4xx: this change or space fails alone
	// ErrFatal means no call of this run can succeed: credentials refused,
	// a protocol or TLS mismatch with the endpoint, no Chat app configured
	// for the project. The run stops at once instead of retrying each call.
	ErrFatal = errors.New("the run can't go on")
)

// Error is an API failure with what the API said.
type Error struct {
	Code       int    // HTTP status; 0 when no answer came back
	Status     string // e.g. ALREADY_EXISTS, from the body
	Reason     string // the first errors[].reason, e.g. userRateLimitExceeded
	Message    string
	RetryAfter time.Duration // from a Retry-After header, when present
	// Disabled: the answer says the API is not enabled in the Google
	// Cloud project of the credentials (see ServiceDisabled).
	Disabled bool
	// GaveUp: not an answer, but the Directory given up for the run (its
	// quota refused every call for two of its windows; see Directory).
	GaveUp bool
	kind   error
	cause  error
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
func Retryable(err error) bool {
	return errors.Is(err, ErrQuota) || errors.Is(err, ErrTransient) || errors.Is(err, ErrAborted)
}

// RetryAfter is the server's requested delay, or 0.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// Fatal makes an error that stops the run, with the message given.
func Fatal(msg string, cause error) error {
	return &Error{Message: msg, kind: ErrFatal, cause: cause}
}

// Unasked reports whether err says the Directory could not be asked at
// all: its API not enabled in the project, or given up for the run. A
// lookup that ends so failed; it tells nothing of the user asked.
func Unasked(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Disabled || e.GaveUp)
}

// ServiceDisabled reports whether err is Google's answer for an API the
// Google Cloud project has not enabled (403 SERVICE_DISABLED,
// accessNotConfigured): no call to that API can succeed until an admin
// enables it, and the error's message says where.
func ServiceDisabled(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Disabled
}

// fatalError is implemented by errors that know no retry can help, such as
// a token endpoint refusing the service account (see internal/auth).
type fatalError interface{ Fatal() bool }

// Classify turns any error from a Google API call into an *Error of one
// kind. Cancellation by the caller (the run stopping) is returned unchanged.
func Classify(err error) error { return classify(err) }

func classify(err error) error {
	if err == nil {
		return nil
	}
	var done *Error
	if errors.Is(err, errCallerCancelled) || errors.As(err, &done) {
		return err
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return networkError(err)
	}
	e := &Error{Code: ge.Code, Message: ge.Message, cause: err}
	var body struct {
		Error struct {
			Status  string `json:"status"`
			Message string `json:"message"`
			Errors  []struct {
				Reason string `json:"reason"`
			} `json:"errors"`
			Details []errorDetail `json:"details"`
		} `json:"error"`
	}
	var details []errorDetail
	reasons := map[string]bool{}
	if json.Unmarshal([]byte(ge.Body), &body) == nil {
		e.Status = body.Error.Status
		if e.Message == "" {
			e.Message = body.Error.Message
		}
		if len(body.Error.Errors) > 0 {
			e.Reason = body.Error.Errors[0].Reason
		}
		for _, it := range body.Error.Errors {
			reasons[it.Reason] = true
		}
		details = body.Error.Details
	}
	if e.Reason == "" && len(ge.Errors) > 0 {
		e.Reason = ge.Errors[0].Reason
	}
	for _, it := range ge.Errors {
		reasons[it.Reason] = true
	}
	if e.Message == "" {
		e.Message = http.StatusText(ge.Code)
	}
	// The server's words may quote what was sent (an access token, by a
	// proxy echoing the Authorization header): they reach logs and reports.
	disabled := ge.Code == http.StatusForbidden && serviceDisabled(e.Message, reasons, details)
	if disabled {
		e.Disabled = true
		e.Message = disabledMessage(e.Message, details)
	} else {
		e.Message = shorten(scrub.Secrets(e.Message))
	}
	if ge.Code == http.StatusForbidden && !disabled && scopeInsufficient(e.Message, details) {
		e.Message += " (the access token lacks the scope this call needs: with auth.mode oauth-user, run syncer auth login again, since the consent was given before the config asked for more, such as api.use_admin_access or Directory rules; syncer auth check lists the scopes)"
	}
	e.RetryAfter = parseRetryAfter(ge.Header.Get("Retry-After"), time.Now())
	switch {
	case disabled:
		// No call to this API can succeed: the run stops (the Directory's
		// client makes its own answer a failed lookup: see directory.go).
		e.kind = ErrFatal
	case ge.Code == http.StatusTooManyRequests, ge.Code == http.StatusForbidden && rateLimitReason(e.Reason):
		e.kind = ErrQuota
	case ge.Code == http.StatusRequestTimeout || ge.Code >= 500:
		e.kind = ErrTransient
	case ge.Code == http.StatusConflict && e.Status == "ABORTED":
		// google.rpc.Code gives 409 to ABORTED (a concurrency conflict,
		// "retry at a higher level") as well as to ALREADY_EXISTS: nothing
		// was made, so it is no "already done". An answer, as a 429 is:
		// no outcome in doubt, and no sign of an API down.
		e.kind = ErrAborted
	case ge.Code == http.StatusUnauthorized:
		e.kind = ErrFatal
		e.Message += " (the access token was refused: check the credentials, the subject and the scopes granted to them)"
	case ge.Code == http.StatusConflict && (e.Status == "" || e.Status == "ALREADY_EXISTS"):
		// Only ALREADY_EXISTS (or a bare 409, a proxy's) says the
		// membership is there: a create so answered is done.
		e.kind = ErrAlreadyExists
	case ge.Code == http.StatusNotFound && appNotConfigured(e.Message):
		e.kind = ErrFatal
		e.Message += " (the Google Cloud project has no Chat app configured: APIs & Services → Google Chat API → Configuration)"
	case ge.Code == http.StatusNotFound:
		e.kind = ErrNotFound
	case appNotConfigured(e.Message):
		e.kind = ErrFatal
		e.Message += " (the Google Cloud project has no Chat app configured: APIs & Services → Google Chat API → Configuration)"
	default:
		e.kind = ErrPermanent
	}
	return e
}

// scopeInsufficient recognises Google's 403 for a token without the scope
// a call needs.
func scopeInsufficient(msg string, details []errorDetail) bool {
	for _, d := range details {
		if d.Reason == "ACCESS_TOKEN_SCOPE_INSUFFICIENT" {
			return true
		}
	}
	return strings.Contains(strings.ToLower(msg), "insufficient authentication scopes")
}

// errorDetail is one of a google.rpc.Status's details: an ErrorInfo
// (reason, domain, metadata) is the one read.
type errorDetail struct {
	Type     string            `json:"@type"`
	Reason   string            `json:"reason"`
	Domain   string            `json:"domain"`
	Metadata map[string]string `json:"metadata"`
}

// serviceDisabled recognises Google's 403 for an API the caller's Google
// Cloud project has not enabled: an ErrorInfo with reason SERVICE_DISABLED
// (googleapis.com), the older errors[].reason accessNotConfigured, or,
// from a proxy that kept only the words, "... has not been used in project
// P before or it is disabled".
func serviceDisabled(msg string, reasons map[string]bool, details []errorDetail) bool {
	if reasons["accessNotConfigured"] {
		return true
	}
	for _, d := range details {
		if d.Reason == "SERVICE_DISABLED" && strings.HasSuffix(d.Type, "google.rpc.ErrorInfo") {
			return true
		}
	}
	return disabledWords.MatchString(msg)
}

var (
	disabledWords = regexp.MustCompile(`(.{1,80}?) has not been used in project ([\w.:-]{1,64}) before or it is disabled`)
	projectID     = regexp.MustCompile(`^[\w.:-]{1,64}$`)
	activationURL = regexp.MustCompile(`https://console\.(?:developers|cloud)\.google\.com/apis/api/[\w.-]{1,100}/overview\?project=[\w.:-]{1,64}`)
)

// disabledMessage says which API to enable, in which project, and where:
// from the ErrorInfo's metadata (service, serviceTitle, consumer,
// activationUrl), else from Google's words, which the syncer's own replace
// (they run past what a log line keeps, the link cut in the middle).
func disabledMessage(msg string, details []errorDetail) string {
	var title, service, project, link string
	for _, d := range details {
		if d.Reason == "SERVICE_DISABLED" {
			title, service, link = scrub.Cut(d.Metadata["serviceTitle"], 80), scrub.Cut(d.Metadata["service"], 100), d.Metadata["activationUrl"]
			if p := strings.TrimPrefix(d.Metadata["consumer"], "projects/"); projectID.MatchString(p) {
				project = p
			}
			break
		}
	}
	if m := disabledWords.FindStringSubmatch(msg); m != nil {
		title = cmp.Or(title, strings.TrimPrefix(strings.TrimSpace(m[1]), "Access Not Configured. "))
		project = cmp.Or(project, m[2])
	}
	if !activationURL.MatchString(link) || activationURL.FindString(link) != link {
		link = activationURL.FindString(msg)
	}
	what := cmp.Or(title, service, "An API the syncer calls")
	if title != "" && service != "" && !strings.Contains(title, service) {
		what += " (" + service + ")"
	}
	where := "the Google Cloud project of the credentials"
	if project != "" {
		where = "Google Cloud project " + project
	}
	out := what + " is not enabled in " + where + " (never used there, or disabled)"
	if link != "" {
		out += ": enable it at " + link
	} else {
		out += ": enable it in the Google Cloud console (APIs & Services → Library); Google said: " + msg
	}
	// Longer than shorten allows: the link must stay whole.
	return scrub.Cut(scrub.Secrets(out+", then run again a few minutes later"), 600)
}

// rateLimitReason: the Directory answers 403 with these reasons when it
// wants the caller to back off (Google: "use exponential backoff").
func rateLimitReason(reason string) bool {
	switch reason {
	case "rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "dailyLimitExceeded":
		return true
	}
	return false
}

// appNotConfigured recognises Google's answers for a project that has no
// Chat app: "Google Chat app not found" (404), "No bot associated with this
// project" and "Invalid project number" (400/403/404, per GAM). They are a configuration error, never "already
// done" for a delete.
func appNotConfigured(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "chat app not found") || strings.Contains(m, "no bot associated with this project") ||
		strings.Contains(m, "invalid project number")
}

// networkError classifies a failure with no HTTP answer: what the network
// may fix (resets, refusals, timeouts) is transient; what it can't (a
// protocol or TLS mismatch, a host that doesn't exist, refused credentials)
// is fatal.
func networkError(err error) error {
	e := &Error{Message: networkMessage(err), kind: ErrTransient, cause: err}
	var fe fatalError
	var dns *net.DNSError
	switch {
	case errors.As(err, &fe) && fe.Fatal():
		e.kind = ErrFatal
	case errors.As(err, &dns) && dns.IsNotFound:
		e.kind = ErrFatal
	case protocolMismatch(err):
		e.kind = ErrFatal
	}
	return e
}

func protocolMismatch(err error) bool {
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verify           *tls.CertificateVerificationError
		record           tls.RecordHeaderError
	)
	if errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		errors.As(err, &verify) || errors.As(err, &record) {
		return true
	}
	// net/http reports these two as plain strings.
	msg := err.Error()
	return strings.Contains(msg, "server gave HTTP response to HTTPS client") ||
		strings.Contains(msg, "malformed HTTP response") ||
		strings.Contains(msg, "unsupported protocol scheme")
}

func networkMessage(err error) string {
	var fe fatalError
	var ne net.Error
	switch {
	case errors.As(err, &fe):
		return fe.(error).Error() // the syncer's own message, with its hint: never cut
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the server"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before the answer"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "no answer within the call timeout"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// The URL as Go quotes it keeps a user (a token given as
		// https://TOKEN@host/) and a long query that would leave no room
		// for the cause: the method, host and path tell which call it was.
		where := ue.URL
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.User, u.RawQuery, u.Fragment = nil, "", ""
			where = u.String()
		} else if at := strings.LastIndex(where, "@"); at >= 0 {
			where = where[at+1:]
		}
		return shorten(scrub.Secrets(ue.Op + " " + where + ": " + ue.Err.Error()))
	}
	return shorten(scrub.Secrets(err.Error()))
}

// shorten bounds text from a server: an answer can be anything.
func shorten(s string) string { return scrub.Cut(s, 300) }

// parseRetryAfter reads seconds or an HTTP date; anything else is 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 || s > 1e9 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
