// Package scrub takes secrets out of text a server wrote before it reaches
// a log line, a report or an error message: a token endpoint or an API may
// quote what it was sent (a refresh token, an access token, an assertion).
package scrub

import "regexp"

// prefixed finds a secret by its look: a refresh token (1//, or 1%2F%2F
// as a form escapes it, 1%252F%252F escaped twice), an access token
// (ya29.) or a JWT (eyJ), each not inside a word (after a space, a quote,
// =, %20, %2520, \u0022...), and what follows "Bearer" or "Basic" as an
// Authorization header writes it. A server quoting a URL it was sent
// escapes an escaped form again: %25 is % escaped, any number of times.
var prefixed = regexp.MustCompile(`(^|[^A-Za-z0-9_.]|%(?:25)*[0-9A-Fa-f]{2}|\\+u00[0-9A-Fa-f]{2})((?:1(?://|(?:%(?:25)*2[Ff]){2})|ya29(?:\.|%(?:25)*2[Ee])|eyJ)[^\s"'&,;\\<>]*)` +
	`|(?i:\b(bearer|basic)(\s+|%(?:25)*20|\+))([A-Za-z0-9._~+/=%-]{8,})`)

// tokenRun is any run of 24 or more letters, digits and the characters
// base64 adds: a token of any other form.
var tokenRun = regexp.MustCompile(`[A-Za-z0-9_\-+=~]{24,}`)

// word is a credential that is really a word of prose ("Basic
// authentication failed").
var word = regexp.MustCompile(`^[A-Z]?[a-z]+$`)

// Secrets is an API's text with anything shaped like one of Google's
// tokens or an Authorization header's credentials replaced by
// [redacted]. What admins need to read stays: resource names, addresses,
// project IDs, quota metric names, scope URLs, reasons such as
// ACCESS_TOKEN_SCOPE_INSUFFICIENT.
func Secrets(text string) string {
	return prefixed.ReplaceAllStringFunc(text, func(m string) string {
		sub := prefixed.FindStringSubmatch(m)
		switch {
		case sub[2] != "":
			return sub[1] + "[redacted]"
		case word.MatchString(sub[5]):
			return m
		}
		return sub[3] + sub[4] + "[redacted]"
	})
}

// Tokens is Secrets, and any long run of base64's characters too: for the
// words of a token endpoint, which exist to speak of tokens (its own are
// short codes and sentences; URLs and host names stay readable).
func Tokens(text string) string { return tokenRun.ReplaceAllString(Secrets(text), "[redacted]") }

// Cut is text cut to at most limit bytes (a UTF-8 sequence is not split),
// with "…" where it was cut: a server's words can be a whole page.
func Cut(text string, limit int) string {
	if len(text) <= limit {
		return text
	}
	cut := limit
	for cut > 0 && text[cut]&0xC0 == 0x80 {
		cut--
	}
	return text[:cut] + "…"
}
