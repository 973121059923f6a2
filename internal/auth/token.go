package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/syncer-dev/syncer/internal/scrub"
)

// TokenError is a failure to get an access token. Fatal ones (the token
// endpoint refused the credentials, or speaks another protocol) end the run:
// every call would fail the same way.
type TokenError struct {
	fatal bool
	msg   string
}

func (e *TokenError) Error() string { return e.msg }

// Fatal reports whether no retry can help (chatapi classifies on it).
func (e *TokenError) Fatal() bool { return e.fatal }

// failedFetchTTL is how long a failed token fetch is remembered: callers
// waiting on the same fetch, and those right behind them, get its error
// instead of each asking the token endpoint again.
const failedFetchTTL = time.Second

// maxFailedFetches in a row, with no token in between, end the run: a token
// endpoint that keeps failing fails every call of the run the same way.
const maxFailedFetches = 3

// tokenSource hands every caller the same token, fetching at most one at a
// time. Each fetch is bounded by the token client's timeout, each caller
// waits no longer than its own context, and a fetch that fails is reported
// to the callers that waited for it, not repeated once per caller.
type tokenSource struct {
	base   oauth2.TokenSource
	seen   *observer
	scopes []string // named when delegation refuses them

	mu        sync.Mutex
	tok       *oauth2.Token
	fetchedAt time.Time // when tok came
	inflight  chan struct{}
	err       *TokenError
	errAt     time.Time
	failures  int // fetches failed in a row
	fetches   atomic.Int64
}

func newTokenSource(base oauth2.TokenSource, seen *observer, scopes []string) *tokenSource {
	return &tokenSource{base: base, seen: seen, scopes: scopes}
}

// Fetches counts token requests made.
func (s *tokenSource) Fetches() int64 { return s.fetches.Load() }

