package planfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/diff"
	m "github.com/syncer-dev/syncer/internal/membership"
)

func members() []Member {
	return []Member{
		{Name: "spaces/A/members/1", Member: "users/1", Email: "ann@example.com", Role: m.RoleOwner, State: m.StateJoined},
		{Name: "spaces/A/members/2", Member: "users/2", Email: "bob@example.com", Role: m.RoleMember, State: m.StateJoined},
		{Name: "spaces/A/members/3", Member: "users/3", Role: m.RoleMember, State: m.StateInvited},
	}
}

func TestFingerprint(t *testing.T) {
	base := Fingerprint(members())
	reordered := members()
	reordered[0], reordered[2] = reordered[2], reordered[0]
	if Fingerprint(reordered) != base {
		t.Error("the same memberships in another order give another fingerprint")
	}
	noEmail := members()
	noEmail[1].Email = "" // lists show emails only sometimes: not part of the state
	if Fingerprint(noEmail) != base {
		t.Error("an email the list left out changed the fingerprint")
	}
	for _, tt := range []struct {
		name string
		edit func([]Member) []Member
	}{
		{"a name", func(ms []Member) []Member { ms[1].Name = "spaces/A/members/9"; return ms }},
		{"a role", func(ms []Member) []Member { ms[1].Role = m.RoleManager; return ms }},
		{"a state", func(ms []Member) []Member { ms[2].State = m.StateJoined; return ms }},
		{"one more", func(ms []Member) []Member {
			return append(ms, Member{Name: "spaces/A/members/4", Role: m.RoleMember, State: m.StateJoined})
		}},
		{"one fewer", func(ms []Member) []Member { return ms[:2] }},
		{"a field boundary moved", func(ms []Member) []Member { ms[1].Name += "\x1fROLE"; ms[1].Role = "_MEMBER"; return ms }},
	} {
		if Fingerprint(tt.edit(members())) == base {
			t.Errorf("%s changed and the fingerprint did not", tt.name)
		}
	}
}

func sample() *File {
	allow := 3
	return &File{Created: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), Version: "test",
		Target:   Target{Endpoint: "https://chat.googleapis.com/", AuthMode: "service-account", ActingAs: "admin@example.com"},
		Settings: Settings{Policy: "sync", AllowRemovals: &allow, Applicable: true},
		Sources:  []Source{{Path: "hr.csv", SHA256: "ab"}},
		Spaces:   []Space{{Name: "spaces/A", Memberships: members(), Fingerprint: Fingerprint(members())}},
		Plan: diff.Plan{Policy: diff.Sync, Changes: []diff.Change{
			{Space: "spaces/A", Member: "cat@example.com", Principal: "users/cat@example.com", Action: diff.Create, Source: "hr.csv:4"},
			{Space: "spaces/A", Member: "bob@example.com", Principal: "users/2", Membership: "spaces/A/members/2", Action: diff.Delete, Reason: diff.ReasonAbsent},
		}},
	}
}

func TestChecksumRefusesAnyEdit(t *testing.T) {
	data, err := sample().Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode("plan.json", data); err != nil {
		t.Fatalf("a plan as written does not read back: %v", err)
	}
	for _, tt := range []struct {
		name, old, new, want string
	}{
		{"a removal turned into a create", `"action": "delete"`, `"action": "create"`, "was edited after it was written"},
		{"a member's address", "cat@example.com", "eve@example.com", "was edited after it was written"},
		{"the consent raised", `"allow_removals": 3`, `"allow_removals": 30`, "was edited after it was written"},
		{"made younger", "2026-11-27T09:00:00Z", "2026-11-28T09:00:00Z", "was edited after it was written"},
		{"a field added", `"format": "syncer-plan/2",`, `"format": "syncer-plan/2", "approved": true,`, "was edited or damaged"},
		{"cut short", `"checksum"`, `"checksum`, "not valid JSON: damaged or cut short"},
		{"a future format", `"format": "syncer-plan/2"`, `"format": "syncer-plan/3"`, `format "syncer-plan/3" is not "syncer-plan/2"`},
		{"not a plan at all", `"format": "syncer-plan/2"`, `"formats": "x"`, "not a syncer plan"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			edited := bytes.Replace(data, []byte(tt.old), []byte(tt.new), 1)
			if bytes.Equal(edited, data) {
				t.Fatalf("%q is not in the file", tt.old)
			}
			_, err := Decode("plan.json", edited)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrInvalid saying %q", err, tt.want)
			}
		})
	}
	if _, err := Decode("report.json", []byte(`{"format_version":"1","changes":[]}`)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not a syncer plan") {
		t.Errorf("a JSON report taken for a plan: %v", err)
	}
}

func TestWriteIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := Write(path, sample()); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	f, err := Read(path)
	if err != nil || f.Plan.Changes[1].Action != diff.Delete || *f.Settings.AllowRemovals != 3 {
		t.Errorf("read back: %v %+v", err, f)
	}
}

