// Package auth turns the config's auth settings into an authenticated HTTP
// client with the least scopes the run needs. It never logs or returns
// secrets: errors name files and modes, not keys or tokens.
package auth

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/impersonate"
	"google.golang.org/api/option"

	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/scrub"
)

// Scopes, least first.
const (
	ScopeMembershipsRead      = "https://www.googleapis.com/auth/chat.memberships.readonly"
	ScopeMemberships          = "https://www.googleapis.com/auth/chat.memberships"
	ScopeAdminMembershipsRead = "https://www.googleapis.com/auth/chat.admin.memberships.readonly"
	ScopeAdminMemberships     = "https://www.googleapis.com/auth/chat.admin.memberships"
	ScopeAppMemberships       = "https://www.googleapis.com/auth/chat.app.memberships"
	ScopeBot                  = "https://www.googleapis.com/auth/chat.bot" // app auth: list members, get spaces
	// spaces.get (the space's type) is not covered by the membership scopes.
	ScopeSpacesRead      = "https://www.googleapis.com/auth/chat.spaces.readonly"
	ScopeAdminSpacesRead = "https://www.googleapis.com/auth/chat.admin.spaces.readonly"
	ScopeDirectoryRead   = "https://www.googleapis.com/auth/admin.directory.user.readonly"
	// Directory rules: a group by email (groups.get), a group's members (members.list).
	ScopeDirectoryGroupRead       = "https://www.googleapis.com/auth/admin.directory.group.readonly"
	ScopeDirectoryGroupMemberRead = "https://www.googleapis.com/auth/admin.directory.group.member.readonly"
	// ScopeStorage is for a state.location in Cloud Storage (objects only).
	ScopeStorage        = "https://www.googleapis.com/auth/devstorage.read_write"
	ScopeMembershipsApp = "https://www.googleapis.com/auth/chat.memberships.app" // add the calling app to spaces
	scopeCloudPlatform  = "https://www.googleapis.com/auth/cloud-platform"
)

// Need is what a run will do.
type Need struct {
	Write     bool // apply, not only plan
	Admin     bool // api.use_admin_access
	Directory bool // Directory lookups for identity resolution
	App       bool // the sources name the Chat app itself as a member
}

// Credentials are who the syncer acts as.
type Credentials struct {
	Client   *http.Client // nil for mode none
	Mode     string
	ActingAs string // the user impersonated, or the service account / app
	Scopes   []string
	// UserAuth is false for app authentication, which can't list invited
	// members, manage groups or add external users.
	UserAuth bool
	tokens   *tokenSource
}

// TokenRequests counts the requests made to the token endpoint.
func (c *Credentials) TokenRequests() int64 {
	if c == nil || c.tokens == nil {
		return 0
	}
	return c.tokens.Fetches()
}

// Options tune how credentials reach Google.
type Options struct {
	// Transport carries every request, token requests included; nil means
	// http.DefaultTransport.
	Transport http.RoundTripper
	// CallTimeout bounds one token request; 0 means 30 s.
	CallTimeout time.Duration
}

// AppAuth reports whether the mode and settings mean Chat app authentication.
func AppAuth(a config.Auth) bool {
	return a.Mode == "app" || a.Mode == "service-account" && a.Subject == ""
}

// Scopes returns the least scopes for a mode and need.
func Scopes(a config.Auth, need Need) []string {
	if a.Mode == "none" {
		return nil
	}
	if AppAuth(a) {
		if need.Write {
			return []string{ScopeBot, ScopeAppMemberships}
		}
		return []string{ScopeBot}
	}
	var s []string
	switch {
	case need.Admin && need.Write:
		s = append(s, ScopeAdminMemberships, ScopeAdminSpacesRead)
	case need.Admin:
		s = append(s, ScopeAdminMembershipsRead, ScopeAdminSpacesRead)
	case need.Write:
		s = append(s, ScopeMemberships, ScopeSpacesRead)
	default:
		s = append(s, ScopeMembershipsRead, ScopeSpacesRead)
	}
	if need.App && need.Write && !need.Admin {
		s = append(s, ScopeMembershipsApp)
	}
	if need.Directory {
		s = append(s, ScopeDirectoryRead)
	}
	return s
}

// New builds credentials for a mode. Nothing is fetched yet: the first token
// is requested with the first API call.
func New(ctx context.Context, a config.Auth, need Need, o Options) (*Credentials, error) {
	return NewWithScopes(ctx, a, Scopes(a, need), o)
}

