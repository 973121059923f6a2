package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Partial responses. Every Google API takes the `fields` system parameter
// and answers with only the fields it names: `a,b` several, `a/b` one
// inside another, `a(b,c)` several inside one, `*` every field at its
// level; a selection naming a field the resource does not have is a 400
// (the Directory API's "Performance tips",
// https://developers.google.com/workspace/admin/directory/v1/guides/performance:
// a proper selection is answered 200 with what it names, a bad one 400
// with a message saying what was wrong with it). The emulator
// does the same, so a field the syncer reads but forgot to ask for is
// missing here as it would be from Google, and tests see it.

// selection is a parsed fields mask: each named field maps to what is
// selected inside it, nil for all of it.
type selection map[string]selection

// parseFields parses a fields mask.
func parseFields(expr string) (selection, error) {
	p := fieldsParser{s: expr}
	sel := selection{}
	if err := p.list(sel); err != nil {
		return nil, err
	}
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected %q at %d", p.s[p.i:], p.i)
	}
	return sel, nil
}

type fieldsParser struct {
	s string
	i int
}

func (p *fieldsParser) list(into selection) error {
	for {
		if err := p.item(into); err != nil {
			return err
		}
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		return nil
	}
}

// item reads name, name/item or name(list) into into.
func (p *fieldsParser) item(into selection) error {
	p.space()
	start := p.i
	for p.i < len(p.s) && isFieldByte(p.s[p.i]) {
		p.i++
	}
	name := p.s[start:p.i]
	if name == "" {
		return fmt.Errorf("a field name expected at %d", start)
	}
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != '/' && p.s[p.i] != '(' {
		into[name] = nil // all of it, whatever else names parts of it
		return nil
	}
	sub, seen := into[name]
	whole := seen && sub == nil
	if sub == nil {
		sub = selection{}
	}
	open := p.s[p.i]
	p.i++
	if open == '/' {
		if err := p.item(sub); err != nil {
			return err
		}
	} else {
		if err := p.list(sub); err != nil {
			return err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return fmt.Errorf("a closing parenthesis expected at %d", p.i)
		}
		p.i++
	}
	p.space()
	if !whole { // a,a/b is all of a
		into[name] = sub
	}
	return nil
}

func (p *fieldsParser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func isFieldByte(c byte) bool {
	return c == '_' || c == '*' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// unmodelled are fields Google's resources have (their discovery
// documents) that the emulator never fills: a mask may name them, and
// they are then absent, as an unset field is from Google.
var unmodelled = map[reflect.Type][]string{
	reflect.TypeFor[wireSpace](): {"type", "singleUserBotDm", "threaded", "spaceThreadingState", "spaceDetails",
		"spaceHistoryState", "importMode", "createTime", "lastActiveTime", "adminInstalled", "membershipCount",
		"accessSettings", "spaceUri", "externalUserAllowed", "importModeExpireTime", "predefinedPermissionSettings",
		"permissionSettings", "customer"},
	reflect.TypeFor[wireUser]():       {"domainId", "isAnonymous", "avatarUrl"},
	reflect.TypeFor[wireMembership](): {"deleteTime", "affiliation"},
	reflect.TypeFor[wireDirectoryUser](): {"etag", "name", "isAdmin", "isDelegatedAdmin", "lastLoginTime",
		"creationTime", "agreedToTerms", "password", "hashFunction", "changePasswordAtNextLogin", "ipWhitelisted",
		"emails", "relations", "externalIds", "addresses", "organizations", "phones", "languages", "posixAccounts",
		"sshPublicKeys", "notes", "websites", "locations", "includeInGlobalAddressList", "keywords", "gender",
		"thumbnailPhotoUrl", "thumbnailPhotoEtag", "customSchemas", "isEnrolledIn2Sv", "isEnforcedIn2Sv",
		"ims", "isMailboxSetup", "customerId", "deletionTime", "suspensionReason", "recoveryEmail", "recoveryPhone",
		"guestAccountInfo", "isGuestUser", "archivalTime", "suspensionTime"},
	reflect.TypeFor[wireDirectoryList](): {"etag", "trigger_event"},
	reflect.TypeFor[wireGroupResource](): {"etag", "name", "description", "directMembersCount", "aliases",
		"nonEditableAliases", "adminCreated", "externalIds"},
	reflect.TypeFor[wireGroupMember]():  {"etag", "delivery_settings"},
	reflect.TypeFor[wireGroupMembers](): {"etag"},
}

type wireField struct {
	name      string
	index     int
	omitEmpty bool
}

var wireFieldsCache sync.Map // reflect.Type → []wireField

func wireFields(t reflect.Type) []wireField {
	if f, ok := wireFieldsCache.Load(t); ok {
		return f.([]wireField)
	}
	var out []wireField
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" || name == "-" {
			continue
		}
		out = append(out, wireField{name: name, index: i, omitEmpty: opts == "omitempty"})
	}
	wireFieldsCache.Store(t, out)
	return out
}

