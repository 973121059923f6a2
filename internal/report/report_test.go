package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/diff"
	m "github.com/syncer-dev/syncer/internal/membership"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// samplePlan is computed, not hand-built, so the goldens follow the real shape.
func samplePlan() diff.Plan {
	d := m.Desired{Spaces: []m.DesiredSpace{
		{Name: "spaces/AAA", Label: "Engineering", Members: []m.DesiredMember{
			{Principal: m.User("alice@example.com"), Source: m.At(m.Location{File: "eng.yaml", Line: 5})},
			{Principal: m.User("bob@example.com"), Role: m.RoleManager, Source: m.At(m.Location{File: "eng.yaml", Line: 6})},
			{Principal: m.User("carol@example.com"), Role: m.RoleOwner, Source: m.At(m.Location{File: "eng.yaml", Line: 7})},
			{Principal: m.User("dan@example.com"), Source: m.At(m.Location{File: "eng.yaml", Line: 8})},
			{Principal: m.Group("eng"), Source: m.At(m.Location{File: "eng.yaml", Line: 9})},
		}},
		{Name: "spaces/BBB", Members: []m.DesiredMember{{Principal: m.User("erin@example.com"), Source: m.At(m.Location{File: "hr.csv", Line: 2, Column: 12})}}},
	}}
	c := m.Current{Spaces: map[string]*m.SpaceState{
		"spaces/AAA": {Name: "spaces/AAA", Type: m.TypeSpace, Memberships: []m.Membership{
			{Name: "spaces/AAA/members/2", Principal: "users/2", Email: "bob@example.com", Role: m.RoleMember, State: m.StateJoined},
			{Name: "spaces/AAA/members/4", Principal: "users/4", Email: "dan@example.com", Role: m.RoleMember, State: m.StateInvited},
		}},
		"spaces/BBB": {Name: "spaces/BBB", Type: m.TypeSpace, Memberships: []m.Membership{
			{Name: "spaces/BBB/members/5", Principal: "users/5", Email: "erin@example.com", Role: m.RoleMember, State: m.StateJoined},
		}},
	}}
	return diff.Compute(d, c, diff.Upsert)
}

func appliedPlan() diff.Plan {
	p := samplePlan()
	p.Applied = true
	for i := range p.Changes {
		switch i {
		case 0:
			p.Changes[i].Status = diff.Applied
		case 1:
			p.Changes[i].Status = diff.AlreadyDone
		case 2:
			p.Changes[i].Status, p.Changes[i].Error = diff.Failed, "PERMISSION_DENIED: caller can't add groups"
		default:
			p.Changes[i].Status = diff.Applied
		}
	}
	p.Recount()
	return p
}

// incompletePlan has a space that could not be read (BBB) and an
// unresolved address.
func incompletePlan() diff.Plan {
	p := samplePlan()
	kept := p.Changes[:0]
	for _, c := range p.Changes {
		if c.Space != "spaces/BBB" {
			kept = append(kept, c)
		}
	}
	p.Changes = kept
	p.Spaces[1].Listed, p.Spaces[1].Error = false, "read spaces/BBB: 503 UNAVAILABLE: backend unavailable"
	p.Incomplete = []string{"1 of 2 spaces could not be read; nothing is planned for them",
		"1 addresses could not be resolved, so the plan may add people already present or miss role changes: alice@example.com (directory: 500 INTERNAL)"}
	p.Recount()
	return p
}

// removalPlan has a removal, one held by the grace period, one protected,
// and is blocked by a rail.
func removalPlan() diff.Plan {
	p := samplePlan()
	p.Policy = diff.Sync
	p.Changes = append(p.Changes, diff.Change{Space: "spaces/BBB", Member: "frank@example.com", Principal: "users/6", ID: "users/6",
		Membership: "spaces/BBB/members/6", Action: diff.Delete, FromRole: m.RoleMember, Reason: diff.ReasonAbsent})
	// The space's last owner leaves after carol, created in this plan, is made owner.
	p.Changes = append(p.Changes, diff.Change{Space: "spaces/AAA", Member: "olga@example.com", Principal: "users/8", ID: "users/8",
		Membership: "spaces/AAA/members/8", Action: diff.Delete, FromRole: m.RoleOwner, Reason: diff.ReasonAbsent, Successor: m.User("carol@example.com")})
	slices.SortStableFunc(p.Changes, func(a, b diff.Change) int { return strings.Compare(a.Space, b.Space) })
	p.Spaces[1].NewToSync = true
	p.Pending = []diff.Kept{{Space: "spaces/AAA", Member: "gina@example.com", Membership: "spaces/AAA/members/7", Why: "removal pending (1 of 3 runs)", Runs: 1, Of: 3, Reason: diff.ReasonAbsent}}
	p.Protected = []diff.Kept{{Space: "spaces/AAA", Member: "admin@example.com", Membership: "spaces/AAA/members/1", Why: "the user the syncer acts as"}}
	p.Blocked = []string{"first run with policy sync for this state: 2 members would be removed (spaces/AAA: 1, spaces/BBB: 1); read the plan, then rerun with --allow-removals 2"}
	p.Recount()
	return p
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		plan diff.Plan
	}{{"plan", samplePlan()}, {"applied", appliedPlan()}, {"empty", diff.Compute(m.Desired{}, m.Current{}, diff.Upsert)}, {"incomplete", incompletePlan()}, {"removals", removalPlan()}} {
		for _, format := range []string{"text", "markdown", "json", "html"} {
			t.Run(tc.name+"."+format, func(t *testing.T) {
				var buf bytes.Buffer
				if err := Write(&buf, format, tc.plan); err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", fmt.Sprintf("%s.%s.golden", tc.name, format))
				if *update {
					if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/report -update)", err)
				}
				if !bytes.Equal(buf.Bytes(), want) {
					t.Errorf("%s differs from %s:\n%s", format, golden, buf.String())
				}
			})
		}
	}
}

