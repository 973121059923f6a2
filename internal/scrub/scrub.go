// Package scrub takes secrets out of text a server wrote before it reaches
// a log line, a report or an error message: a token endpoint or an API may
// quote what it was sent (a refresh token, an access token, an assertion).
package scrub

import "regexp"

// prefixed is a secret by its look: a refresh token (1//), an access token
// (ya29.), a JWT (eyJ), each at the start of a word, and what follows
// "Bearer" or "Basic" as an Authorization header writes it.
const prefixed = `\b(?:1//|ya29\.|eyJ)[^\s"'&,;]*|(?i:\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}`

var (
	secretLike = regexp.MustCompile(prefixed)
	// tokenLike adds any run of 24 or more letters, digits and the
	// characters base64 adds: a token of any other form.
	tokenLike = regexp.MustCompile(prefixed + `|[A-Za-z0-9_\-+=~]{24,}`)
)

// Secrets is an API's text with anything shaped like one of Google's
// tokens or an Authorization header's credentials replaced by
// [redacted]. What admins need to read stays: resource names, addresses,
// project IDs, quota metric names, scope URLs, reasons such as
// ACCESS_TOKEN_SCOPE_INSUFFICIENT.
func Secrets(text string) string { return secretLike.ReplaceAllString(text, "[redacted]") }

// Tokens is Secrets, and any long run of base64's characters too: for the
// words of a token endpoint, which exist to speak of tokens (its own are
// short codes and sentences; URLs and host names stay readable).
func Tokens(text string) string { return tokenLike.ReplaceAllString(text, "[redacted]") }

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
