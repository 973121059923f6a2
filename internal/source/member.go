package source

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/syncer-dev/syncer/internal/membership"
)

// maxNameLen bounds a member or space value: 254 is the longest address SMTP
// carries, and Chat and Directory IDs are far shorter. A longer value is a
// broken export, refused before it can reach a report or the API.
const maxNameLen = 254

// parseMember turns a source's spelling of a member into a principal: an
// email, a numeric Directory ID, users/{email or id} or groups/{id}.
func parseMember(raw string) (membership.Principal, error) {
	s := strings.TrimSpace(raw)
	switch {
	case s == "":
		return "", fmt.Errorf("empty member")
	case len(s) > maxNameLen:
		return "", fmt.Errorf("member %s is too long for an email or ID (%d bytes, at most %d)", quote(raw), len(s), maxNameLen)
	case strings.EqualFold(s, "app") || strings.EqualFold(s, "users/app"):
		return membership.App, nil
	case strings.HasPrefix(s, "groups/"):
		return parseGroup(s)
	case strings.HasPrefix(s, "users/"):
		id := s[len("users/"):]
		if strings.HasPrefix(id, "users/") || strings.HasPrefix(id, "groups/") {
			return "", fmt.Errorf("member %s is not an email, Directory ID, users/{email or id} or groups/{id}", quote(raw))
		}
		p, err := parseUser(id)
		if err != nil {
			return "", fmt.Errorf("member %s: %w", quote(raw), err)
		}
		return p, nil
	}
	p, err := parseUser(s)
	if err != nil {
		return "", fmt.Errorf("member %s: %w", quote(raw), err)
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
		return "", fmt.Errorf("group %s has no ID", quote(raw))
	case len(id) > maxNameLen:
		return "", fmt.Errorf("group %s is too long for a group ID (%d bytes, at most %d)", quote(raw), len(id), maxNameLen)
	case strings.IndexByte(id, '@') >= 0:
		return "", fmt.Errorf("group %s: name a group by its ID (groups/{id}) or write group:EMAIL", quote(raw))
	case !isSpaceID(id):
		// It goes into URL paths: only the characters Directory group IDs have.
		return "", fmt.Errorf("group %s: a group ID is letters, digits, - and _", quote(raw))
	}
	return membership.Group(id), nil
}

// IsGroupID reports whether id (what follows groups/) is a group ID a
// source would take.
func IsGroupID(id string) bool { return len(id) <= maxNameLen && isSpaceID(id) }

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
// CheckEmail is an address as a source would take it (lower-cased), or
// why no source would.
func CheckEmail(s string) (string, error) { return normaliseEmail(s) }

func normaliseEmail(s string) (string, error) {
	e := strings.TrimSpace(s)
	for _, r := range e {
		if r >= utf8.RuneSelf {
			// Checked before lower-casing: the Kelvin sign and a dotted
			// capital I lower-case to k and i, another address than the
			// one written. No Google account's address has such a letter.
			return "", fmt.Errorf("malformed email: %q (%U) is not an ASCII character, and a Google account's address is ASCII", r, r)
		}
	}
	e = strings.ToLower(e)
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
		if strings.IndexByte("/?#%\\", c) >= 0 {
			// Legal in RFC 5322, but no Google account has them, and an
			// address goes into URL paths (members/{email}).
			return "", fmt.Errorf("malformed email: %q can't be in a Google account's address", c)
		}
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return "", fmt.Errorf("malformed email")
	}
	if err := CheckDomain(domain); err != nil {
		return "", fmt.Errorf("malformed email: %w", err)
	}
	return e, nil
}

// CheckDomain is why no address at a (lower-cased) domain could be taken
// from a source, or nil: it is dot-separated labels of letters, digits and
// inner hyphens, as the domain of an email is checked.
func CheckDomain(domain string) error {
	if strings.IndexByte(domain, '.') < 0 {
		return fmt.Errorf("domain %s has no dot", quote(domain))
	}
	for label := range strings.SplitSeq(domain, ".") {
		bad := label == "" || label[0] == '-' || label[len(label)-1] == '-'
		for i := 0; i < len(label) && !bad; i++ {
			c := label[i]
			bad = !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')
		}
		if bad {
			return fmt.Errorf("domain %s is not dot-separated names of letters, digits and -", quote(domain))
		}
	}
	return nil
}

// parseRole is membership.ParseRole, which quotes a bad value whole. No role
// is near maxQuoted runes long, so a longer value is refused here, shortened.
func parseRole(raw string) (membership.Role, error) {
	if s := strings.TrimSpace(raw); len(s) > maxQuoted {
		return "", fmt.Errorf("unknown role %s (want member, manager, owner, or ROLE_MEMBER, ROLE_ASSISTANT_MANAGER, ROLE_MANAGER)", quote(s))
	}
	return membership.ParseRole(raw)
}
