package source

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/syncer-dev/syncer/internal/membership"
)

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
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		errs.Add(membership.Location{File: file, Line: yamlErrorLine(err)}, "invalid YAML: %s", yamlErrorText(err))
		return
	}
	// Concatenated files (--- between them) are several documents: reading
	// only the first would drop the others without a word.
	var next yaml.Node
	if err := dec.Decode(&next); err == nil && !emptyDocument(&next) {
		errs.Add(membership.Location{File: file, Line: next.Line}, "a second YAML document (after ---): a source is one document; merge the spaces: lists")
		return
	} else if err != nil && err != io.EOF {
		errs.Add(membership.Location{File: file, Line: yamlErrorLine(err)}, "invalid YAML: %s", yamlErrorText(err))
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

func readYAMLSpace(sn *yaml.Node, at func(*yaml.Node) membership.Location, b *builder, errs *Errors) {
	if sn.Kind != yaml.MappingNode {
		errs.Add(at(sn), "a space must be a mapping with space: and members:")
		return
	}
	var spaceNode, labelNode, membersNode, policyNode *yaml.Node
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
		default:
			errs.Add(at(k), "unknown key %s in a space (want space, label, policy, members)", quote(k.Value))
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
	for _, mn := range membersNode.Content {
		if m, ok := readYAMLMember(mn, at, errs); ok {
			b.add(s, m)
		}
	}
}

func readYAMLMember(mn *yaml.Node, at func(*yaml.Node) membership.Location, errs *Errors) (membership.DesiredMember, bool) {
	loc := at(mn)
	switch mn.Kind {
	case yaml.ScalarNode:
		p, err := parseMember(mn.Value)
		if err != nil {
			errs.Add(loc, "%v", err)
			return membership.DesiredMember{}, false
		}
		return membership.DesiredMember{Principal: p, Source: loc}, true
	case yaml.MappingNode:
	default:
		errs.Add(loc, "a member must be an email, an ID, or a mapping with user: or group:")
		return membership.DesiredMember{}, false
	}
	var user, group, role *yaml.Node
	forEachKey(mn, at, errs, func(k, v *yaml.Node) {
		switch k.Value {
		case "user":
			user = v
		case "group":
			group = v
		case "role":
			role = v
		default:
			errs.Add(at(k), "unknown key %s in a member (want user, group, role)", quote(k.Value))
		}
	})
	var (
		p   membership.Principal
		err error
	)
	switch {
	case user != nil && group != nil:
		errs.Add(loc, "a member has either user: or group:, not both")
		return membership.DesiredMember{}, false
	case user != nil:
		p, err = parseMember(scalar(user))
		loc = at(user)
	case group != nil:
		p, err = parseGroup(scalar(group))
		loc = at(group)
	default:
		errs.Add(loc, "member has neither user: nor group:")
		return membership.DesiredMember{}, false
	}
	if err != nil {
		errs.Add(loc, "%v", err)
		return membership.DesiredMember{}, false
	}
	m := membership.DesiredMember{Principal: p, Source: loc}
	if role != nil {
		r, err := parseRole(scalar(role))
		if err != nil {
			errs.Add(at(role), "%v", err)
			return membership.DesiredMember{}, false
		}
		if (p.IsGroup() || p == membership.App) && r != membership.RoleUnmanaged {
			errs.Add(at(role), "%s can't have a role (%s): only people's roles are managed", p, quote(scalar(role)))
			return membership.DesiredMember{}, false
		}
		m.Role = r
	}
	return m, true
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

// emptyDocument: a trailing --- with nothing after it.
func emptyDocument(n *yaml.Node) bool {
	return len(n.Content) == 0 || len(n.Content) == 1 && n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null"
}
