// Package source reads desired memberships from YAML and CSV files and merges
// them into one membership.Desired. It reports every problem it finds with
// file, line (column for CSV) and the offending value, and never calls the
// network.
package source

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

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

// Load reads every source and merges them. On any problem it returns all of
// them as Errors and no desired state, so nothing half-read is ever applied.
func Load(specs []Spec) (membership.Desired, error) {
	var errs Errors
	b := newBuilder()
	if len(specs) == 0 {
		errs.Add(membership.Location{}, "no sources configured")
	}
	for _, spec := range specs {
		loadOne(spec, b, &errs)
	}
	d := b.finish(&errs)
	if len(errs) > 0 {
		return membership.Desired{}, errs
	}
	return d, nil
}

func loadOne(spec Spec, b *builder, errs *Errors) {
	at := membership.Location{File: spec.Path}
	format, err := spec.format()
	if err != nil {
		errs.Add(at, "%v", err)
		return
	}
	data, err := os.ReadFile(spec.Path)
	if err != nil {
		errs.Add(at, "can't read source: %v", unwrapPath(err))
		return
	}
	entriesBefore, errsBefore := b.entries, len(*errs)
	switch format {
	case "yaml":
		readYAML(spec.Path, data, b, errs)
	case "csv":
		readCSV(spec, data, b, errs)
	}
	if b.entries == entriesBefore && len(*errs) == errsBefore {
		// An empty export is far more often a broken pipeline than a wish.
		errs.Add(at, "source has no members; an empty source is refused so a broken export can't empty a space")
	}
}

// unwrapPath drops the path an *os.PathError repeats, since the caller names the file.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// builder merges entries from every source.
type builder struct {
	spaces  map[string]*spaceEntries
	entries int
}

type spaceEntries struct {
	label   string
	source  membership.Location
	members []membership.DesiredMember
}

func newBuilder() *builder { return &builder{spaces: make(map[string]*spaceEntries)} }

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
	s.members = append(s.members, m)
	b.entries++
}

// finish sorts and de-duplicates: the same member twice with the same role,
// or with one side unmanaged, merges; different roles are an error naming both places.
func (b *builder) finish(errs *Errors) membership.Desired {
	d := membership.Desired{Spaces: make([]membership.DesiredSpace, 0, len(b.spaces))}
	for name, s := range b.spaces {
		slices.SortStableFunc(s.members, func(x, y membership.DesiredMember) int { return cmp.Compare(x.Principal, y.Principal) })
		out := s.members[:0]
		for _, m := range s.members {
			if n := len(out); n > 0 && out[n-1].Principal == m.Principal {
				prev := &out[n-1]
				switch {
				case m.Role == prev.Role || m.Role == membership.RoleUnmanaged:
				case prev.Role == membership.RoleUnmanaged:
					prev.Role, prev.Source = m.Role, m.Source
				default:
					errs.Add(m.Source, "%s is listed twice in %s with different roles: %s here, %s at %s",
						m.Principal.Display(), name, m.Role.UIName(), prev.Role.UIName(), prev.Source)
				}
				continue
			}
			out = append(out, m)
		}
		d.Spaces = append(d.Spaces, membership.DesiredSpace{Name: name, Label: s.label, Members: out, Source: s.source})
	}
	slices.SortFunc(d.Spaces, func(x, y membership.DesiredSpace) int { return cmp.Compare(x.Name, y.Name) })
	return d
}

// parseSpace accepts "spaces/X" or a bare "X".
func parseSpace(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	id := strings.TrimPrefix(s, "spaces/")
	if id == "" || strings.ContainsAny(id, "/ \t@") {
		return "", fmt.Errorf("space %q is not a space resource name (spaces/{id}) or ID", raw)
	}
	return membership.SpaceName(id), nil
}