func TestJSONShape(t *testing.T) {
	var buf bytes.Buffer
	if err := JSON(&buf, appliedPlan()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		FormatVersion string           `json:"format_version"`
		Summary       map[string]int   `json:"summary"`
		Changes       []map[string]any `json:"changes"`
		Warnings      []string         `json:"warnings"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.FormatVersion != "1" {
		t.Errorf("format_version %q", doc.FormatVersion)
	}
	for _, k := range []string{"create", "update_role", "delete", "unchanged", "invited_pending", "applied", "already_done", "failed", "skipped"} {
		if _, ok := doc.Summary[k]; !ok {
			t.Errorf("summary lacks %q: %v", k, doc.Summary)
		}
	}
	if doc.Summary["create"] != 3 || doc.Summary["update_role"] != 2 || doc.Summary["failed"] != 1 {
		t.Errorf("summary %v", doc.Summary)
	}
	for _, c := range doc.Changes {
		for _, k := range []string{"space", "member", "action", "from_role", "to_role", "source", "status", "error"} {
			if _, ok := c[k]; !ok {
				t.Errorf("change lacks %q: %v", k, c)
			}
		}
	}
	// Before an apply there is no outcome to carry.
	buf.Reset()
	JSON(&buf, samplePlan())
	if bytes.Contains(buf.Bytes(), []byte(`"status"`)) || !bytes.Contains(buf.Bytes(), []byte(`"from_role": ""`)) {
		t.Errorf("plan-only JSON: status present or from_role missing:\n%s", buf.String())
	}
}

func TestMarkdownFoldsLongSections(t *testing.T) {
	var ms []m.DesiredMember
	for i := 0; i < foldAfter+1; i++ {
		ms = append(ms, m.DesiredMember{Principal: m.User(fmt.Sprintf("u%02d@example.com", i))})
	}
	plan := diff.Compute(m.Desired{Spaces: []m.DesiredSpace{{Name: "spaces/A", Members: ms}}},
		m.Current{Spaces: map[string]*m.SpaceState{"spaces/A": {Name: "spaces/A"}}}, diff.Upsert)
	var buf bytes.Buffer
	if err := Markdown(&buf, plan); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("<details><summary>11 changes</summary>")) {
		t.Errorf("a section of %d changes was not folded:\n%s", foldAfter+1, buf.String())
	}
}

func TestUnreadSpacesAreNeverAsDesired(t *testing.T) {
	d := m.Desired{}
	c := m.Current{Spaces: map[string]*m.SpaceState{}}
	for i := 0; i < 100; i++ {
		name := fmt.Sprintf("spaces/S%03d", i)
		d.Spaces = append(d.Spaces, m.DesiredSpace{Name: name, Members: []m.DesiredMember{{Principal: m.User("a@example.com")}}})
	}
	plan := diff.Compute(d, c, diff.Upsert) // nothing read
	for i := range plan.Spaces {
		plan.Spaces[i].Error = "500 INTERNAL"
	}
	plan.Incomplete = []string{"100 of 100 spaces could not be read; nothing is planned for them"}
	var buf bytes.Buffer
	Text(&buf, plan)
	out := buf.String()
	if strings.Contains(out, "already as desired") || !strings.HasPrefix(out, "INCOMPLETE") || !strings.Contains(out, "100 of 100 spaces could not be read") {
		t.Errorf("a run that read nothing reads as:\n%s", out)
	}
}

// A space whose only business is a removal the grace period holds is not
// "already as desired".
func TestPendingRemovalIsNotAsDesired(t *testing.T) {
	p := diff.Plan{Policy: diff.Sync, Spaces: []diff.SpaceSummary{{Name: "spaces/A", Listed: true}, {Name: "spaces/B", Listed: true}},
		Pending: []diff.Kept{{Space: "spaces/A", Member: "gina@example.com", Why: "removal pending (1 of 3 runs)"}}}
	p.Recount()
	var buf bytes.Buffer
	if err := Write(&buf, "text", p); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "1 space already as desired.") {
		t.Errorf("%s", out)
	}
}
