package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/syncer-dev/syncer/internal/source"
)

// The config as a YAML tree: its keys checked against the types they
// decode into, and where in it a key or an entry was written, for the
// line of each problem.

// checkKeys reports, in n and everything in it, each key that the type
// it decodes into (t) does not have, and each key written twice, which it
// then drops, as a source's is: the rest is decoded and checked. What
// yaml.v3 decodes into t through an alias (*a) or a merge (<<: *a, a
// mapping or a list of them) is checked against t too, as KnownFields did:
// a key misspelt there is otherwise ignored without a word.
//
// A value of the wrong type is reported under its key's name
// (limits.call_timeout: "5" is not a duration), which yaml.v3's own
// message does not give, and is replaced by a null, which keeps the
// default (or leaves the entry out of a list) as yaml.v3 does with what it
// refuses. The nulls put in its place are returned.
func checkKeys(n *yaml.Node, t reflect.Type, add func(line int, format string, args ...any)) map[*yaml.Node]bool {
	c := keyChecker{add: add, seen: map[checked]bool{}, refused: map[*yaml.Node]bool{}}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		if msg := mismatch(n.Content[0], t); msg != "" {
			add(n.Content[0].Line, "%s (sources:, policy:, ...)", msg)
			n.Content[0] = c.refuse(n.Content[0])
			return c.refused
		}
	}
	c.check(n, t, "")
	return c.refused
}

type keyChecker struct {
	add func(line int, format string, args ...any)
	// seen: a node already checked against a type, through an alias or
	// where it was written, is not checked (nor reported) again.
	seen    map[checked]bool
	refused map[*yaml.Node]bool
}

type checked struct {
	n *yaml.Node
	t reflect.Type
}

func (c *keyChecker) check(n *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return // Limit, Grace: they check their own value
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return
		}
		n = n.Alias
	}
	if c.seen[checked{n, t}] {
		return
	}
	c.seen[checked{n, t}] = true
	switch n.Kind {
	case yaml.DocumentNode:
		for _, e := range n.Content {
			c.check(e, t, path)
		}
	case yaml.SequenceNode:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, e := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if msg := mismatch(e, t.Elem()); msg != "" {
					c.add(e.Line, "%s: %s", p, msg)
					n.Content[i] = c.refuse(e)
					continue
				}
				c.check(e, t.Elem(), p)
			}
		}
	case yaml.MappingNode:
		if t.Kind() != reflect.Struct {
			return
		}
		fields := yamlFields(t)
		first := map[string]int{}
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Value == "<<" { // a merge: its keys are t's
				kept = append(kept, k, v)
				c.merged(v, t, path)
				continue
			}
			if line, seen := first[k.Value]; seen {
				c.add(k.Line, "duplicate key %q (first at line %d)", k.Value, line)
				continue
			}
			first[k.Value] = k.Line
			ft, known := fields[k.Value]
			if !known {
				kept = append(kept, k, v)
				c.add(k.Line, "unknown key %q", k.Value)
				continue
			}
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if msg := mismatch(v, ft); msg != "" {
				c.add(v.Line, "%s: %s", p, msg)
				kept = append(kept, k, c.refuse(v))
				continue
			}
			kept = append(kept, k, v)
			c.check(v, ft, p)
		}
		n.Content = kept
	}
}

// refuse is the null that stands for a value refused.
func (c *keyChecker) refuse(v *yaml.Node) *yaml.Node {
	null := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: v.Line, Column: v.Column}
	c.refused[null] = true
	return null
}

