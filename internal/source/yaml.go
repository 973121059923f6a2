package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/syncer-dev/syncer/internal/membership"
)

// maxYAMLSize bounds a YAML source: decoding it into nodes takes about 12
// times its size (a 42 MB file, 525 MB), where CSV is read in about its
// own size.
const maxYAMLSize = 64 << 20

// readYAML reads
//
//	spaces:
//	  - space: spaces/AAAA
//	    label: Engineering
//	    members:
//	      - alice@example.com
//	      - {user: bob@example.com, role: manager}
//	      - {group: groups/03b2mn}
//
// walking yaml.Node so every problem carries its line.
func readYAML(file string, data []byte, b *builder, errs *Errors) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(data) > maxYAMLSize {
		errs.Add(membership.Location{File: file}, "a YAML source over %d MiB (this one is %d MiB): YAML takes about 12 times its size in memory to read; write an export this big as CSV", maxYAMLSize>>20, len(data)>>20)
		return
	}
	if !bytes.HasPrefix(data, []byte{0xff, 0xfe}) && !bytes.HasPrefix(data, []byte{0xfe, 0xff}) { // yaml.v3 reads UTF-16 with its BOM
		if line, column, msg := YAMLTextProblem(data); msg != "" {
			errs.Add(membership.Location{File: file, Line: line, Column: column}, "%s", msg)
			return
		}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		line, msg := YAMLSyntaxError(data, err)
		errs.Add(membership.Location{File: file, Line: line}, "invalid YAML: %s", msg)
		return
	}
	// Concatenated files (--- between them) are several documents: reading
	// only the first would drop the others without a word.
	if line, err := NextDocument(dec); err != nil {
		line, msg := YAMLSyntaxError(data, err)
		errs.Add(membership.Location{File: file, Line: line}, "invalid YAML: %s", msg)
		return
	} else if line > 0 {
		errs.Add(membership.Location{File: file, Line: line}, "a second YAML document (after ---): a source is one document; merge the spaces: lists")
		return
	}
	if len(doc.Content) == 0 {
		return // empty file: reported by the caller as an empty source
	}
	at := func(n *yaml.Node) membership.Location { return membership.Location{File: file, Line: n.Line} }
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		errs.Add(at(root), "expected a mapping with a spaces: list")
		return
	}
	var spaces *yaml.Node
	forEachKey(root, at, errs, func(k, v *yaml.Node) {
		switch k.Value {
		case "spaces":
			spaces = v
		default:
			errs.Add(at(k), "unknown key %s (want spaces)", quote(k.Value))
		}
	})
	if spaces == nil {
		errs.Add(at(root), "no spaces: list")
		return
	}
	if spaces.Kind != yaml.SequenceNode {
		errs.Add(at(spaces), "spaces: must be a list")
		return
	}
	for _, sn := range spaces.Content {
		readYAMLSpace(sn, at, b, errs)
	}
}

