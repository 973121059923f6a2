package scrub

import (
	"net/url"
	"strings"
)

// URL is a URL as it may be printed: a password in it (user:pass@,
// as a Pushgateway behind basic auth is given) shown as xxxxx, and user
// information without one (https://TOKEN@host) too, even when the URL
// does not parse.
func URL(s string) string {
	// Without "//", user:pass@host parses as the scheme "user" and the
	// opaque "pass@host": no user information to redact, so it goes the
	// way of a URL that does not parse.
	if u, err := url.Parse(s); err == nil && !strings.Contains(u.Opaque, "@") {
		if u.User != nil {
			if _, has := u.User.Password(); !has {
				u.User = url.User("xxxxx")
			}
		}
		return u.Redacted()
	}
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			return scheme + "://xxxxx@" + rest[at+1:]
		}
	}
	if host, _, _ := strings.Cut(s, "/"); strings.Contains(host, "@") {
		return "xxxxx@" + s[strings.LastIndex(host, "@")+1:]
	}
	return s
}

// WithoutUser is text with the user information of rawURL (as an
// error quoting the URL would write it) left out.
func WithoutUser(text, rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		text = strings.ReplaceAll(text, u.User.String()+"@", "xxxxx@")
	}
	// As written, too: Userinfo.String escapes ! * ( ) ' where the URL
	// as given (and quoted in an error) may not.
	if _, rest, ok := strings.Cut(rawURL, "://"); ok {
		if end := strings.IndexAny(rest, "/?#"); end >= 0 {
			rest = rest[:end]
		}
		if at := strings.LastIndex(rest, "@"); at > 0 {
			text = strings.ReplaceAll(text, rest[:at]+"@", "xxxxx@")
		}
	}
	return text
}
