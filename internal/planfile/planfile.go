// Package planfile saves a reviewed plan and decides, later, whether it
// may still be applied as it was reviewed.
//
// A plan file holds the plan as the report showed it, and for every space
// the plan touches, the memberships it was computed from with an
// order-independent fingerprint. Applying it re-lists those spaces only;
// each must still hold what was recorded, give or take the plan's own
// changes (a rerun after a partial apply finishes it). Anything else moved
// the space, and nothing is written.
//
// The file is JSON with a checksum over its content: it is a review
// artifact, and editing it is not a review path.
package planfile

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/fsutil"
	"github.com/syncer-dev/syncer/internal/membership"
)

// Format is the version this syncer writes and reads. A plan has fields
// syncer-plan/1 (v0.1.0) does not know (a space's desired digest), which
// v0.1.0 would call damage; FormatV1, a plan v0.1.0 wrote, is still read.
const Format = "syncer-plan/2"

// FormatV1 is the format of plans v0.1.0 wrote: every field it has is one
// of this version's.
const FormatV1 = "syncer-plan/1"

// maxSize bounds a plan file read back (a plan of a million changes is
// a few hundred MB; past that, something is wrong).
const maxSize = 512 << 20

// File is a saved plan.
type File struct {
	Format  string    `json:"format"`
	Created time.Time `json:"created"`
	Version string    `json:"syncer_version"`
	// Target is what the plan was made for; applying it anywhere else is
	// refused.
	Target   Target   `json:"target"`
	Settings Settings `json:"settings"`
	// Sources are the files read and their SHA-256: a record for the
	// reviewer, never checked (apply --plan does not read the sources).
	Sources []Source `json:"sources"`
	// Spaces are the spaces the plan touches, as they were when planned.
	Spaces []Space `json:"spaces"`
	// Plan is the plan as the report showed it.
	Plan diff.Plan `json:"plan"`
	// Removals is the removal rails' state as a regular apply of this plan
	// would have left it (policy sync only), saved when the plan is applied
	// in full, if the state has not moved since (Version).
	Removals *Removals `json:"removals_state,omitempty"`
	Checksum string    `json:"checksum"`
}

// Target is where and as whom a plan applies.
type Target struct {
	Config      string `json:"config"` // a record
	Endpoint    string `json:"endpoint"`
	AuthMode    string `json:"auth_mode"`
	ActingAs    string `json:"acting_as"`
	AdminAccess bool   `json:"use_admin_access"`
	// SourcePaths are the config's sources, absolute: another list is
	// another set of managed spaces.
	SourcePaths []string `json:"source_paths"`
}

// Settings shaped the plan.
type Settings struct {
	Policy string `json:"policy"`
	// AllowRemovals is plan's --allow-removals (nil: not given): the
	// review is the consent, so apply --plan takes no flag.
	AllowRemovals *int `json:"allow_removals"`
	// Blocked is the safety rails' verdict: empty when they passed.
	Blocked []string `json:"blocked"`
	// Incomplete says what the plan could not see.
	Incomplete []string `json:"incomplete"`
	// Applicable is false for a plan the rails blocked or that could not
	// see everything; apply --plan refuses it.
	Applicable bool `json:"applicable"`
}

// Source is one source file read for the plan.
type Source struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// Space is one touched space as the plan saw it.
type Space struct {
	Name        string   `json:"space"`
	Fingerprint string   `json:"fingerprint"`
	Memberships []Member `json:"memberships"`
	// Desired is DesiredDigest of what the sources said of the space when
	// planned (empty in plans made before it was recorded): apply --plan
	// makes no removal there if the sources say otherwise now.
	Desired string `json:"desired,omitempty"`
}

// DesiredDigest is an order-independent digest of what the sources say of
// a space before any Directory rule is expanded: each member with its
// role, each rule with its role and options, the space's own policy.
func DesiredDigest(ds membership.DesiredSpace) string {
	lines := []string{"policy " + ds.Policy}
	for _, m := range ds.Members {
		lines = append(lines, fmt.Sprintf("member %s %s", m.Principal, m.Role))
	}
	for _, r := range ds.Rules {
		lines = append(lines, fmt.Sprintf("rule %s %s %t", r.Key(), r.Role, r.AllowEmpty))
	}
	slices.Sort(lines)
	// The same rule written twice (two files naming one group) is asked
	// once and says nothing new: it is digested once.
	lines = slices.Compact(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:12])
}