func (s *tokenSource) token(ctx context.Context) (*oauth2.Token, error) {
	for {
		s.mu.Lock()
		switch {
		case usable(s.tok, s.fetchedAt, time.Now()):
			t := s.tok
			s.mu.Unlock()
			return t, nil
		case s.err != nil && (s.err.fatal || time.Since(s.errAt) < failedFetchTTL):
			err := s.err
			s.mu.Unlock()
			return nil, err
		case s.inflight == nil:
			s.inflight = make(chan struct{})
			go s.fetch(s.inflight)
		}
		wait := s.inflight
		s.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *tokenSource) fetch(done chan struct{}) {
	s.fetches.Add(1)
	mark := s.seen.mark()
	tok, err := s.base.Token()
	s.mu.Lock()
	defer s.mu.Unlock()
	var refused *TokenError
	switch {
	case err == nil && tok.AccessToken == "":
		// A refusal answered with 200, which the service-account flow's
		// library reads as a token without one.
		if refused = refusalIn(tok); refused == nil {
			err = errNoAccessToken
		}
	case err == nil && !usable(tok, time.Now(), time.Now()):
		// Expired as given (expires_in 0, negative, or past what a clock
		// holds): asking again at once would ask without end.
		err = errExpiredAsGiven
	}
	if err != nil || refused != nil {
		s.failures++
		te := refused
		if te == nil {
			te = classifyTokenError(err, s.seen.since(mark))
		}
		if strings.Contains(te.msg, "domain-wide delegation is not granted") && len(s.scopes) > 0 {
			// Name what was asked: a scope a new rule needs is the usual culprit.
			te.msg += "; the scopes asked for: " + strings.Join(s.scopes, ",")
		}
		if !te.fatal && s.failures >= maxFailedFetches {
			te = &TokenError{fatal: true, msg: fmt.Sprintf("no access token after %d tries: %s", s.failures, te.msg)}
		}
		s.tok, s.err, s.errAt = nil, te, time.Now()
	} else {
		s.tok, s.fetchedAt, s.err, s.failures = tok, time.Now(), nil, 0
	}
	s.inflight = nil
	close(done)
}

var errNoAccessToken = errors.New("the token endpoint answered without an access token")

// refusalIn is the refusal a token answer without an access token carries
// (an OAuth error code), or nil.
func refusalIn(tok *oauth2.Token) *TokenError {
	code, _ := tok.Extra("error").(string)
	if code == "" {
		return nil
	}
	desc, _ := tok.Extra("error_description").(string)
	return &TokenError{fatal: true, msg: "authentication refused: " + tokenRefusal(http.StatusOK, code, desc)}
}

var errExpiredAsGiven = errors.New("the token endpoint answered with a token that has already expired (expires_in 0, negative or out of range)")

// usable reports whether a token fetched at fetched may still be sent at
// now: oauth2 counts a token expired 10 s early, so that it does not run
// out in flight, but a token that lives less than that (expires_in 5) would
// then be fetched again without end. Such a token is used for the first
// half of its life.
func usable(t *oauth2.Token, fetched, now time.Time) bool {
	switch {
	case t == nil || t.AccessToken == "":
		return false
	case t.Expiry.IsZero():
		return true
	}
	return t.Expiry.Sub(now) > min(10*time.Second, t.Expiry.Sub(fetched)/2)
}

// transport adds an access token to every request: the run's (its token
// source's), or the runtime's own for the impersonation calls. (oauth2's
// Transport would do for those, but it logs a deprecation warning, not
// JSON, each time the client's timeout cancels a call.)
type transport struct {
	token func(context.Context) (*oauth2.Token, error)
	base  http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.token(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	r := req.Clone(req.Context())
	tok.SetAuthHeader(r)
	return t.base.RoundTrip(r)
}

// observer remembers what the token endpoint's transport saw, since some
// token sources flatten the error they got into a string.
type observer struct {
	base http.RoundTripper
	mu   sync.Mutex
	n    int
	last observation
}

type observation struct {
	n      int
	err    error
	status int
	body   []byte
}

func (o *observer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := o.base.RoundTrip(req)
	obs := observation{err: err}
	if err == nil {
		obs.status = resp.StatusCode
	}
	o.mu.Lock()
	o.n++
	obs.n = o.n
	o.last = obs
	o.mu.Unlock()
	return resp, err
}

func (o *observer) mark() int {
	if o == nil {
		return 0
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n
}

// since returns the last observation made after mark, if any.
func (o *observer) since(mark int) observation {
	if o == nil {
		return observation{}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.last.n > mark {
		return o.last
	}
	return observation{}
}

// flattenedRefusal is how an *oauth2.RetrieveError with an error code
// reads: oauth2: "invalid_grant" "Token has been expired or revoked."
var flattenedRefusal = regexp.MustCompile(`oauth2: ("[a-z_]{1,40}")(?: ("(?:[^"\\]|\\.){0,400}"))?`)

var impersonateStatus = regexp.MustCompile(`impersonate: status code (\d+)`)

// classifyTokenError decides whether a failed fetch is worth retrying and
// says, without quoting any secret, what is likely wrong.
func classifyTokenError(err error, seen observation) *TokenError {
	var re *oauth2.RetrieveError
	status := seen.status
	code, desc := "", ""
	if errors.As(err, &re) {
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		code, desc = re.ErrorCode, re.ErrorDescription
		if code == "" {
			var body struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if json.Unmarshal(re.Body, &body) == nil {
				code, desc = body.Error, body.Description
			}
		}
	}
	if m := impersonateStatus.FindStringSubmatch(err.Error()); m != nil {
		if status == 0 {
			status, _ = strconv.Atoi(m[1])
		}
		if desc == "" {
			// The IAM Credentials API's own words follow its status.
			_, desc, _ = strings.Cut(err.Error(), m[0])
			desc = strings.TrimSpace(strings.TrimPrefix(desc, ":"))
			var body struct {
				Error struct {
					Message string `json:"message"`
				} `json:"error"`
			}
			// The token exchange that follows signJwt refuses as OAuth
			// does: {"error": "invalid_grant", "error_description": ...}.
			var oauthBody struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			switch {
			case json.Unmarshal([]byte(desc), &body) == nil && body.Error.Message != "":
				desc = body.Error.Message // not the JSON around them, on many lines
			case code == "" && json.Unmarshal([]byte(desc), &oauthBody) == nil && oauthBody.Error != "":
				code, desc = oauthBody.Error, oauthBody.Description
			}
		}
	}
	if m := flattenedRefusal.FindStringSubmatch(err.Error()); m != nil && code == "" && desc == "" {
		// A refusal some library flattened into text with %v (the
		// impersonate package does, for the runtime's own credentials).
		code, _ = strconv.Unquote(m[1])
		desc, _ = strconv.Unquote(m[2])
	}
	switch {
	case status >= 300 && status < 400:
		return &TokenError{fatal: true, msg: fmt.Sprintf("the token endpoint answered %d, a redirect: not followed, since a token request carries secrets; check the token URI", status)}
	case status == 408 || status == 429:
		return &TokenError{msg: fmt.Sprintf("the token endpoint answered %d (too busy)", status)}
	case status >= 400 && status < 500:
		return &TokenError{fatal: true, msg: "authentication refused: " + tokenRefusal(status, code, desc)}
	case status >= 500:
		return &TokenError{msg: fmt.Sprintf("the token endpoint answered %d", status)}
	}
	cause := seen.err
	if cause == nil {
		cause = err
	}
	msg := cause.Error()
	switch {
	// The client's timeout reaches the transport as "request canceled" or
	// as the deadline, whichever comes first: err, the client's, says which.
	case timedOut(cause) || timedOut(err):
		return &TokenError{msg: "the token endpoint did not answer within the call timeout"}
	case strings.Contains(msg, "server gave HTTP response to HTTPS client"), strings.Contains(msg, "malformed HTTP response"),
		strings.Contains(msg, "x509:"), strings.Contains(msg, "tls:"), strings.Contains(msg, "no such host"):
		return &TokenError{fatal: true, msg: "can't reach the token endpoint: " + redact(cause).Error()}
	case strings.Contains(msg, "private key"):
		// Never reached the network: the key itself is unusable.
		return &TokenError{fatal: true, msg: "can't sign a token request: " + redact(err).Error()}
	}
	// oauth2 reads an error code in a 200 answer as a failure too: its
	// text is the server's, and may quote what was sent.
	// Cut too: a 3xx's or a 200's body can be a whole HTML page.
	return &TokenError{msg: "no access token: " + scrub.Cut(scrub.Tokens(redact(cause).Error()), 300)}
}

func timedOut(err error) bool {
	msg := err.Error()
	return errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "Client.Timeout") || strings.Contains(msg, "deadline exceeded")
}

// tokenRefusal turns the token endpoint's answer into a hint that names the
// likely cause.
func tokenRefusal(status int, code, desc string) string {
	// The server's own words may quote what was sent (a refresh token, an
	// assertion): anything token-like is left out of them.
	if !errorCode.MatchString(code) {
		code = ""
	}
	desc = scrub.Tokens(desc)
	what := strconv.Itoa(status)
	if code != "" {
		what += " " + code
	}
	if desc != "" {
		what += " (" + scrub.Cut(desc, 200) + ")"
	}
	d := strings.ToLower(desc)
	switch {
	case code == "unauthorized_client":
		return what + ": domain-wide delegation is not granted to this service account's client ID for these scopes (Admin console → Security → API controls → Domain-wide delegation), or the key belongs to another client"
	case code == "invalid_grant" && (strings.Contains(d, "email") || strings.Contains(d, "user id")):
		return what + ": auth.subject is not a user of the Workspace (check the spelling; it must be a user, not a group or alias)"
	case code == "invalid_grant" && strings.Contains(d, "signature"):
		return what + ": the key was deleted or revoked in the Google Cloud console, or the clock is wrong; create a new key"
	case code == "invalid_grant":
		return what + ": the grant was refused: a revoked or expired refresh token (run syncer auth login again; for auth.mode adc, gcloud auth application-default login), a deleted key, or a wrong subject"
	case code == "invalid_client":
		return what + ": the key or OAuth client is unknown to Google (deleted, or from another project)"
	case code == "invalid_scope":
		return what + ": a requested scope is not valid for these credentials"
	case status == 403 && (strings.Contains(d, "has not been used in project") || strings.Contains(d, "service_disabled") || strings.Contains(d, "accessnotconfigured")):
		// Keyless delegation asks the IAM Service Account Credentials API
		// (iamcredentials.googleapis.com) of the runtime's project.
		enable := "enable it (APIs & Services → Library) and"
		if link := activationLink.FindString(desc); link != "" {
			enable = "enable it at " + link + " and" // whole: the words above may be cut through it
		}
		return what + ": the IAM Service Account Credentials API (iamcredentials.googleapis.com) is not enabled in the runtime's Google Cloud project: " + enable + " run again a few minutes later"
	case status == 403:
		return what + ": the runtime identity may lack roles/iam.serviceAccountTokenCreator on the impersonated service account"
	}
	return what
}

// activationLink is the page Google names to enable an API in a project.
var activationLink = regexp.MustCompile(`https://console\.(?:developers|cloud)\.google\.com/apis/api/[\w.-]{1,100}/overview\?project=[\w.:-]{1,64}`)

// errorCode is an OAuth error code as RFC 6749 writes them.
var errorCode = regexp.MustCompile(`^[a-z_]{1,40}$`)
