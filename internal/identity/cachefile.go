package identity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/syncer-dev/syncer/internal/membership"
)

// The cache's document: version 2 lists entries as small records (an
// expiry in Unix seconds parses ten times faster than a timestamp);
// version 1, a map of timestamps, is still read.
type cacheFile struct {
	Version         int             `json:"version"`
	DirectoryUsers  int             `json:"directory_users,omitempty"`
	DirectoryAt     int64           `json:"directory_users_at,omitempty"` // Unix seconds
	ListsShowEmails bool            `json:"lists_show_emails,omitempty"`
	API             string          `json:"api,omitempty"`
	Entries         json.RawMessage `json:"entries"`
}

type cacheRecord struct {
	Email     string               `json:"e"`
	Principal membership.Principal `json:"p"`
	Expires   int64                `json:"x"`
	Suspended bool                 `json:"s,omitempty"`
	Alias     bool                 `json:"a,omitempty"`
}

// cacheHeader is what the document records beside its entries.
type cacheHeader struct {
	users           int   // directory_users
	usersAt         int64 // directory_users_at: when a pass saw them
	listsShowEmails bool
	api             string // the API the runs that wrote it called ("": not said)
}

// readCacheFast reads the document exactly as encodeLocked writes it,
// straight from the bytes read, leaving out the entries expired at now;
// false for anything else (an older version, escapes), which
// encoding/json reads.
func readCacheFast(data []byte, now int64) (t cacheTable, head cacheHeader, ok bool) {
	rest, ok := bytes.CutPrefix(data, []byte(`{"version":2`))
	if !ok {
		return cacheTable{}, cacheHeader{}, false
	}
	if r, found := bytes.CutPrefix(rest, []byte(`,"directory_users":`)); found {
		if head.users, rest, ok = cutInt(r); !ok {
			return cacheTable{}, cacheHeader{}, false
		}
		head.users = max(0, head.users)
		if r, found := bytes.CutPrefix(rest, []byte(`,"directory_users_at":`)); found {
			var at int
			if at, rest, ok = cutInt(r); !ok {
				return cacheTable{}, cacheHeader{}, false
			}
			head.usersAt = int64(at)
		}
	}
	rest, head.listsShowEmails = bytes.CutPrefix(rest, []byte(`,"lists_show_emails":true`))
	if r, found := bytes.CutPrefix(rest, []byte(`,"api":`)); found {
		var api []byte
		if api, rest, ok = cutString(r); !ok {
			return cacheTable{}, cacheHeader{}, false
		}
		head.api = string(api)
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"entries":[`)); !ok {
		return cacheTable{}, cacheHeader{}, false
	}
	// Room for every entry's email and principal: a record as written is
	// at least 30 bytes more ({"e":"","p":"","x":} and a ten-digit expiry,
	// a comma). A hand-written one may be shorter: the arena then grows.
	// No more entries than whole records fit: a corrupt document of
	// nothing but {"e": would otherwise have room made for 16 bytes in 5.
	n := min(bytes.Count(rest, []byte(`{"e":`)), len(rest)/30)
	b := newTableBuilder(n, max(0, len(rest)-30*n), now)
	for first := true; !bytes.HasPrefix(rest, []byte("]}")); first = false {
		if !first {
			if rest, ok = bytes.CutPrefix(rest, []byte(",")); !ok {
				return cacheTable{}, cacheHeader{}, false
			}
		}
		var email, p []byte
		var x int
		var suspended, alias bool
		if rest, ok = bytes.CutPrefix(rest, []byte(`{"e":`)); !ok {
			return cacheTable{}, cacheHeader{}, false
		}
		if email, rest, ok = cutString(rest); !ok {
			return cacheTable{}, cacheHeader{}, false
		}
		if rest, ok = bytes.CutPrefix(rest, []byte(`,"p":`)); !ok {
			return cacheTable{}, cacheHeader{}, false
		}
		if p, rest, ok = cutString(rest); !ok {
			return cacheTable{}, cacheHeader{}, false
		}
		if rest, ok = bytes.CutPrefix(rest, []byte(`,"x":`)); !ok {
			return cacheTable{}, cacheHeader{}, false
		}
		if x, rest, ok = cutInt(rest); !ok {
			return cacheTable{}, cacheHeader{}, false
		}
		rest, suspended = bytes.CutPrefix(rest, []byte(`,"s":true`))
		rest, alias = bytes.CutPrefix(rest, []byte(`,"a":true`))
		if rest, ok = bytes.CutPrefix(rest, []byte("}")); !ok {
			return cacheTable{}, cacheHeader{}, false
		}
		b.add(email, p, int64(x), suspended, alias)
	}
	return b.table(), head, bytes.Equal(rest, []byte("]}"))
}

// cutString cuts a JSON string without escapes from the front of s.
func cutString(s []byte) (value, rest []byte, ok bool) {
	if len(s) == 0 || s[0] != '"' {
		return nil, s, false
	}
	end := bytes.IndexAny(s[1:], `"\`)
	if end < 0 || s[1+end] != '"' {
		return nil, s, false
	}
	return s[1 : 1+end], s[2+end:], true
}

// cutInt cuts a decimal integer from the front of s.
func cutInt(s []byte) (int, []byte, bool) {
	end := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || end == 0 && s[end] == '-') {
		end++
	}
	n, err := strconv.Atoi(string(s[:end]))
	return n, s[end:], err == nil
}

// readCacheJSON reads any version encoding/json can: version 1 (a map of
// timestamps) and version 2 with escapes, leaving out the entries expired
// at now.
func readCacheJSON(data []byte, now int64) (_ cacheTable, head cacheHeader, version int, _ error) {
	var f cacheFile
	if err := json.Unmarshal(data, &f); err != nil {
		return cacheTable{}, cacheHeader{}, 0, err
	}
	var b *tableBuilder
	switch f.Version {
	case 1:
		entries := map[string]CacheEntry{}
		if err := json.Unmarshal(f.Entries, &entries); err != nil {
			return cacheTable{}, cacheHeader{}, 0, err
		}
		b = newTableBuilder(len(entries), 0, now)
		for email, e := range entries {
			x := e.Expires.Unix()
			if e.Expires.IsZero() {
				x = 0
			}
			b.add([]byte(email), []byte(e.Principal), x, e.Suspended, false)
		}
	case 2:
		var records []cacheRecord
		if err := json.Unmarshal(f.Entries, &records); err != nil {
			return cacheTable{}, cacheHeader{}, 0, err
		}
		b = newTableBuilder(len(records), 0, now)
		for _, r := range records {
			b.add([]byte(r.Email), []byte(r.Principal), r.Expires, r.Suspended, r.Alias)
		}
	default:
		return cacheTable{}, cacheHeader{}, 0, fmt.Errorf("version %d", f.Version)
	}
	return b.table(), cacheHeader{users: f.DirectoryUsers, usersAt: f.DirectoryAt, listsShowEmails: f.ListsShowEmails, api: f.API}, f.Version, nil
}

// encodeLocked writes the document by hand, sorted by email: with a
// million entries, encoding/json's reflection and its copies of the whole
// document (the entries, then the file around them) cost seconds and
// hundreds of megabytes at the very end of a run. It is what json.Marshal
// of a cacheFile of cacheRecords gives, compacted.
func (c *Cache) encodeLocked() []byte {
	var buf bytes.Buffer
	buf.Grow(64 + (len(c.table.items)+c.resolvedN)*72) // sized once: a million entries are 72 MB
	c.encodeToLocked(&buf)                             // a bytes.Buffer takes every write
	return buf.Bytes()
}

// encodeToLocked writes the document to w as it goes, 64 KB at a time:
// a store that can take it so (the local folder) never holds it whole.
func (c *Cache) encodeToLocked(w io.Writer) error {
	now := c.now().Unix()
	t := &c.table
	kept := make([]*cacheItem, 0, len(t.items))
	for i := range t.items {
		if it := &t.items[i]; !it.dropped && now < int64(it.expires) {
			kept = append(kept, it)
		}
	}
	const flushAt = 64 << 10
	b := make([]byte, 0, flushAt+1024)
	var err error
	flush := func() {
		if err == nil && len(b) > 0 {
			_, err = w.Write(b)
		}
		b = b[:0]
	}
	b = append(b, `{"version":2`...)
	if c.directoryUsers > 0 {
		b = append(b, `,"directory_users":`...)
		b = strconv.AppendInt(b, int64(c.directoryUsers), 10)
		b = append(b, `,"directory_users_at":`...)
		b = strconv.AppendInt(b, c.directoryAt, 10)
	}
	if c.listsShowEmails {
		b = append(b, `,"lists_show_emails":true`...)
	}
	if c.api != "" {
		b = append(b, `,"api":`...)
		b = appendJSONString(b, c.api)
	}
	b = append(b, `,"entries":[`...)
	first := true
	entry := func(email string, p membership.Principal, expires int64, suspended, alias bool) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, `{"e":`...)
		b = appendJSONString(b, email)
		b = append(b, `,"p":`...)
		b = appendJSONString(b, string(p))
		b = append(b, `,"x":`...)
		b = strconv.AppendInt(b, expires, 10)
		if suspended {
			b = append(b, `,"s":true`...)
		}
		if alias {
			b = append(b, `,"a":true`...)
		}
		b = append(b, '}')
		if len(b) >= flushAt {
			flush()
		}
	}
	if c.resolved != nil {
		// Both in email order: merge them, the run's answers over what was read.
		expires := c.now().Add(c.ttl).Unix()
		c.resolved(func(email string, p membership.Principal, suspended, alias bool) bool {
			for len(kept) > 0 && t.email(kept[0]) < email {
				entry(t.email(kept[0]), t.principal(kept[0]), int64(kept[0].expires), kept[0].suspended, kept[0].alias)
				kept = kept[1:]
			}
			if len(kept) > 0 && t.email(kept[0]) == email {
				kept = kept[1:]
			}
			entry(email, p, expires, suspended, alias)
			return err == nil
		})
	}
	for _, it := range kept {
		if err != nil {
			break
		}
		entry(t.email(it), t.principal(it), int64(it.expires), it.suspended, it.alias)
	}
	b = append(b, "]}"...)
	flush()
	return err
}

// appendJSONString appends s as a JSON string, as encoding/json would
// (HTML characters escaped too).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= 0x80 {
			q, _ := json.Marshal(s) // rare: an address with such a character
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
