package export

import (
	"bytes"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/syncer-dev/syncer/internal/membership"
)

// Names and labels come from the Chat API: whatever they hold, each stays
// one value of the file, and the file says what the space holds and no
// more (an export is meant to be used as a source).
func TestYAMLKeepsEachValueOneValue(t *testing.T) {
	const group = "groups/x}\n      - {user: mallory@example.com, role: owner"
	for _, label := range []string{"Eng", "line1\nline2: x\n    members:\n      - {user: mallory@example.com, role: owner}", "tab\there \x1b[2J\r # not a comment", "  leading and trailing  "} {
		st := &membership.SpaceState{Name: "spaces/CCC", DisplayName: label, Memberships: []membership.Membership{
			{Name: "spaces/CCC/members/1", Principal: "users/1", Email: "alice@example.com", Role: membership.RoleOwner, State: membership.StateJoined},
			{Name: "spaces/CCC/members/g", Principal: membership.Principal(group), State: membership.StateJoined},
		}}
		var buf bytes.Buffer
		if err := YAML(&buf, Build([]*membership.SpaceState{st}, nil)); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Spaces []struct {
				Space, Label string
				Members      []map[string]string
			}
		}
		if err := yaml.Unmarshal(buf.Bytes(), &doc); err != nil {
			t.Errorf("label %q: the export is not YAML (%v):\n%s", label, err, buf.String())
			continue
		}
		if len(doc.Spaces) != 1 || doc.Spaces[0].Label != label || len(doc.Spaces[0].Members) != 2 || doc.Spaces[0].Members[1]["group"] != group {
			t.Errorf("label %q: the export reads as %+v:\n%s", label, doc, buf.String())
		}
	}
}

// An address the API gives that no source would take (a control
// character, a second @, a bracket) is exported as the member's
// Directory ID: the file is then one the syncer reads, naming the same
// person, and a terminal it is printed on sees nothing to act on.
func TestAddressesNoSourceTakesExportAsIDs(t *testing.T) {
	st := &membership.SpaceState{Name: "spaces/CCC", Memberships: []membership.Membership{
		{Name: "spaces/CCC/members/1", Principal: "users/1", Email: "alice@example.com", Role: membership.RoleOwner, State: membership.StateJoined},
		{Name: "spaces/CCC/members/3", Principal: "users/3", Email: "ev\x1b[31mil\r@example.com", Role: membership.RoleMember, State: membership.StateJoined},
		{Name: "spaces/CCC/members/6", Principal: "users/6", Email: "@octocat<!--@example.com", Role: membership.RoleMember, State: membership.StateJoined},
		{Name: "spaces/CCC/members/7", Principal: "users/7", Role: membership.RoleMember, State: membership.StateJoined},
	}}
	var buf bytes.Buffer
	if err := CSV(&buf, Build([]*membership.SpaceState{st}, map[membership.Principal]string{"users/7": "x|y[l]@example.com"})); err != nil {
		t.Fatal(err)
	}
	want := "space,member,role\nspaces/CCC,3,member\nspaces/CCC,6,member\nspaces/CCC,7,member\nspaces/CCC,alice@example.com,owner\n"
	if buf.String() != want {
		t.Errorf("export:\n%q\nwant\n%q", buf.String(), want)
	}
}
