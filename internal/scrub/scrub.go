// Package scrub takes secrets out of text a server wrote before it reaches
// a log line, a report or an error message: a token endpoint or an API may
// quote what it was sent (a refresh token, an access token, an assertion).
package scrub

import "regexp"

// tokenLike is what a secret looks like in a server's words: anything after
// a refresh token's, an access token's or a JWT's prefix (1//, ya29., eyJ)
// or "Bearer ", and any run of 24 or more letters, digits and the
// characters base64 adds. URLs, host names, resource names (users/{id}:
// 21 digits) and addresses stay readable: their parts are shorter.
var tokenLike = regexp.MustCompile(`(?i:bearer\s+)\S+|(1//|ya29\.|eyJ)[^\s"']*|[A-Za-z0-9_\-+=~]{24,}`)

// Secrets is text with anything token-like replaced by [redacted].
func Secrets(text string) string { return tokenLike.ReplaceAllString(text, "[redacted]") }

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