// mismatch says why a value (n) can't be decoded into t, in words an
// admin reads, or "" when it can (or when what is in it is checked further
// down). A null is let through: yaml.v3 keeps the default for it.
func mismatch(n *yaml.Node, t reflect.Type) string {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return ""
		}
		n = n.Alias
	}
	if isNull(n) {
		return ""
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		// Limit, Grace: their own message, without yaml.v3's line.
		var te *yaml.TypeError
		if err := n.Decode(reflect.New(t).Interface()); errors.As(err, &te) && len(te.Errors) > 0 {
			_, msg := splitYAMLError(te.Errors[0])
			return msg
		}
		return ""
	}
	var shape string
	switch n.Kind {
	case yaml.SequenceNode:
		shape = "a list"
	case yaml.MappingNode:
		shape = "a mapping"
	case yaml.ScalarNode:
		shape = source.Quote(n.Value)
	default:
		return ""
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return shape + ", where a mapping of keys is wanted"
		}
		return ""
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return shape + ", where a list is wanted"
		}
		return ""
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
	default:
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		return shape + ", where a single value is wanted"
	}
	err := n.Decode(reflect.New(t).Interface())
	switch {
	case t == durationType:
		if err == nil {
			return ""
		}
		if _, e := strconv.ParseFloat(n.Value, 64); e == nil {
			return fmt.Sprintf("%s is not a duration: give its unit, e.g. %ss, %sm or %sh", shape, n.Value, n.Value, n.Value)
		}
		return shape + " is not a duration (e.g. 30s, 5m or 1h)"
	case t.Kind() == reflect.Bool:
		if err == nil {
			return ""
		}
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			return shape + " is in quotes, a string: write true or false without them"
		}
		return shape + " is not true or false"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		if err != nil {
			return shape + " is not a number"
		}
	case t.Kind() != reflect.String:
		// yaml.v3 takes 2.9 for 2 without a word.
		if f, e := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64); err != nil || (n.ShortTag() == "!!float" && (e != nil || f != math.Trunc(f))) {
			return shape + " is not a whole number"
		}
	}
	return ""
}

var durationType = reflect.TypeOf(time.Duration(0))

// merged checks what a merge key brings into a mapping of t: a mapping,
// an alias of one, or a list of them (anything else yaml.v3 refuses).
func (c *keyChecker) merged(v *yaml.Node, t reflect.Type, path string) {
	if v.Kind == yaml.SequenceNode {
		for _, e := range v.Content {
			c.check(e, t, path)
		}
		return
	}
	c.check(v, t, path)
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// yamlFields is the type of each key a struct decodes, by key, as yaml.v3
// names them: the tag's name, or the field's name in lower case.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") && f.Type.Kind() == reflect.Struct {
			for k, ft := range yamlFields(f.Type) {
				fields[k] = ft
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields
}

// valueOf is the value of a key path in a parsed document (or mapping),
// or nil.
func valueOf(root *yaml.Node, keys ...string) *yaml.Node {
	n := root
	if n == nil {
		return nil
	}
	n = top(n)
	for _, k := range keys {
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var v *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				v = n.Content[i+1]
				break
			}
		}
		if v == nil {
			return nil
		}
		n = top(v)
	}
	return n
}

// top is the node n stands for: a document's content, an alias's target.
func top(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// writtenEntries maps the i-th decoded entry of a list of mappings or of
// strings (kind) to its index in the list as written (yaml.v3 leaves out an
// entry it can't decode, a bare string for a mapping say, and a null), or
// nil when the two can't be matched.
func writtenEntries(list *yaml.Node, decoded int, kind yaml.Kind) []int {
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil
	}
	var idx []int
	for i, e := range list.Content {
		if e.Kind == yaml.AliasNode && e.Alias != nil {
			e = e.Alias
		}
		if e.Kind == kind && !isNull(e) {
			idx = append(idx, i)
		}
	}
	if len(idx) != decoded {
		return nil
	}
	return idx
}

// refusedList reports whether a list was written that yaml.v3 refused
// (reporting why), as opposed to none, null or only empty entries.
func refusedList(n *yaml.Node, refused map[*yaml.Node]bool) bool {
	if n != nil && refused[n] {
		return true
	}
	if n == nil || isNull(n) {
		return false
	}
	if n.Kind != yaml.SequenceNode {
		return true
	}
	for _, e := range n.Content {
		if !isNull(e) || refused[e] {
			return true
		}
	}
	return false
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// lineOf finds the line of a key path in a parsed document (0 if absent).
func lineOf(root *yaml.Node, keys ...string) int {
	n := top(root)
	line := 0
	for _, k := range keys {
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				line, n, found = n.Content[i].Line, top(n.Content[i+1]), true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}