// elem is the struct a field's values are, through pointers and slices
// (nil for strings, booleans, numbers).
func elem(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	return t
}

// checkFields reports the first field sel names that t does not have, as
// Google words it.
func checkFields(sel selection, t reflect.Type, path string) error {
	t = elem(t)
	for _, name := range slices.Sorted(maps.Keys(sel)) { // the first in order, whatever the map's
		sub := sel[name]
		at := strings.TrimPrefix(path+"/"+name, "/")
		if t == nil {
			return fmt.Errorf("Invalid field selection %s", at)
		}
		if name == "*" {
			if sub == nil {
				continue
			}
			for _, f := range wireFields(t) { // what is inside every field
				if err := checkFields(sub, t.Field(f.index).Type, strings.TrimPrefix(path+"/"+f.name, "/")); err != nil {
					return err
				}
			}
			continue
		}
		var ft reflect.Type
		for _, f := range wireFields(t) {
			if f.name == camel(name) {
				ft = t.Field(f.index).Type
			}
		}
		if ft == nil {
			known := false
			for _, n := range unmodelled[t] {
				known = known || n == camel(name)
			}
			if !known {
				return fmt.Errorf("Invalid field selection %s", at)
			}
			// Never filled, so not modelled: what is inside it is not
			// checked (most are strings or lists of them; a few objects).
			continue
		}
		if sub != nil {
			if err := checkFields(sub, ft, at); err != nil {
				return err
			}
		}
	}
	return nil
}

