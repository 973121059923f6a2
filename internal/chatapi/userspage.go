package chatapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// decodeUsersPage reads one users.list answer. A big tenant's identity
// pass is thousands of these pages (a million users is 2,000 of them), and
// encoding/json spent ~2.4 µs a user on them: a quarter of such a run's
// CPU. The answer Google sends for the fields asked is plain (keys and
// addresses without escapes), so a scanner that reads only that shape
// does it in a fraction of the time; anything it does not expect (an
// escape, a null, a number where a string was wanted, bytes that are not
// UTF-8) hands the whole page to encoding/json, whose answer is the
// reference: the fast reader must agree with it wherever it answers.
func decodeUsersPage(b []byte) ([]DirectoryUser, string, error) {
	if users, next, ok := scanUsersPage(b); ok {
		return users, next, nil
	}
	return decodeUsersPageJSON(b)
}

func decodeUsersPageJSON(b []byte) ([]DirectoryUser, string, error) {
	var page struct {
		Users []struct {
			ID                 string   `json:"id"`
			PrimaryEmail       string   `json:"primaryEmail"`
			Aliases            []string `json:"aliases"`
			NonEditableAliases []string `json:"nonEditableAliases"`
			Suspended          bool     `json:"suspended"`
			Archived           bool     `json:"archived"`
			OrgUnitPath        string   `json:"orgUnitPath"`
		} `json:"users"`
		NextPageToken string `json:"nextPageToken"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		return nil, "", fmt.Errorf("users.list: decoding the answer: %w", err)
	}
	out := make([]DirectoryUser, 0, len(page.Users))
	for _, u := range page.Users {
		du := DirectoryUser{ID: u.ID, PrimaryEmail: strings.ToLower(u.PrimaryEmail), Suspended: u.Suspended, Archived: u.Archived, OrgUnitPath: u.OrgUnitPath}
		du.Aliases = lowerAll(u.Aliases, u.NonEditableAliases)
		out = append(out, du)
	}
	return out, page.NextPageToken, nil
}

// scanUsersPage is the fast reader: ok is false for anything outside the
// plain shape, and then nothing it read is used.
func scanUsersPage(b []byte) (users []DirectoryUser, next string, ok bool) {
	s := scanner{b: b}
	if !s.fields(func(key []byte) (ok bool) {
		switch string(key) {
		case "users":
			// A second array would be decoded into the first one's
			// elements by encoding/json: leave that to it.
			if users != nil {
				return false
			}
			users, ok = s.users()
		case "nextPageToken":
			next, ok = s.str()
		default:
			ok = skippable(string(key), "users", "nextPageToken") && s.skip(0)
		}
		return ok
	}) {
		return nil, "", false
	}
	s.space()
	if users == nil {
		users = []DirectoryUser{}
	}
	// encoding/json refuses anything after the value.
	return users, next, s.i == len(s.b)
}

// users reads the users array: a user is kept as the answer gives it and
// lower-cased as UsersPage promises.
func (s *scanner) users() ([]DirectoryUser, bool) {
	if !s.open('[') {
		return nil, false
	}
	out := make([]DirectoryUser, 0, 500)
	for more := s.first(']'); more; more = s.next(']') {
		var u DirectoryUser
		var aliases, nonEditable []string
		if !s.fields(func(key []byte) (ok bool) {
			switch string(key) {
			case "id":
				u.ID, ok = s.str()
			case "primaryEmail":
				u.PrimaryEmail, ok = s.str()
			case "orgUnitPath":
				u.OrgUnitPath, ok = s.str()
			case "suspended":
				u.Suspended, ok = s.boolean()
			case "archived":
				u.Archived, ok = s.boolean()
			case "aliases":
				aliases, ok = s.strs()
			case "nonEditableAliases":
				nonEditable, ok = s.strs()
			default:
				ok = skippable(string(key), userKeys...) && s.skip(0)
			}
			return ok
		}) {
			return nil, false
		}
		u.PrimaryEmail = strings.ToLower(u.PrimaryEmail)
		u.Aliases = lowerAll(aliases, nonEditable)
		out = append(out, u)
	}
	return out, !s.bad
}

var userKeys = []string{"id", "primaryEmail", "orgUnitPath", "suspended", "archived", "aliases", "nonEditableAliases"}

// skippable reports whether a key the reader does not know may be skipped:
// encoding/json matches keys without regard to case (Unicode's folding,
// too), so one that folds to a known key, or is not plain ASCII, is left
// to it.
func skippable(key string, known ...string) bool {
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			return false
		}
	}
	for _, k := range known {
		if strings.EqualFold(key, k) {
			return false
		}
	}
	return true
}

// scanner walks a JSON document of the plain shape. bad is set by the
// list helpers (first, next) when the text between values is wrong.
type scanner struct {
	b   []byte
	i   int
	bad bool
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// open consumes c ('{' or '[') after any space.
func (s *scanner) open(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// first reports whether a list just opened has an element (false at its
// close, which it consumes).
func (s *scanner) first(closer byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == closer {
		s.i++
		return false
	}
	return s.i < len(s.b) || s.fail()
}

// next reports whether another element follows the one just read: a comma
// (consumed) says yes, the closer (consumed) says no, anything else is bad.
func (s *scanner) next(closer byte) bool {
	s.space()
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case ',':
			s.i++
			return true
		case closer:
			s.i++
			return false
		}
	}
	return s.fail()
}

func (s *scanner) fail() bool {
	s.bad = true
	return false
}

func (s *scanner) colon() bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ':' {
		s.i++
		return true
	}
	return false
}

// fields reads an object, handing each key to field, which reads its
// value (and reports whether it could). It is false for anything else, and
// for an object left malformed.
func (s *scanner) fields(field func(key []byte) bool) bool {
	if !s.open('{') {
		return false
	}
	for more := s.first('}'); more; more = s.next('}') {
		key, ok := s.rawStr()
		if !ok || !s.colon() || !field(key) {
			return false
		}
	}
	return !s.bad
}

// str reads a string without escapes or control characters, in valid
// UTF-8 (encoding/json would replace invalid bytes: the slow path does).
func (s *scanner) str() (string, bool) {
	raw, ok := s.rawStr()
	if !ok {
		return "", false
	}
	return string(raw), true
}

func (s *scanner) rawStr() ([]byte, bool) {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	ascii := true
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			raw := s.b[start:j]
			if !ascii && !utf8.Valid(raw) {
				return nil, false
			}
			return raw, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, false
}

func (s *scanner) strs() ([]string, bool) {
	if !s.open('[') {
		return nil, false
	}
	var out []string
	for more := s.first(']'); more; more = s.next(']') {
		v, ok := s.str()
		if !ok {
			return nil, false
		}
		out = append(out, v)
	}
	return out, !s.bad
}

func (s *scanner) boolean() (bool, bool) {
	s.space()
	switch rest := s.b[s.i:]; {
	case bytes.HasPrefix(rest, []byte("true")):
		s.i += 4
		return true, s.delimited()
	case bytes.HasPrefix(rest, []byte("false")):
		s.i += 5
		return false, s.delimited()
	}
	return false, false
}

// delimited reports whether a literal just read ends where a value may
// ("truex" is not true).
func (s *scanner) delimited() bool {
	if s.i == len(s.b) {
		return true
	}
	switch s.b[s.i] {
	case ' ', '\t', '\n', '\r', ',', '}', ']':
		return true
	}
	return false
}

// maxSkipDepth bounds the nesting of a value the reader skips; deeper
// ones go to encoding/json.
const maxSkipDepth = 16

// skip passes over a value of a key the syncer does not read (kind, etag):
// strings, true, false, objects and arrays of them. Numbers and null go to
// encoding/json, which knows their grammar.
func (s *scanner) skip(depth int) bool {
	if depth > maxSkipDepth {
		return false
	}
	s.space()
	if s.i >= len(s.b) {
		return false
	}
	switch s.b[s.i] {
	case '"':
		_, ok := s.rawStr()
		return ok
	case 't', 'f':
		_, ok := s.boolean()
		return ok
	case '{':
		return s.fields(func([]byte) bool { return s.skip(depth + 1) })
	case '[':
		s.i++
		for more := s.first(']'); more; more = s.next(']') {
			if !s.skip(depth + 1) {
				return false
			}
		}
		return !s.bad
	}
	return false
}