// Member is one membership as listed.
type Member struct {
	Name   string               `json:"name"` // spaces/X/members/Y
	Member membership.Principal `json:"member"`
	Email  string               `json:"email,omitempty"`
	Role   membership.Role      `json:"role,omitempty"`
	State  membership.State     `json:"state,omitempty"`
	App    bool                 `json:"app,omitempty"`
}

// Removals is the removals' state document to save after the apply.
type Removals struct {
	// Version is the state's version when the plan was made ("" for none).
	Version string          `json:"version"`
	Data    json.RawMessage `json:"data"`
}

// Members records a space's memberships, sorted by name.
func Members(ms []membership.Membership) []Member {
	out := make([]Member, len(ms))
	for i, m := range ms {
		out[i] = Member{Name: m.Name, Member: m.Principal, Email: m.Email, Role: m.Role, State: m.State, App: m.Bot}
	}
	slices.SortFunc(out, func(a, b Member) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Fingerprint is a space's memberships in one value: the same set in any
// order gives the same fingerprint; any membership's name, role or state
// changed, added or gone gives another.
func Fingerprint(ms []Member) string {
	lines := make([]string, len(ms))
	for i, m := range ms {
		lines[i] = m.Name + "\x1f" + string(m.Role) + "\x1f" + string(m.State) + "\n"
	}
	slices.Sort(lines)
	h := sha256.New()
	for _, l := range lines {
		io.WriteString(h, l)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Encode seals the file with its checksum and returns its bytes.
func (f *File) Encode() ([]byte, error) {
	f.Format = Format
	sum, err := f.sum()
	if err != nil {
		return nil, err
	}
	f.Checksum = sum
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// sum is the checksum over everything but the checksum itself.
func (f *File) sum() (string, error) {
	c := *f
	c.Checksum = ""
	data, err := json.Marshal(&c)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(h[:]), nil
}

// Write saves the file atomically with mode 0600.
func Write(path string, f *File) error {
	data, err := f.Encode()
	if err != nil {
		return err
	}
	return fsutil.WriteAtomic(path, data, 0o600)
}

// ErrInvalid marks a file that can't be applied as it is: not a plan, a
// format this syncer doesn't know, or edited since it was written.
var ErrInvalid = errors.New("not an applicable plan file")

// Read reads a plan file back, refusing anything that is not a plan this
// syncer wrote, byte for byte as far as its content goes.
func Read(path string) (*File, error) {
	data, err := fsutil.ReadFile(path, maxSize)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", path, ErrInvalid, err)
	}
	return Decode(path, data)
}

// Decode is Read on bytes already read; path is for messages.
func Decode(path string, data []byte) (*File, error) {
	invalid := func(format string, a ...any) error {
		return fmt.Errorf("%s: %w: %s", path, ErrInvalid, fmt.Sprintf(format, a...))
	}
	var head struct {
		Format string `json:"format"`
	}
	if !json.Valid(data) {
		return nil, invalid("not valid JSON: damaged or cut short (a plan is made with syncer plan --out FILE)")
	}
	if err := json.Unmarshal(data, &head); err != nil || head.Format == "" {
		return nil, invalid("not a syncer plan (make one with syncer plan --out FILE)")
	}
	if head.Format != Format && head.Format != FormatV1 {
		if strings.HasPrefix(head.Format, "syncer-plan/") {
			return nil, invalid("format %q is not %q: it was written by another syncer version; make the plan again with this one", head.Format, Format)
		}
		return nil, invalid("format %q: not a syncer plan", head.Format)
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, invalid("it does not read as a %s plan (%v): it was edited or damaged; make a new plan", head.Format, err)
	}
	if dec.More() {
		return nil, invalid("more than one JSON value: it was edited or damaged; make a new plan")
	}
	want, err := f.sum()
	if err != nil {
		return nil, invalid("%v", err)
	}
	if f.Checksum != want {
		return nil, invalid("its checksum does not match its content: it was edited after it was written. Editing a plan is not a review path: change the sources and make a new plan")
	}
	for _, s := range f.Spaces {
		if Fingerprint(s.Memberships) != s.Fingerprint {
			return nil, invalid("space %s: the fingerprint does not match the memberships recorded", s.Name)
		}
	}
	return &f, nil
}

// Touched are the names of the spaces the plan changes, in plan order.
func (f *File) Touched() []string {
	var out []string
	for _, c := range f.Plan.Changes {
		if len(out) == 0 || out[len(out)-1] != c.Space {
			if !slices.Contains(out, c.Space) {
				out = append(out, c.Space)
			}
		}
	}
	return out
}