// camel turns a proto field name (next_page_token) into its JSON name
// (nextPageToken): Google takes either in a mask.
func camel(name string) string {
	if !strings.Contains(name, "_") {
		return name
	}
	parts := strings.Split(name, "_")
	for i := range parts {
		if parts[i] == "" {
			return name // member_, _name, a__b: no proto name; refused as is
		}
		if i > 0 {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// requestFields is the plan for a request's fields mask on the resource
// its method answers with (nil without a mask), or the 400 Google gives a
// mask naming a field the resource does not have. A mask is parsed and
// checked once per resource, not per page (plans).
func requestFields(r *http.Request, resource reflect.Type) (*plan, *apiError) {
	mask := r.URL.Query().Get("fields")
	if mask == "" || resource == nil {
		return nil, nil
	}
	k := planKey{resource, mask}
	plans.Lock()
	p, ok := plans.m[k]
	plans.Unlock()
	if ok {
		return p, nil
	}
	sel, err := parseFields(mask)
	if err == nil {
		err = checkFields(sel, resource, "")
	}
	if err != nil {
		return nil, errorf(400, "INVALID_ARGUMENT", "Request contains an invalid argument: fields: %v", err)
	}
	p = compile(sel, resource)
	plans.Lock()
	defer plans.Unlock()
	if plans.m == nil {
		plans.m = map[planKey]*plan{}
	}
	if len(plans.m) < 256 && len(mask) <= 1024 { // at most a quarter of a megabyte of masks
		plans.m[k] = p
	}
	return p, nil
}

// writeResource answers 200 with v, cut down to the request's fields mask.
func writeResource(w http.ResponseWriter, r *http.Request, v any) {
	p, aerr := requestFields(r, reflect.TypeOf(v))
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	if p == nil {
		writeJSON(w, http.StatusOK, v)
		return
	}
	buf := encodeBuffers.Get().(*bytes.Buffer)
	defer encodeBuffers.Put(buf)
	buf.Reset()
	encodeSelected(buf, reflect.ValueOf(v), p)
	buf.WriteByte('\n')
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

var encodeBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// plan is a selection compiled for a type: which fields to write, in the
// order encoding/json writes them. A nil plan writes all of a value.
type plan struct {
	fields []planField
}

type planField struct {
	index     int
	key       string // "name":
	omitEmpty bool
	sub       *plan
}

// compile turns sel into a plan for values of type t.
func compile(sel selection, t reflect.Type) *plan {
	if sel == nil {
		return nil
	}
	st := elem(t)
	if st == nil {
		return nil // checkFields refused a selection inside a leaf
	}
	p := &plan{}
	star, all := sel["*"]
	for _, f := range wireFields(st) {
		sub, ok := sel[f.name]
		for name, s := range sel {
			if !ok && camel(name) == f.name {
				sub, ok = s, true
			}
		}
		switch {
		case all && star == nil:
			sub, ok = nil, true // *,a(b) is all of a, as a,a/b is
		case all && !ok:
			sub, ok = star, true
		}
		if ok {
			p.fields = append(p.fields, planField{index: f.index, key: `"` + f.name + `":`, omitEmpty: f.omitEmpty, sub: compile(sub, st.Field(f.index).Type)})
		}
	}
	return p
}

type planKey struct {
	t    reflect.Type
	mask string
}

// plans caches compiled plans: a client asks the same mask page after
// page. Bounded, as masks come from whoever calls.
var plans struct {
	sync.Mutex
	m map[planKey]*plan
}

// encodeSelected writes v as encoding/json would, keeping only what p
// selects (nil: all of it).
func encodeSelected(buf *bytes.Buffer, v reflect.Value, p *plan) {
	switch v.Kind() {
	case reflect.String:
		writeString(buf, v.String())
		return
	case reflect.Bool:
		buf.WriteString(strconv.FormatBool(v.Bool()))
		return
	case reflect.Pointer:
		if v.IsNil() {
			buf.WriteString("null")
			return
		}
		encodeSelected(buf, v.Elem(), p)
		return
	case reflect.Slice:
		if p == nil {
			break
		}
		if v.IsNil() {
			buf.WriteString("null")
			return
		}
		buf.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				buf.WriteByte(',')
			}
			encodeSelected(buf, v.Index(i), p)
		}
		buf.WriteByte(']')
		return
	case reflect.Struct:
		if p == nil {
			break
		}
		buf.WriteByte('{')
		first := true
		for _, f := range p.fields {
			fv := v.Field(f.index)
			if f.omitEmpty && empty(fv) {
				continue
			}
			if !first {
				buf.WriteByte(',')
			}
			first = false
			buf.WriteString(f.key)
			encodeSelected(buf, fv, f.sub)
		}
		buf.WriteByte('}')
		return
	}
	b, _ := json.Marshal(v.Interface())
	buf.Write(b)
}

// empty is encoding/json's omitempty test.
func empty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map, reflect.String, reflect.Array:
		return v.Len() == 0
	}
	return v.IsZero()
}

// writeString writes a JSON string: plain ones as they are, the rest as
// encoding/json escapes them.
func writeString(buf *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
			b, _ := json.Marshal(s)
			buf.Write(b)
			return
		}
	}
	buf.WriteByte('"')
	buf.WriteString(s)
	buf.WriteByte('"')
}