func TestCheckAge(t *testing.T) {
	f := sample()
	for _, tt := range []struct {
		name  string
		now   time.Time
		stale bool
	}{
		{"an hour old", f.Created.Add(time.Hour), false},
		{"just under the limit", f.Created.Add(24*time.Hour - time.Second), false},
		{"past the limit", f.Created.Add(24*time.Hour + time.Second), true},
		{"a minute in the future (clock skew)", f.Created.Add(-time.Minute), false},
		{"an hour in the future", f.Created.Add(-time.Hour), true},
	} {
		err := f.CheckAge(tt.now, 24*time.Hour)
		if (err != nil) != tt.stale || err != nil && !errors.Is(err, ErrStale) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func TestCheck(t *testing.T) {
	rec := Space{Name: "spaces/A", Memberships: members()}
	rec.Fingerprint = Fingerprint(rec.Memberships)
	// The plan: add cat (then make her manager), make bob manager, remove
	// the invited users/3.
	changes := []diff.Change{
		{Space: "spaces/A", Member: "cat@example.com", Principal: "users/cat@example.com", ID: "users/4", Action: diff.Create},
		{Space: "spaces/A", Member: "cat@example.com", Principal: "users/cat@example.com", ID: "users/4", Action: diff.UpdateRole, FromRole: m.RoleMember, ToRole: m.RoleManager},
		{Space: "spaces/A", Member: "bob@example.com", Principal: "users/2", Membership: "spaces/A/members/2", Action: diff.UpdateRole, FromRole: m.RoleMember, ToRole: m.RoleManager},
		{Space: "spaces/A", Member: "users/3", Principal: "users/3", Membership: "spaces/A/members/3", Action: diff.Delete},
	}
	ann := m.Membership{Name: "spaces/A/members/1", Principal: "users/1", Email: "ann@example.com", Role: m.RoleOwner, State: m.StateJoined}
	bob := m.Membership{Name: "spaces/A/members/2", Principal: "users/2", Role: m.RoleMember, State: m.StateJoined}
	bobManager := bob
	bobManager.Role = m.RoleManager
	three := m.Membership{Name: "spaces/A/members/3", Principal: "users/3", Role: m.RoleMember, State: m.StateInvited}
	cat := m.Membership{Name: "spaces/A/members/4", Principal: "users/4", Email: "cat@example.com", Role: m.RoleMember, State: m.StateJoined}
	catManager := cat
	catManager.Role = m.RoleManager
	catInvited := cat // auto-accept off: the create left an invitation
	catInvited.State, catInvited.Email, catInvited.Principal = m.StateInvited, "", "users/4"
	threeJoined := three
	threeJoined.State = m.StateJoined
	annManager := ann
	annManager.Role = m.RoleManager
	dan := m.Membership{Name: "spaces/A/members/5", Principal: "users/5", Email: "dan@example.com", Role: m.RoleMember, State: m.StateJoined}
	catOwner := cat
	catOwner.Role = m.RoleOwner

	for _, tt := range []struct {
		name  string
		now   []m.Membership
		done  string // one letter per change: x done, . not
		moved string
	}{
		{"as recorded", []m.Membership{three, bob, ann}, "....", ""},
		{"already applied", []m.Membership{ann, bobManager, catManager}, "xxxx", ""},
		{"partly applied: cat added, nothing else", []m.Membership{ann, bob, three, cat}, "x...", ""},
		{"partly applied: the invitation the create left", []m.Membership{ann, bob, three, catInvited}, "x...", ""},
		{"partly applied: removal and a role", []m.Membership{ann, bobManager}, "..xx", ""},
		{"someone added by hand", []m.Membership{ann, bob, three, dan}, "....", "1 member added (dan@example.com)"},
		{"someone removed by hand", []m.Membership{bob, three}, "....", "1 member removed (ann@example.com)"},
		{"a role changed by hand", []m.Membership{annManager, bob, three}, "....", "1 role changed (ann@example.com: owner → manager)"},
		{"an invitation accepted", []m.Membership{ann, bob, threeJoined}, "....", "1 membership state changed (users/3: INVITED → JOINED)"},
		{"a created member given another role by hand", []m.Membership{ann, bob, three, catOwner}, "x...", "1 role changed (cat@example.com: owner)"},
		{"applied, and someone else added", []m.Membership{ann, bobManager, catManager, dan}, "xxxx", "1 member added (dan@example.com)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := Check(rec, tt.now, changes, nil)
			done := ""
			for _, d := range v.Done {
				done += map[bool]string{true: "x", false: "."}[d]
			}
			if done != tt.done || strings.Join(v.Moved, "; ") != tt.moved {
				t.Errorf("done %s moved %q\nwant done %s moved %q", done, v.Moved, tt.done, tt.moved)
			}
		})
	}
	// A role change after a create the first run made: the rerun learns
	// the membership's name from the listing.
	v := Check(rec, []m.Membership{ann, bob, three, cat}, changes, nil)
	if v.Names[1] != "spaces/A/members/4" {
		t.Errorf("names %v", v.Names)
	}
}

// A group a plan added lists with whatever role Google gives groups (the
// emulator: none): it is the plan's doing, not a moved space.
func TestCheckCreatedGroup(t *testing.T) {
	rec := Space{Name: "spaces/A", Memberships: members()[:1]}
	changes := []diff.Change{{Space: "spaces/A", Member: "groups/eng", Principal: "groups/eng", Action: diff.Create}}
	ann := m.Membership{Name: "spaces/A/members/1", Principal: "users/1", Role: m.RoleOwner, State: m.StateJoined}
	for _, role := range []m.Role{"", m.RoleUnspecified, m.RoleMember} {
		group := m.Membership{Name: "spaces/A/members/group-eng", Principal: "groups/eng", Role: role, State: m.StateJoined}
		if v := Check(rec, []m.Membership{ann, group}, changes, nil); !v.Done[0] || len(v.Moved) > 0 {
			t.Errorf("group listed with role %q: done %v moved %v", role, v.Done, v.Moved)
		}
	}
}

// With no ID in the plan and no email in the list (app authentication, an
// alias), the space is asked who the address is: the plan's own create is
// not taken for someone added by hand.
func TestCheckAskedCreate(t *testing.T) {
	rec := Space{Name: "spaces/A", Memberships: members()[:1]}
	changes := []diff.Change{{Space: "spaces/A", Member: "ali@example.com", Principal: "users/ali@example.com", Action: diff.Create}}
	ann := m.Membership{Name: "spaces/A/members/1", Principal: "users/1", Role: m.RoleOwner, State: m.StateJoined}
	alice := m.Membership{Name: "spaces/A/members/7", Principal: "users/7", Role: m.RoleMember, State: m.StateJoined}
	v := Check(rec, []m.Membership{ann, alice}, changes, nil)
	if v.Done[0] || len(v.Moved) != 1 || len(Unmatched(v, changes)) != 1 {
		t.Fatalf("without asking: done %v moved %v", v.Done, v.Moved)
	}
	v = Check(rec, []m.Membership{ann, alice}, changes, map[m.Principal]m.Principal{"users/ali@example.com": "users/7"})
	if !v.Done[0] || len(v.Moved) != 0 {
		t.Errorf("asked: done %v moved %v", v.Done, v.Moved)
	}
}

// The same rule written twice (a second source file naming the group
// again: asked once, as the loader keeps both) says nothing new of the
// space: a plan reviewed before the second file gave it is not refused.
func TestDesiredDigestOfARuleWrittenTwice(t *testing.T) {
	r := m.Rule{Kind: m.RuleGroupMembers, Value: "eng@example.com", Role: m.RoleMember, Source: m.Location{File: "a.yaml", Line: 3}}
	again := r
	again.Source = m.Location{File: "b.csv", Line: 2}
	ms := []m.DesiredMember{{Principal: m.User("boss@example.com"), Role: m.RoleOwner}}
	once := DesiredDigest(m.DesiredSpace{Name: "spaces/S", Members: ms, Rules: []m.Rule{r}})
	twice := DesiredDigest(m.DesiredSpace{Name: "spaces/S", Members: ms, Rules: []m.Rule{r, again}})
	if once != twice {
		t.Errorf("a rule written twice: digest %s, once: %s", twice, once)
	}
	manager := r
	manager.Role = m.RoleManager
	if DesiredDigest(m.DesiredSpace{Name: "spaces/S", Members: ms, Rules: []m.Rule{r, manager}}) == once {
		t.Error("the same rule again with another role: the digest did not change")
	}
}

// v0.1.0 reads a plan whose format is "syncer-plan/1" field by field and
// refuses any field it does not know as "edited or damaged": a plan this
// version writes (its spaces' "desired" digests) must say another format,
// so that v0.1.0 (a rollback between plan and apply, or an older binary
// applying) says the plan was "written by another syncer version" rather
// than that it was tampered with. A plan v0.1.0 wrote still reads.
func TestAPlanSaysAFormatV010DoesNotRead(t *testing.T) {
	data, err := sample().Encode()
	if err != nil {
		t.Fatal(err)
	}
	var head struct {
		Format string `json:"format"`
	}
	if err := json.Unmarshal(data, &head); err != nil || head.Format == "syncer-plan/1" {
		t.Errorf("a plan this version writes says format %q (%v); v0.1.0 reads syncer-plan/1 as its own, and calls the new fields damage", head.Format, err)
	}
	old, err := os.ReadFile("testdata/v0.1.0.plan") // plan --out of syncer v0.1.0 (249af1f)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Decode("v0.1.0.plan", old)
	if err != nil {
		t.Fatalf("a plan v0.1.0 wrote: %v", err)
	}
	if f.Format != "syncer-plan/1" || len(f.Plan.Changes) != 4 {
		t.Errorf("a plan v0.1.0 wrote reads as format %q with %d changes, want syncer-plan/1 with 4", f.Format, len(f.Plan.Changes))
	}
}
