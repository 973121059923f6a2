package emulator

import (
	"strings"
)

// userQuery is a parsed Directory users.list query: clauses joined by AND
// (the query language has no OR). Supported: email:PREFIX* and email=ADDR
// (primary email or an alias), isSuspended=true|false,
// isArchived=true|false, orgUnitPath='/X'
// (that unit and the units below it, as Google documents), and
// orgDepartment='X'. Anything else is refused, as Google refuses what it
// can't parse, rather than guessed.
type userQuery []func(*user) bool

func parseUserQuery(q string) (userQuery, *apiError) {
	clauses, ok := queryClauses(q)
	if !ok {
		return nil, errorf(400, "INVALID_ARGUMENT", "Invalid Input: unbalanced quotes in %q", q)
	}
	var out userQuery
	for _, clause := range clauses {
		field, op, value, ok := splitClause(clause)
		if !ok {
			return nil, errorf(400, "INVALID_ARGUMENT", "Invalid Input: %s", clause)
		}
		value = strings.ReplaceAll(unquote(value), `\'`, "'")
		switch {
		case field == "email" && op == ":" && strings.HasSuffix(value, "*"):
			prefix := strings.ToLower(strings.TrimSuffix(value, "*"))
			out = append(out, func(u *user) bool { return anyAddress(u, func(a string) bool { return strings.HasPrefix(a, prefix) }) })
		case field == "email" && (op == "=" || op == ":"):
			addr := strings.ToLower(value)
			out = append(out, func(u *user) bool { return anyAddress(u, func(a string) bool { return a == addr }) })
		case field == "isSuspended" && op == "=" && (strings.EqualFold(value, "true") || strings.EqualFold(value, "false")):
			want := strings.EqualFold(value, "true")
			out = append(out, func(u *user) bool { return u.suspended == want })
		case field == "isArchived" && op == "=" && (strings.EqualFold(value, "true") || strings.EqualFold(value, "false")):
			want := strings.EqualFold(value, "true")
			out = append(out, func(u *user) bool { return u.archived == want })
		case field == "orgUnitPath" && op == "=" && strings.HasPrefix(value, "/"):
			path := strings.TrimSuffix(value, "/")
			out = append(out, func(u *user) bool {
				return path == "" || u.orgUnit == path || strings.HasPrefix(u.orgUnit, path+"/")
			})
		case field == "orgDepartment" && (op == "=" || op == ":"):
			dept := strings.ToLower(value)
			out = append(out, func(u *user) bool { return strings.ToLower(u.department) == dept })
		default:
			return nil, errorf(400, "INVALID_ARGUMENT", "Invalid Input: %s (this emulator supports email:PREFIX*, email=ADDRESS, isSuspended=true|false, isArchived=true|false, orgUnitPath='/PATH' and orgDepartment='NAME')", clause)
		}
	}
	return out, nil
}

// queryClauses splits a query on spaces outside single or double quotes.
func queryClauses(q string) ([]string, bool) {
	var out []string
	var cur strings.Builder
	quote := rune(0)
	escaped := false
	for _, c := range q {
		switch {
		case quote != 0 && escaped:
			escaped = false
			cur.WriteRune(c)
		case quote != 0 && c == '\\':
			// "Escape single quotes in queries with \'" (Search for users).
			escaped = true
			cur.WriteRune(c)
		case quote != 0:
			if c == quote {
				quote = 0
			}
			cur.WriteRune(c)
		case c == '\'' || c == '"':
			quote = c
			cur.WriteRune(c)
		case c == ' ' || c == '\t':
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(c)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out, quote == 0
}

func splitClause(c string) (field, op, value string, ok bool) {
	i := strings.IndexAny(c, ":=")
	if i <= 0 || i == len(c)-1 {
		return "", "", "", false
	}
	return c[:i], c[i : i+1], c[i+1:], true
}

// anyAddress: the primary email and the aliases the user can edit (search
// is not documented to cover non-editable alias-domain addresses).
func anyAddress(u *user, match func(string) bool) bool {
	if match(u.email) {
		return true
	}
	for _, a := range u.aliases {
		if match(a) {
			return true
		}
	}
	return false
}

func (q userQuery) matches(u *user) bool {
	for _, f := range q {
		if !f(u) {
			return false
		}
	}
	return true
}

// unquote takes the quotes off a value ('x' or "x"), not its escapes.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}