// YAMLTextProblem is why data is not UTF-8 text YAML allows (a YAML
// source's or the config's), at which line (and column), or "". UTF-16
// with a byte-order mark is for the caller to let through (yaml.v3 reads it). yaml.v3 says so with no line: the line, and the
// value, tell which label or address was saved in another encoding or
// holds a stray character.
func YAMLTextProblem(data []byte) (line, column int, msg string) {
	if isUTF16(data) {
		// yaml.v3 would call its NULs control characters.
		return 1, 0, "the file looks like UTF-16 without a byte-order mark (a NUL in every other byte); save it as UTF-8"
	}
	if !utf8.Valid(data) {
		bad := 0
		for bad < len(data) {
			r, n := utf8.DecodeRune(data[bad:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			bad += n
		}
		line, _, text := lineAround(data, bad)
		return line, 0, fmt.Sprintf("invalid UTF-8 in %s; save the file as UTF-8", quote(strings.TrimSpace(strings.ToValidUTF8(text, "\uFFFD"))))
	}
	if bad, r := firstNonPrintable(data); bad >= 0 {
		line, column, text := lineAround(data, bad)
		return line, column, fmt.Sprintf("control character %U in %s: YAML allows tabs, line ends and printable characters; remove it", r, quote(strings.TrimSpace(text)))
	}
	return 0, 0, ""
}

// firstNonPrintable is the offset of the first character of UTF-8 data
// that YAML does not allow (c-printable: tab, LF, CR, x20-x7E, x85,
// xA0-xD7FF, xE000-xFFFD, x10000-x10FFFF), and the character; -1 if none.
func firstNonPrintable(data []byte) (int, rune) {
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
				return i, rune(c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(data[i:])
		if r < 0xa0 && r != 0x85 || r > 0xd7ff && r < 0xe000 || r == 0xfffe || r == 0xffff {
			return i, r
		}
		i += n
	}
	return -1, 0
}

// lineAround is the number of the line holding data[i], the column of
// data[i] in it (in characters, from 1), and the line's text.
func lineAround(data []byte, i int) (line, column int, text string) {
	start := bytes.LastIndexByte(data[:i], '\n') + 1
	end := bytes.IndexByte(data[i:], '\n')
	if end < 0 {
		end = len(data) - i
	}
	return 1 + bytes.Count(data[:i], []byte("\n")), 1 + utf8.RuneCount(data[start:i]), string(data[start : i+end])
}

func readYAMLSpace(sn *yaml.Node, at func(*yaml.Node) membership.Location, b *builder, errs *Errors) {
	if sn.Kind != yaml.MappingNode {
		errs.Add(at(sn), "a space must be a mapping with space: and members:")
		return
	}
	var spaceNode, labelNode, membersNode, policyNode, allowEmptyNode *yaml.Node
	forEachKey(sn, at, errs, func(k, v *yaml.Node) {
		switch k.Value {
		case "space":
			spaceNode = v
		case "label":
			labelNode = v
		case "members":
			membersNode = v
		case "policy":
			policyNode = v
		case "allow_empty":
			allowEmptyNode = v
		default:
			errs.Add(at(k), "unknown key %s in a space (want space, label, policy, members, allow_empty)", quote(k.Value))
		}
	})
	if spaceNode == nil {
		errs.Add(at(sn), "space entry has no space:")
		return
	}
	name, err := parseSpace(scalar(spaceNode))
	if err != nil {
		errs.Add(at(spaceNode), "%v", err)
		return
	}
	label := ""
	if labelNode != nil {
		label = strings.TrimSpace(scalar(labelNode))
	}
	s := b.space(name, label, at(spaceNode))
	if policyNode != nil {
		switch p := strings.TrimSpace(scalar(policyNode)); p {
		case "create-only", "upsert", "sync":
			b.policy(s, name, p, at(policyNode), errs)
		default:
			errs.Add(at(policyNode), "policy %s of %s: want create-only, upsert or sync", quote(p), name)
		}
	}
	if membersNode == nil || membersNode.Kind == yaml.ScalarNode && membersNode.Tag == "!!null" {
		errs.Add(at(sn), "space %s has no members: list", name)
		return
	}
	if membersNode.Kind != yaml.SequenceNode {
		errs.Add(at(membersNode), "members: of %s must be a list", name)
		return
	}
	allowEmpty := false
	if allowEmptyNode != nil {
		switch v := strings.ToLower(scalar(allowEmptyNode)); v {
		case "true", "yes":
			allowEmpty = true
		case "false", "no":
		default:
			errs.Add(at(allowEmptyNode), "allow_empty: %s is not true or false", quote(scalar(allowEmptyNode)))
			return
		}
	}
	if len(membersNode.Content) == 0 {
		// What a broken generator writes; under policy sync it would
		// remove everyone from the space.
		if !allowEmpty {
			errs.Add(at(membersNode), "space %s has an empty members: list; that is refused so a broken export can't empty a space (write allow_empty: true on the space if nobody is meant to be in it)", name)
			return
		}
		b.declareEmpty()
		return
	}
	for _, mn := range membersNode.Content {
		if m, rule, ok := readYAMLMember(mn, at, errs); ok && rule != nil {
			b.addRule(s, *rule)
		} else if ok {
			b.add(s, m)
		}
	}
}

func readYAMLMember(mn *yaml.Node, at func(*yaml.Node) membership.Location, errs *Errors) (membership.DesiredMember, *membership.Rule, bool) {
	loc := at(mn)
	switch mn.Kind {
	case yaml.ScalarNode:
		p, err := parseMember(mn.Value)
		if err != nil {
			errs.Add(loc, "%v", err)
			return membership.DesiredMember{}, nil, false
		}
		return membership.DesiredMember{Principal: p, Source: membership.At(loc)}, nil, true
	case yaml.MappingNode:
	default:
		errs.Add(loc, "a member must be an email, an ID, or a mapping with user:, group:, group_members:, org_unit: or query:")
		return membership.DesiredMember{}, nil, false
	}
	keys := map[string]*yaml.Node{}
	forEachKey(mn, at, errs, func(k, v *yaml.Node) {
		switch k.Value {
		case "user", "group", "role", "group_members", "nested", "org_unit", "include_children", "query", "allow_empty":
			keys[k.Value] = v
		default:
			errs.Add(at(k), "unknown key %s in a member (want user, group, group_members, org_unit or query, and role)", quote(k.Value))
		}
	})
	var named []string
	for _, k := range []string{"user", "group", "group_members", "org_unit", "query"} {
		if keys[k] != nil {
			named = append(named, k+":")
		}
	}
	if len(named) != 1 {
		if len(named) == 0 {
			errs.Add(loc, "member has none of user:, group:, group_members:, org_unit:, query:")
		} else {
			errs.Add(loc, "a member has one of user:, group:, group_members:, org_unit:, query:, not %s", strings.Join(named, " and "))
		}
		return membership.DesiredMember{}, nil, false
	}
	role := membership.RoleUnmanaged
	if n := keys["role"]; n != nil {
		r, err := parseRole(scalar(n))
		if err != nil {
			errs.Add(at(n), "%v", err)
			return membership.DesiredMember{}, nil, false
		}
		role = r
	}
	flag := func(name string, def bool) (bool, bool) {
		n := keys[name]
		if n == nil {
			return def, true
		}
		switch strings.ToLower(scalar(n)) {
		case "true", "yes":
			return true, true
		case "false", "no":
			return false, true
		}
		errs.Add(at(n), "%s: %s is not true or false", name, quote(scalar(n)))
		return false, false
	}
	nested, ok1 := flag("nested", false)
	children, ok2 := flag("include_children", true)
	allowEmpty, ok3 := flag("allow_empty", false)
	if !ok1 || !ok2 || !ok3 {
		return membership.DesiredMember{}, nil, false
	}
	misplaced := func(name, only string) bool {
		if n := keys[name]; n != nil && keys[only] == nil {
			errs.Add(at(n), "%s: goes with %s:", name, only)
			return true
		}
		return false
	}
	if misplaced("nested", "group_members") || misplaced("include_children", "org_unit") {
		return membership.DesiredMember{}, nil, false
	}
	if n := keys["allow_empty"]; n != nil && keys["group_members"] == nil && keys["org_unit"] == nil && keys["query"] == nil {
		errs.Add(at(n), "allow_empty: goes with a rule (group_members:, org_unit:, query:)")
		return membership.DesiredMember{}, nil, false
	}
	if n := keys["user"]; n != nil {
		return namedMember(n, role, keys["role"], at, errs, func(raw string) (membership.Principal, error) { return parseMember(raw) })
	}
	if n := keys["group"]; n != nil && !strings.Contains(scalar(n), "@") {
		return namedMember(n, role, keys["role"], at, errs, parseGroup)
	}
	rule, node, err := parseRule(keys, role)
	if err != nil {
		errs.Add(at(node), "%v", err)
		return membership.DesiredMember{}, nil, false
	}
	rule.Nested, rule.IncludeChildren, rule.AllowEmpty, rule.Source = nested, children, allowEmpty, at(node)
	return membership.DesiredMember{}, rule, true
}

// namedMember is a member named by user: or group: with an ID.
func namedMember(n *yaml.Node, role membership.Role, roleNode *yaml.Node, at func(*yaml.Node) membership.Location, errs *Errors,
	parse func(string) (membership.Principal, error)) (membership.DesiredMember, *membership.Rule, bool) {
	p, err := parse(scalar(n))
	if err != nil {
		errs.Add(at(n), "%v", err)
		return membership.DesiredMember{}, nil, false
	}
	if (p.IsGroup() || p == membership.App) && role != membership.RoleUnmanaged {
		errs.Add(at(roleNode), "%s can't have a role (%s): only people's roles are managed", p, quote(scalar(roleNode)))
		return membership.DesiredMember{}, nil, false
	}
	return membership.DesiredMember{Principal: p, Role: role, Source: membership.At(at(n))}, nil, true
}

// parseRule reads group: (by email), group_members:, org_unit: or query:,
// returning the rule and the node it was written at.
func parseRule(keys map[string]*yaml.Node, role membership.Role) (*membership.Rule, *yaml.Node, error) {
	for _, kind := range []membership.RuleKind{membership.RuleGroup, membership.RuleGroupMembers, membership.RuleOrgUnit, membership.RuleQuery} {
		if n := keys[string(kind)]; n != nil {
			r, err := NewRule(kind, scalar(n), role)
			return r, n, err
		}
	}
	return nil, nil, errors.New("no rule") // unreachable: the caller checked one key is there
}

// forEachKey calls fn for each key of a mapping, in order. A key given twice
// is an error at the second one, which is then skipped: yaml.v3 keeps both in
// a Node, and letting the later one win would silently drop the first block
// (two files concatenated give two spaces: keys).
func forEachKey(m *yaml.Node, at func(*yaml.Node) membership.Location, errs *Errors, fn func(k, v *yaml.Node)) {
	firstLine := make(map[string]int, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind == yaml.ScalarNode {
			if line, seen := firstLine[k.Value]; seen {
				errs.Add(at(k), "duplicate key %s (first at line %d)", quote(k.Value), line)
				continue
			}
			firstLine[k.Value] = k.Line
		}
		fn(k, m.Content[i+1])
	}
}

// scalar is a node's text; non-scalars yield a marker the parsers reject.
func scalar(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		return fmt.Sprintf("<%s>", kindName(n.Kind))
	}
	return n.Value
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

// yamlErrorLine digs the line out of yaml.v3's "yaml: line N: ..." messages.
func yamlErrorLine(err error) int {
	var line int
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		fmt.Sscanf(msg[i:], "line %d", &line)
	}
	return line
}

func yamlErrorText(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if strings.HasPrefix(msg, "line ") {
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
	}
	return msg
}

// maxYAMLBisect bounds the text YAMLSyntaxError searches for the line of
// a syntax error: each step parses a prefix of it, about log2(lines)
// parses in all. Above it yaml.v3's own line is kept.
const maxYAMLBisect = 8 << 20

// YAMLSyntaxError is the line of a YAML syntax error err that parsing data
// (every document in it, into yaml.Node) gave, and yaml.v3's message
// without its "yaml: line N: " prefix.
//
// yaml.v3 reports the line where the construct around the mistake began
// (the block mapping of a whole space, for an item indented one space
// short), and for parser errors counts lines from 0. The line given here
// is instead the first line k at which the text stops parsing the way the
// whole file fails: lines 1..k fail with the same error as the whole data,
// lines 1..k-1 do not. It is found by bisection over line prefixes
// (starting from yaml.v3's line when it can), so a few parses. Comparing
// the error, not only failure, keeps a construct that merely continues
// on the next line (a list written over several lines) from being taken
// for the mistake. Outside data over
// maxYAMLBisect, or UTF-16, yaml.v3's line is kept; either way the line is
// between 1 and the number of lines in data.
func YAMLSyntaxError(data []byte, err error) (line int, msg string) {
	line, msg = yamlErrorLine(err), yamlErrorText(err)
	ends := lineEnds(data)
	if len(ends) == 0 {
		return 0, msg
	}
	clamp := func(l int) int { return min(max(l, 1), len(ends)) }
	if len(data) > maxYAMLBisect || bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) {
		return clamp(line), msg
	}
	want := err.Error()
	fails := func(k int) bool { // lines 1..k fail as the whole data does
		e := parseYAMLNodes(data[:ends[k-1]])
		return e != nil && e.Error() == want
	}
	if !fails(len(ends)) {
		return clamp(line), msg // err is not what parsing data gives
	}
	lo, hi := 0, len(ends) // !fails(lo) (no text fails), fails(hi)
	// yaml.v3's line is at or just before where the construct around the
	// mistake began: when the text before it does not fail, the search
	// starts there, and takes a few parses, not log2(lines), in a long file.
	if h := min(line, len(ends)) - 1; h > 0 && !fails(h) {
		lo = h
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, msg
}

// lineEnds is the offset just past each line of data (past its \n, \r\n
// or lone \r, each of which yaml.v3 ends a line at; or the end of data for
// a last line without one).
func lineEnds(data []byte) []int {
	var ends []int
	for i := 0; i < len(data); {
		j := bytes.IndexAny(data[i:], "\r\n")
		if j < 0 {
			ends = append(ends, len(data))
			break
		}
		i += j + 1
		if data[i-1] == '\r' && i < len(data) && data[i] == '\n' {
			i++
		}
		ends = append(ends, i)
	}
	return ends
}

// parseYAMLNodes parses every document of data into yaml.Node: syntax
// only, the first error.
func parseYAMLNodes(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		switch err := dec.Decode(&n); err {
		case nil:
		case io.EOF:
			return nil
		default:
			return err
		}
	}
}

// NextDocument reads the documents after the first until the end, and
// returns the line of the first that is not empty (0: none).
func NextDocument(dec *yaml.Decoder) (int, error) {
	for {
		var next yaml.Node
		switch err := dec.Decode(&next); {
		case err == io.EOF:
			return 0, nil
		case err != nil:
			return 0, err
		case !EmptyDocument(&next):
			return next.Line, nil
		}
	}
}

// EmptyDocument: a trailing --- with nothing after it.
func EmptyDocument(n *yaml.Node) bool {
	return len(n.Content) == 0 || len(n.Content) == 1 && n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null"
}
