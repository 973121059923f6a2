package source

import (
	"fmt"
	"strings"

	"github.com/syncer-dev/syncer/internal/membership"
)

// parseMember turns a source's spelling of a member into a principal: an
// email, a numeric Directory ID, users/{email or id} or groups/{id}.
func parseMember(raw string) (membership.Principal, error) {
	s := strings.TrimSpace(raw)
	switch {
	case s == "":
		return "", fmt.Errorf("empty member")
	case strings.EqualFold(s, "app") || strings.EqualFold(s, "users/app"):
		return membership.App, nil
	case strings.HasPrefix(s, "groups/"):
		return parseGroup(s)
	case strings.HasPrefix(s, "users/"):
		id := s[len("users/"):]
		if strings.HasPrefix(id, "users/") || strings.HasPrefix(id, "groups/") {
			return "", fmt.Errorf("member %q is not an email, Directory ID, users/{email or id} or groups/{id}", raw)
		}
		p, err := parseUser(id)
		if err != nil {
			return "", fmt.Errorf("member %q: %w", raw, err)
		}
		return p, nil
	}
	p, err := parseUser(s)
	if err != nil {
		return "", fmt.Errorf("member %q: %w", raw, err)
	}
	return p, nil
}

func parseUser(s string) (membership.Principal, error) {
	if strings.IndexByte(s, '@') >= 0 {
		email, err := normaliseEmail(s)
		if err != nil {
			return "", err
		}
		return membership.User(email), nil
	}
	if s != "" && isDigits(s) {
		return membership.User(s), nil
	}
	return "", fmt.Errorf("not an email, Directory ID, users/{email or id} or groups/{id}")
}

// parseGroup accepts "groups/{id}" or a bare group ID.
func parseGroup(raw string) (membership.Principal, error) {
	s := strings.TrimSpace(raw)
	id := strings.TrimPrefix(s, "groups/")
	switch {
	case id == "":
		return "", fmt.Errorf("group %q has no ID", raw)
	case strings.IndexByte(id, '@') >= 0:
		return "", fmt.Errorf("group %q: name a group by its ID (groups/{id}), not its email", raw)
	case strings.ContainsAny(id, "/ \t"):
		return "", fmt.Errorf("group %q: a group ID has no slashes or spaces", raw)
	}
	return membership.Group(id), nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// normaliseEmail trims and lower-cases an address and checks its shape:
// one @, a local part, and a domain of dot-separated labels.
func normaliseEmail(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	at := strings.IndexByte(e, '@')
	if at <= 0 || at != strings.LastIndexByte(e, '@') || at == len(e)-1 {
		return "", fmt.Errorf("malformed email")
	}
	local, domain := e[:at], e[at+1:]
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),:;<>[\]`, c) >= 0 {
			return "", fmt.Errorf("malformed email")
		}
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return "", fmt.Errorf("malformed email")
	}
	if strings.IndexByte(domain, '.') < 0 {
		return "", fmt.Errorf("malformed email: domain %q has no dot", domain)
	}
	for label := range strings.SplitSeq(domain, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return "", fmt.Errorf("malformed email")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", fmt.Errorf("malformed email")
			}
		}
	}
	return e, nil
}