// NewWithScopes builds credentials asking for exactly these scopes; the
// Directory gets its own, minted only if a lookup happens. Every token
// request has a deadline (o.CallTimeout) and each API request waits for a
// token no longer than its own context allows.
func NewWithScopes(ctx context.Context, a config.Auth, scopes []string, o Options) (*Credentials, error) {
	c := &Credentials{Mode: a.Mode, Scopes: scopes, UserAuth: !AppAuth(a)}
	base := o.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	timeout := o.CallTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	seen := &observer{base: base}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: seen, Timeout: timeout, CheckRedirect: refuseRedirect})
	var ts oauth2.TokenSource
	switch a.Mode {
	case "none":
		c.ActingAs = "nobody (no authentication; emulator only)"
		return c, nil
	case "service-account", "app":
		key, email, err := readServiceAccountKey(a.CredentialsFile)
		if err != nil {
			return nil, err
		}
		creds, err := google.CredentialsFromJSONWithTypeAndParams(ctx, key, google.ServiceAccount, google.CredentialsParams{Scopes: scopes, Subject: a.Subject})
		if err != nil {
			return nil, fmt.Errorf("%s: not a usable service account key: %w", a.CredentialsFile, redact(err))
		}
		ts, c.ActingAs = creds.TokenSource, email
		if a.Subject != "" {
			c.ActingAs = a.Subject + " (impersonated by " + email + ")"
		}
	case "adc":
		var err error
		ts, c.ActingAs, err = adcTokenSource(ctx, a, scopes)
		if err != nil {
			return nil, err
		}
	case "oauth-user":
		var err error
		ts, c.ActingAs, err = userTokenSource(ctx, a, scopes)
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown auth mode %q", a.Mode)
	}
	c.tokens = newTokenSource(ts, seen, scopes)
	c.Client = &http.Client{Transport: &transport{token: c.tokens.token, base: base}, CheckRedirect: sameHost}
	return c, nil
}

// sameHost follows a redirect only to the host the request was for: the
// transport puts the access token on every request it carries, and net/http
// can't take it off one sent to another host.
// A refused redirect stops the run (every call goes to the same endpoint):
// retrying it would only be refused again.
func sameHost(req *http.Request, via []*http.Request) error {
	switch {
	case len(via) >= 10:
		return redirectRefused("stopped after 10 redirects from " + via[0].URL.Host + "; check api.endpoint, or a proxy between here and Google")
	case req.URL.Host != via[0].URL.Host || req.URL.Scheme != via[0].URL.Scheme:
		return redirectRefused(fmt.Sprintf("%s redirected to %s://%s; not followed, so the access token is not sent there; check api.endpoint, or a proxy between here and Google",
			via[0].URL.Host, req.URL.Scheme, req.URL.Host))
	}
	return nil
}

// redirectRefused is fatal to the run (chatapi reads Fatal).
type redirectRefused string

func (e redirectRefused) Error() string { return string(e) }
func (e redirectRefused) Fatal() bool   { return true }

func adcTokenSource(ctx context.Context, a config.Auth, scopes []string) (oauth2.TokenSource, string, error) {
	if a.ImpersonateServiceAccount != "" {
		// Keyless domain-wide delegation: ADC (e.g. Cloud Run's identity) signs
		// a JWT for the target service account with the subject, through IAM.
		base, err := google.FindDefaultCredentials(ctx, scopeCloudPlatform)
		if err != nil {
			return nil, "", fmt.Errorf("application default credentials: %w", redact(err))
		}
		if err := cleartextTokenURI(base.JSON, "application default credentials"); err != nil {
			return nil, "", err
		}
		// The impersonate package makes its calls (IAM signJwt, the token
		// exchange) with no context: only a client of ours gives them the
		// token requests' deadline, transport and refusal of redirects.
		hc := ctx.Value(oauth2.HTTPClient).(*http.Client)
		iam := &http.Client{Transport: &transport{token: func(context.Context) (*oauth2.Token, error) { return base.TokenSource.Token() }, base: hc.Transport}, Timeout: hc.Timeout, CheckRedirect: refuseRedirect}
		ts, err := impersonate.CredentialsTokenSource(ctx, impersonate.CredentialsConfig{
			TargetPrincipal: a.ImpersonateServiceAccount, Scopes: scopes, Subject: a.Subject,
		}, option.WithHTTPClient(iam))
		if err != nil {
			return nil, "", fmt.Errorf("impersonate %s: %w", a.ImpersonateServiceAccount, redact(err))
		}
		who := a.ImpersonateServiceAccount
		if a.Subject != "" {
			who = a.Subject + " (impersonated by " + a.ImpersonateServiceAccount + ")"
		}
		return ts, who, nil
	}
	creds, err := google.FindDefaultCredentialsWithParams(ctx, google.CredentialsParams{Scopes: scopes, Subject: a.Subject})
	if err != nil {
		return nil, "", fmt.Errorf("application default credentials: %w", redact(err))
	}
	if err := cleartextTokenURI(creds.JSON, "application default credentials"); err != nil {
		return nil, "", err
	}
	if a.Subject != "" && !isServiceAccountKey(creds.JSON) {
		return nil, "", errors.New("auth.subject with adc needs auth.impersonate_service_account unless the default credentials are a service account key")
	}
	who := "application default credentials"
	if email := clientEmail(creds.JSON); email != "" {
		who = email
	}
	if a.Subject != "" {
		who = a.Subject + " (impersonated by " + who + ")"
	}
	return creds.TokenSource, who, nil
}

