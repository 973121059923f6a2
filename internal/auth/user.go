package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/fsutil"
	"github.com/syncer-dev/syncer/internal/scrub"
)

// userTokenSource refreshes a stored user token; the OAuth client is the
// credentials_file ("installed" app JSON from the Cloud console).
func userTokenSource(ctx context.Context, a config.Auth, scopes []string) (oauth2.TokenSource, string, error) {
	oc, err := oauthClient(a, scopes)
	if err != nil {
		return nil, "", err
	}
	tok, err := ReadToken(a.TokenFile)
	if err != nil {
		return nil, "", err
	}
	return oc.TokenSource(ctx, tok), "the user who ran syncer auth login (token in " + a.TokenFile + ")", nil
}

func oauthClient(a config.Auth, scopes []string) (*oauth2.Config, error) {
	if a.CredentialsFile == "" || a.TokenFile == "" {
		return nil, errors.New("auth.mode oauth-user needs auth.credentials_file (the OAuth client) and auth.token_file")
	}
	data, err := readSecret(a.CredentialsFile, "OAuth client file")
	if err != nil {
		return nil, err
	}
	if err := cleartextTokenURI(data, a.CredentialsFile); err != nil {
		return nil, err
	}
	oc, err := google.ConfigFromJSON(data, scopes...)
	if err != nil {
		return nil, fmt.Errorf("%s is not an OAuth client file: %w", a.CredentialsFile, redact(err))
	}
	return oc, nil
}

// ReadToken reads a stored token, refusing a file that others can read.
func ReadToken(path string) (*oauth2.Token, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("token file %s does not exist (run syncer auth login)", path)
	}
	data, err := readSecret(path, "token file")
	if err != nil {
		return nil, err
	}
	var tok oauth2.Token
	if err := json.Unmarshal(data, &tok); err != nil || tok.RefreshToken == "" {
		return nil, fmt.Errorf("token file %s holds no refresh token; run syncer auth login", path)
	}
	return &tok, nil
}

// WriteToken stores a token (an *oauth2.Token, or one with the user's
// email) with mode 0600, atomically.
func WriteToken(path string, tok any) error {
	data, err := json.Marshal(tok)
	if err != nil {
		return err
	}
	if err := fsutil.WriteAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("write token: %w", err)
	}
	return nil
}

// Identity scopes make the token endpoint say who logged in (an ID token),
// so policy sync knows which user never to remove.
var identityScopes = []string{"openid", "email"}

// storedToken is the token file: the token, and the email of the user it
// belongs to.
type storedToken struct {
	oauth2.Token
	Email string `json:"email,omitempty"`
}

// withEmail records, beside the token, the email of the ID token that came
// with it (read without checking its signature: it came straight from the
// token endpoint over TLS).
func withEmail(tok *oauth2.Token) *storedToken {
	st := &storedToken{Token: *tok}
	if raw, ok := tok.Extra("id_token").(string); ok {
		if parts := strings.Split(raw, "."); len(parts) == 3 {
			if payload, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
				var claims struct {
					Email string `json:"email"`
				}
				if json.Unmarshal(payload, &claims) == nil {
					st.Email = strings.ToLower(claims.Email)
				}
			}
		}
	}
	return st
}

// TokenEmail is the email of the user a stored token belongs to ("" when
// the file predates it: log in again).
func TokenEmail(path string) (string, error) {
	data, err := readSecret(path, "token file")
	if err != nil {
		return "", err
	}
	var st storedToken
	if err := json.Unmarshal(data, &st); err != nil {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	return st.Email, nil
}

// Login runs the installed-app flow: it listens on a loopback port, prints
// the consent URL to w, waits for Google's redirect with the code, exchanges
// it (with PKCE) and stores the refresh token in a.TokenFile.
func Login(ctx context.Context, a config.Auth, scopes []string, w io.Writer) error {
	oc, err := oauthClient(a, append(scopes, identityScopes...))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	oc.RedirectURL = "http://" + ln.Addr().String() + "/callback"
	state := randomHex()
	verifier := oauth2.GenerateVerifier()
	url := oc.AuthCodeURL(state, oauth2.AccessTypeOffline, oauth2.ApprovalForce, oauth2.S256ChallengeOption(verifier))
	fmt.Fprintf(w, "Open this URL in a browser on this machine and allow access:\n\n  %s\n\nWaiting for the answer...\n", url)

	type result struct {
		code string
		err  error
	}
	done := make(chan result, 1)
	answer := func(r result) {
		select {
		case done <- r:
		default: // a second answer (a reload): the first is being used
		}
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case r.URL.Path != "/callback":
			http.NotFound(rw, r)
			return
		case q.Get("state") != state:
			http.Error(rw, "state mismatch", http.StatusBadRequest)
			answer(result{err: errors.New("the answer's state did not match; try again")})
		case q.Get("error") != "":
			http.Error(rw, "access was not granted", http.StatusForbidden)
			answer(result{err: fmt.Errorf("access was not granted: %s", q.Get("error"))})
		default:
			// The code is not exchanged yet: the terminal says how that went.
			fmt.Fprintln(rw, "syncer has Google's answer; the terminal says whether the login finished. You can close this tab.")
			answer(result{code: q.Get("code")})
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	var res result
	select {
	case <-ctx.Done():
		return ctx.Err()
	case res = <-done:
	}
	if res.err != nil {
		return res.err
	}
	// The exchange is one call: bounded, as every call is.
	xctx, cancel := context.WithTimeout(ctx, exchangeTimeout)
	defer cancel()
	xctx = context.WithValue(xctx, oauth2.HTTPClient, &http.Client{CheckRedirect: refuseRedirect})
	tok, err := oc.Exchange(xctx, res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return fmt.Errorf("exchange the code: %s", scrub.Cut(scrub.Tokens(redact(err).Error()), 300))
	}
	if tok.RefreshToken == "" {
		return errors.New("Google returned no refresh token; revoke the app's access and log in again")
	}
	if err := WriteToken(a.TokenFile, withEmail(tok)); err != nil {
		return err
	}
	fmt.Fprintf(w, "Token stored in %s (mode 0600).\n", a.TokenFile)
	return nil
}

func randomHex() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// exchangeTimeout bounds auth login's code exchange.
var exchangeTimeout = 30 * time.Second
