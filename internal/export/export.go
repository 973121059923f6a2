// Package export renders current memberships as a desired-state file (YAML
// or CSV) that plans to zero changes: every member with their role, emails
// where they are known, groups by ID. It only formats.
package export

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/source"
)

// Entry is one exported member.
type Entry struct {
	Member string // email, Directory ID, groups/{id} or app
	Role   string // UI name; empty for groups
	Group  bool
	App    bool
}

// Space is one exported space.
type Space struct {
	Name, Label string
	Entries     []Entry
}

// Build turns current state into export entries; emails maps canonical
// users/{id} to an email where one is known.
func Build(states []*membership.SpaceState, emails map[membership.Principal]string) []Space {
	out := make([]Space, 0, len(states))
	for _, st := range states {
		sp := Space{Name: st.Name, Label: st.DisplayName}
		for _, m := range st.Memberships {
			switch {
			case m.Bot && m.Principal == "users/app":
				sp.Entries = append(sp.Entries, Entry{Member: "app", App: true})
			case m.Bot:
				// other apps are not ours to manage
			case m.Principal.IsGroup():
				sp.Entries = append(sp.Entries, Entry{Member: string(m.Principal), Group: true})
			default:
				who := m.Email
				if who == "" {
					who = emails[m.Principal]
				}
				if _, err := source.CheckEmail(who); err != nil {
					// None known, or one no source would take (the API's
					// text, with a control character or a second @): a
					// Directory ID is a valid member too, the same person.
					who = m.Principal.ID()
				}
				sp.Entries = append(sp.Entries, Entry{Member: who, Role: m.Role.UIName()})
			}
		}
		slices.SortFunc(sp.Entries, func(a, b Entry) int { return cmp.Compare(a.Member, b.Member) })
		out = append(out, sp)
	}
	slices.SortFunc(out, func(a, b Space) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// CSV writes space,member,role rows.
func CSV(w io.Writer, spaces []Space) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"space", "member", "role"})
	for _, s := range spaces {
		for _, e := range s.Entries {
			member := e.Member
			if e.App {
				member = "users/app"
			}
			cw.Write([]string{s.Name, member, e.Role})
		}
	}
	cw.Flush()
	return cw.Error()
}

// YAML writes the spaces: list the sources read.
func YAML(w io.Writer, spaces []Space) error {
	fmt.Fprintln(w, "# Exported by syncer export; edit, then use as a source.")
	fmt.Fprintln(w, "spaces:")
	for _, s := range spaces {
		fmt.Fprintf(w, "  - space: %s\n", s.Name)
		if s.Label != "" {
			fmt.Fprintf(w, "    label: %s\n", quote(s.Label))
		}
		fmt.Fprintln(w, "    members:")
		for _, e := range s.Entries {
			switch {
			case e.App:
				fmt.Fprintln(w, "      - app")
			case e.Group:
				fmt.Fprintf(w, "      - {group: %s}\n", quote(e.Member))
			default:
				fmt.Fprintf(w, "      - {user: %s, role: %s}\n", quote(e.Member), e.Role)
			}
		}
	}
	return nil
}

// quote renders a YAML scalar safely (numeric IDs must stay strings), on
// one line: names and labels come from the API, and a block scalar (what
// yaml.Marshal makes of a line break) would need the indentation of where
// it goes. A double-quoted Go string is a double-quoted YAML one.
func quote(s string) string {
	out, _ := yaml.Marshal(s)
	v := strings.TrimSpace(string(out))
	if strings.Contains(v, "\n") {
		return strconv.Quote(s)
	}
	if v == s && strings.Trim(s, "0123456789") == "" {
		return `"` + s + `"`
	}
	return v
}
