// Package source reads desired memberships from YAML and CSV files and merges
// them into one membership.Desired. It reports every problem it finds with
// file, line (column for CSV) and the offending value, and never calls the
// network.
package source

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/syncer-dev/syncer/internal/fsutil"
	"github.com/syncer-dev/syncer/internal/membership"
)

// Spec says where a source is and how to read it.
type Spec struct {
	Path      string  `yaml:"path"`
	Format    string  `yaml:"format,omitempty"`    // yaml or csv; from the extension when empty
	Columns   Columns `yaml:"columns,omitempty"`   // CSV only
	Delimiter string  `yaml:"delimiter,omitempty"` // CSV only: ",", ";", "tab"; detected when empty
}

// Columns renames the CSV columns; headers match case-insensitively.
type Columns struct {
	Space  string `yaml:"space,omitempty"`
	Member string `yaml:"member,omitempty"`
	Role   string `yaml:"role,omitempty"`
}

// FormatName is the spec's format, yaml or csv, from its extension when
// not given.
func (s Spec) FormatName() (string, error) { return s.format() }

// Format returns the spec's format, from its extension when not given.
func (s Spec) format() (string, error) {
	if s.Format != "" {
		f := strings.ToLower(s.Format)
		if f != "yaml" && f != "csv" {
			return "", fmt.Errorf("unknown format %q (want yaml or csv)", s.Format)
		}
		return f, nil
	}
	switch strings.ToLower(filepath.Ext(s.Path)) {
	case ".yaml", ".yml":
		return "yaml", nil
	case ".csv", ".tsv", ".txt":
		return "csv", nil
	}
	return "", fmt.Errorf("can't tell the format of %q from its extension; set format: yaml or csv", s.Path)
}

// maxSourceSize bounds one source file. A million-row CSV export is about
// 60 MB; anything past this is the wrong file or a runaway export, and is
// refused before it is read into memory.
const maxSourceSize = 256 << 20

// Load reads every source and merges them. On any problem it returns all of
// them as Errors and no desired state, so nothing half-read is ever applied.
func Load(specs []Spec) (membership.Desired, error) {
	d, _, err := LoadWithWarnings(specs)
	return d, err
}

// LoadWithWarnings is Load that also returns warnings: likely mistakes that
// still leave the desired state well defined, such as one file listed twice.
// Warnings are returned even when loading fails.
func LoadWithWarnings(specs []Spec) (membership.Desired, []string, error) {
	return loadAll(specs, nil)
}

// loadAll is LoadWithWarnings; read, when set, sees each file's bytes.
func loadAll(specs []Spec, read func(path string, data []byte)) (membership.Desired, []string, error) {
	var (
		errs     Errors
		warnings []string
	)
	b := newBuilder()
	if len(specs) == 0 {
		errs.Add(membership.Location{}, "no sources configured")
	}
	firstListed := make(map[string]string) // file identity → path as first listed
	for _, spec := range specs {
		id := fileIdentity(spec.Path)
		if first, dup := firstListed[id]; dup {
			warnings = append(warnings, fmt.Sprintf("%s: the same file as %s, listed twice in sources; it is read once", spec.Path, first))
			continue
		}
		firstListed[id] = spec.Path
		loadOne(spec, b, &errs, read)
	}
	d := b.finish(&errs)
	if len(errs) > 0 {
		return membership.Desired{}, warnings, errs
	}
	return d, warnings, nil
}

// fileIdentity is the absolute path with symlinks resolved, so ./a.csv,
// a.csv and a link to it compare equal. A path that can't be resolved (a
// missing file) stands for itself; reading it reports the problem.
func fileIdentity(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		return resolved
	}
	return abs
}

func loadOne(spec Spec, b *builder, errs *Errors, read func(path string, data []byte)) {
	at := membership.Location{File: spec.Path}
	format, err := spec.format()
	if err != nil {
		errs.Add(at, "%v", err)
		return
	}
	data, err := fsutil.ReadFile(spec.Path, maxSourceSize)
	if errors.Is(err, fsutil.ErrTooLarge) {
		errs.Add(at, "can't read source: %v; split it into several sources", err)
		return
	}
	if err != nil {
		errs.Add(at, "can't read source: %v", err)
		return
	}
	if read != nil {
		read(spec.Path, data)
	}
	entriesBefore, emptyBefore, errsBefore := b.entries, b.emptySpaces, len(*errs)
	switch format {
	case "yaml":
		readYAML(spec.Path, data, b, errs)
	case "csv":
		readCSV(spec, data, b, errs)
	}
	b.totals[spec.Path] += b.entries - entriesBefore
	if b.entries == entriesBefore && b.emptySpaces == emptyBefore && len(*errs) == errsBefore {
		// An empty export is far more often a broken pipeline than a wish.
		errs.Add(at, "source has no members; an empty source is refused so a broken export can't empty a space")
	}
}

// builder merges entries from every source.
type builder struct {
	spaces  map[string]*spaceEntries
	entries int
	// pending holds every member entry in the order the sources give it,
	// in chunks of pendingChunk: finish moves them into one array, each
	// space its part. (Each space's own slice grown by append copied and
	// threw away about 100 MB for a million-row source, and then a copy
	// of exactly its members another 45.)
	pending [][]pendingMember
	// emptySpaces counts spaces declared empty on purpose (allow_empty).
	emptySpaces int
	totals      map[string]int
}

// declareEmpty records a space whose source says nobody belongs in it.
func (b *builder) declareEmpty() { b.emptySpaces++ }