// readServiceAccountKey reads a key file and its client_email, refusing
// anything but a service account key.
func readServiceAccountKey(path string) ([]byte, string, error) {
	if path == "" {
		return nil, "", errors.New("auth.credentials_file is required for this auth mode")
	}
	data, err := readSecret(path, "credentials file")
	if err != nil {
		return nil, "", err
	}
	if !isServiceAccountKey(data) {
		return nil, "", fmt.Errorf("%s is not a service account key (\"type\": \"service_account\")", path)
	}
	if err := checkPrivateKey(data); err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	if err := cleartextTokenURI(data, path); err != nil {
		return nil, "", err
	}
	return data, clientEmail(data), nil
}

func isServiceAccountKey(data []byte) bool {
	var f struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(data, &f) == nil && f.Type == "service_account"
}

func clientEmail(data []byte) string {
	var f struct {
		ClientEmail string `json:"client_email"`
	}
	json.Unmarshal(data, &f)
	return f.ClientEmail
}

// refuseRedirect follows no redirect from a token endpoint: Go's client
// would send the request's form (a refresh token, a client secret, a signed
// assertion) again to wherever it points. Google's endpoints don't redirect.
func refuseRedirect(req *http.Request, via []*http.Request) error {
	return fmt.Errorf("the token endpoint redirected to %s://%s: not followed, since a token request carries secrets; check the token URI", req.URL.Scheme, req.URL.Host)
}

// redact drops anything after a library's error text that could quote a
// credential; the libraries used here don't, but errors travel to logs.
func redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, marker := range []string{"-----BEGIN", "refresh_token", "access_token", "private_key"} {
		if i := strings.Index(msg, marker); i >= 0 {
			return errors.New(msg[:i] + "[redacted]")
		}
	}
	return err
}

// checkPrivateKey parses the key's private_key, so a damaged key is found
// offline, not at the first token request. The error never quotes it.
func checkPrivateKey(data []byte) error {
	var f struct {
		PrivateKey string `json:"private_key"`
	}
	json.Unmarshal(data, &f)
	block, _ := pem.Decode([]byte(f.PrivateKey))
	if block == nil {
		return errors.New("private_key is not a PEM block; download a new key")
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		return nil
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return nil
	}
	return errors.New("private_key does not parse as a private key; download a new key")
}

// CleartextRemote reports an http:// URL that is not this machine's
// (loopback): a secret sent there (an access token, a token request's
// refresh token or signed assertion) crosses the network in clear.
func CleartextRemote(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || !strings.EqualFold(u.Scheme, "http") {
		return false
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// cleartextTokenURI refuses a credentials file (a service account key, an
// OAuth client, application default credentials) whose token endpoint is
// http:// on another machine: the token request would carry its secret (a
// signed assertion, a refresh token and the client secret) there in clear.
// Google's files name https://oauth2.googleapis.com/token.
func cleartextTokenURI(data []byte, file string) error {
	var f map[string]json.RawMessage
	if json.Unmarshal(data, &f) != nil {
		return nil // the libraries say what is wrong with it
	}
	fields := []map[string]json.RawMessage{f}
	for _, app := range []string{"installed", "web"} {
		var nested map[string]json.RawMessage
		if json.Unmarshal(f[app], &nested) == nil {
			fields = append(fields, nested)
		}
	}
	// An impersonated_service_account file's source_credentials (a user's
	// refresh token and client secret, or a key) are refreshed at their
	// own token_uri; they may nest again (bounded by the file's size).
	for m := f; m != nil; {
		var src map[string]json.RawMessage
		if json.Unmarshal(m["source_credentials"], &src) != nil {
			break
		}
		fields = append(fields, src)
		m = src
	}
	for _, m := range fields {
		for _, key := range []string{"token_uri", "token_url", "service_account_impersonation_url"} {
			var v string
			if json.Unmarshal(m[key], &v) == nil && CleartextRemote(v) {
				return fmt.Errorf("%s: %s %s is http:// on another machine: the token request's secret would cross the network in clear; use https:// (Google's is https://oauth2.googleapis.com/token)", file, key, scrub.URL(v))
			}
		}
	}
	return nil
}