type spaceEntries struct {
	label    string
	source   membership.Location
	policy   string
	policyAt membership.Location
	members  []membership.DesiredMember // filled by finish
	count    int                        // member entries pending
	rules    []membership.Rule
}

// pendingMember is a member entry waiting for finish.
type pendingMember struct {
	space *spaceEntries
	m     membership.DesiredMember
}

// pendingChunk entries a chunk: 4,096 is 224 KB.
const pendingChunk = 4096

// policy sets a space's policy; two sources giving it different ones is an error.
func (b *builder) policy(s *spaceEntries, name, p string, at membership.Location, errs *Errors) {
	if s.policy != "" && s.policy != p {
		errs.Add(at, "policy %s of %s disagrees with policy %s at %s", quote(p), name, quote(s.policy), s.policyAt)
		return
	}
	s.policy, s.policyAt = p, at
}

func newBuilder() *builder {
	return &builder{spaces: make(map[string]*spaceEntries), totals: map[string]int{}}
}

func (b *builder) space(name, label string, at membership.Location) *spaceEntries {
	s := b.spaces[name]
	if s == nil {
		s = &spaceEntries{source: at}
		b.spaces[name] = s
	}
	if s.label == "" {
		s.label = label
	}
	return s
}

func (b *builder) add(s *spaceEntries, m membership.DesiredMember) {
	if n := len(b.pending); n == 0 || len(b.pending[n-1]) == pendingChunk {
		b.pending = append(b.pending, make([]pendingMember, 0, pendingChunk))
	}
	last := &b.pending[len(b.pending)-1]
	*last = append(*last, pendingMember{s, m})
	s.count++
	b.entries++
}

// place moves the pending entries into one array, each space's in a part
// of it, in the order they were given, and names the spaces in order.
func (b *builder) place() []string {
	names := slices.Sorted(maps.Keys(b.spaces))
	total := 0
	for _, name := range names {
		total += b.spaces[name].count
	}
	all := make([]membership.DesiredMember, total)
	off := 0
	for _, name := range names {
		s := b.spaces[name]
		s.members, off = all[off:off:off+s.count], off+s.count
	}
	for i, chunk := range b.pending {
		for _, p := range chunk {
			p.space.members = append(p.space.members, p.m)
		}
		b.pending[i] = nil
	}
	b.pending = nil
	return names
}

// addRule records a Directory rule. The same rule twice in a space is kept
// twice: it is asked once, and the higher role of the two wins.
func (b *builder) addRule(s *spaceEntries, r membership.Rule) {
	s.rules = append(s.rules, r)
	b.entries++
}

// finish sorts and de-duplicates: the same member twice with the same role,
// or with one side unmanaged, merges; different roles are an error naming both places.
func (b *builder) finish(errs *Errors) membership.Desired {
	d := membership.Desired{Spaces: make([]membership.DesiredSpace, 0, len(b.spaces)), Totals: b.totals, Repeats: map[string]int{}}
	// In name order: the errors below come in the same order every run, and
	// the spaces come out sorted.
	for _, name := range b.place() {
		s := b.spaces[name]
		slices.SortStableFunc(s.members, func(x, y membership.DesiredMember) int { return cmp.Compare(x.Principal, y.Principal) })
		out := s.members[:0]
		var files []string // the files that gave the member just kept
		for _, m := range s.members {
			file := m.Source.Location().File
			if n := len(out); n > 0 && out[n-1].Principal == m.Principal {
				// A file's total counts memberships, not rows: an export
				// that repeats a row in place of one it lost keeps its
				// row count, and would slip past the shrink check.
				if slices.Contains(files, file) {
					d.Totals[file]--
					d.Repeats[file]++
				} else {
					files = append(files, file)
				}
				prev := &out[n-1]
				switch {
				case m.Role == prev.Role || m.Role == membership.RoleUnmanaged:
				case prev.Role == membership.RoleUnmanaged:
					prev.Role, prev.Source = m.Role, m.Source
				default:
					errs.Add(m.Source.Location(), "%s is listed twice in %s with different roles: %s here, %s at %s",
						m.Principal.Display(), name, m.Role.UIName(), prev.Role.UIName(), prev.Source)
				}
				continue
			}
			files = append(files[:0], file)
			out = append(out, m)
		}
		// Clipped: an append to a space's members (the rules add some) gets
		// an array of its own, not the tail duplicates left in this one.
		s.members = nil
		d.Spaces = append(d.Spaces, membership.DesiredSpace{Name: name, Label: s.label, Members: slices.Clip(out), Source: s.source, Policy: s.policy, PolicyAt: s.policyAt,
			Rules: s.rules})
	}
	return d
}

// ParseSpace checks a space named anywhere else (export --space) as a
// source's is, and returns it as spaces/{id}.
func ParseSpace(raw string) (string, error) { return parseSpace(raw) }

// parseSpace accepts "spaces/X" or a bare "X". The ID goes into API URLs, so
// only the characters Chat uses are let through: a "#", "?" or ".." would
// change which URL is called.
func parseSpace(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	id := strings.TrimPrefix(s, "spaces/")
	switch {
	case len(id) > maxNameLen:
		return "", fmt.Errorf("space %s is too long for a space ID (%d bytes, at most %d)", quote(raw), len(id), maxNameLen)
	case !isSpaceID(id):
		return "", fmt.Errorf("space %s is not a space resource name (spaces/{id}) or ID: an ID is letters, digits, - and _", quote(raw))
	}
	return membership.SpaceName(id), nil
}

// isSpaceID reports whether id matches ^[A-Za-z0-9_-]+$, the form of Chat
// space IDs (AAAAbbbbCCC, AAQAx-y_z).
func isSpaceID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return id != ""
}
