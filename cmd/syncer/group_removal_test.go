package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator"
)

// Google removes a group's people with the group ("a group member can't
// be removed from the space directly... the group has to be removed from
// the space"): a group no source names, whose people the sources want in
// the space, is not removed (it would take them with it; GAM's sync never
// touches groups unless told to), and the report says why. A group none
// of whose people the sources want there goes, as before.
func TestAGroupWhosePeopleTheSourcesWantIsNotRemoved(t *testing.T) {
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"},
			{ID: "3", Email: "bob@example.com"}, {ID: "4", Email: "carol@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "eng", Email: "eng@example.com", Members: []string{"ann@example.com", "bob@example.com"}},
			{ID: "old", Email: "old@example.com", Members: []string{"carol@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"},
			{Group: "eng"}, {User: "ann@example.com", ViaGroup: "eng"}, {User: "bob@example.com", ViaGroup: "eng"},
			{Group: "old"}, {User: "carol@example.com", ViaGroup: "old"}}}},
	}
	em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,ann@example.com,\nspaces/S,bob@example.com,\n", "")
	code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "5")
	if c := changeOf(r, "groups/eng", "delete"); c != nil || code != exitOK {
		t.Errorf("exit %d, the removal of groups/eng: %v (it would take ann and bob, whom the sources want, with it)\n%s", code, c, logText(errOut))
	}
	if c := changeOf(r, "groups/old", "delete"); c == nil || c["status"] != "applied" {
		t.Errorf("the removal of groups/old: %v\n%s", c, logText(errOut))
	}
	if kept := fmt.Sprint(r.Protected); !strings.Contains(kept, "groups/eng") || !strings.Contains(kept, "ann@example.com") {
		t.Errorf("not removed: %v", r.Protected)
	}
	if got := em.Stats().Count("members.delete"); got != 2 { // groups/old, and carol's try
		t.Errorf("%d deletes", got)
	}
}

// The rails' people are never removed, and Google removes a group's people
// with the group: a group no source names is not removed when it would
// take someone protect matches, or the user the syncer acts as, with it.
func TestAGroupIsNotRemovedWithTheRailsPeople(t *testing.T) {
	for _, tt := range []struct{ name, extra string }{
		{"protected", "protect: [carol@example.com]\n"},
		{"acting user", "auth: {mode: none, subject: carol@example.com}\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			seed := &emulator.Seed{
				Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "4", Email: "carol@example.com"}, {ID: "5", Email: "dave@example.com"}},
				Groups: []emulator.SeedGroup{{ID: "old", Email: "old@example.com", Members: []string{"carol@example.com"}},
					{ID: "gone", Email: "gone@example.com", Members: []string{"dave@example.com"}}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"},
					{Group: "old"}, {User: "carol@example.com", ViaGroup: "old"}, {Group: "gone"}, {User: "dave@example.com", ViaGroup: "gone"}}}},
			}
			_, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/S,boss@example.com,owner\n", tt.extra)
			_, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "5")
			if c := changeOf(r, "groups/old", "delete"); c != nil {
				t.Errorf("the removal of groups/old: %v (it would take carol, whom the rails never remove, with it)\n%s", c, logText(errOut))
			}
			if c := changeOf(r, "groups/gone", "delete"); c == nil {
				t.Errorf("groups/gone, whose people nothing keeps, was not removed\n%s", logText(errOut))
			}
			if kept := fmt.Sprint(r.Protected); !strings.Contains(kept, "groups/old") {
				t.Errorf("not removed: %v", r.Protected)
			}
		})
	}
}

// A group holding everyone in the domain (a member of type CUSTOMER) can't
// be listed person by person, yet what it holds is known: every one of the
// organisation's users. Its removal would take those the sources want
// here; it stays.
func TestAGroupHoldingEveryoneIsNotRemovedWithWantedPeople(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "all", Email: "all@example.com", Members: []string{"*"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"},
			{Group: "all"}, {User: "ann@example.com", ViaGroup: "all"}}}},
	}
	_, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,ann@example.com,\n", "")
	_, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "5")
	if c := changeOf(r, "groups/all", "delete"); c != nil {
		t.Errorf("the removal of groups/all: %v (it would take ann, whom the sources want, with it)\n%s", c, logText(errOut))
	}
	if kept := fmt.Sprint(r.Protected); !strings.Contains(kept, "groups/all") {
		t.Errorf("not removed: %v", r.Protected)
	}
}

// A group holding everyone that stays for someone the rails keep (protect's,
// the user the syncer acts as) must not be advised away by hand with "the
// next run adds back the people the sources want": it would take the
// rails' people with it, whom no run adds back.
func TestAHeldEveryoneGroupKeepingTheRailsPeopleIsNotAdvisedAway(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}, {ID: "4", Email: "carol@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "all", Email: "all@example.com", Members: []string{"*"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"},
			{Group: "all"}, {User: "ann@example.com", ViaGroup: "all"}, {User: "carol@example.com", ViaGroup: "all"}}}},
	}
	_, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,ann@example.com,\n", "protect: [carol@example.com]\n")
	_, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "5")
	if c := changeOf(r, "groups/all", "delete"); c != nil {
		t.Fatalf("the removal of groups/all: %v\n%s", c, logText(errOut))
	}
	var why string
	for _, k := range r.Protected {
		if k["member"] == "groups/all" {
			why = fmt.Sprint(k["why"])
		}
	}
	if !strings.Contains(why, "carol@example.com") || strings.Contains(why, "remove it in Chat yourself") {
		t.Errorf("why groups/all stays: %q (removed by hand, it takes carol, whom protect keeps and no run adds back)", why)
	}
}

// The last joined owner stays whatever the sources say (Google refuses to
// remove them): a group no source names holding them is not removed either,
// as for protect's people (it would take them, or be refused every run).
func TestAGroupHoldingTheLastOwnerIsNotRemoved(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "old", Email: "old@example.com", Members: []string{"boss@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "ann@example.com"},
			{Group: "old"}, {User: "boss@example.com", Role: "owner", ViaGroup: "old"}}}},
	}
	_, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/S,ann@example.com,\n", "")
	_, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "5")
	if c := changeOf(r, "groups/old", "delete"); c != nil {
		t.Errorf("the removal of groups/old: %v (it would take boss, the space's last owner, whom the rails keep)\n%s", c, logText(errOut))
	}
	if kept := fmt.Sprint(r.Protected); !strings.Contains(kept, "groups/old") {
		t.Errorf("not removed: %v", r.Protected)
	}
}

// A group that stays for the people the sources want keeps its other people
// in the space too (Google refuses their direct removal: they leave with
// the group). Planned as removals run after run, they counted against the
// rails: every later run stopped at safety.max_removals (exit 4, nothing
// changed anywhere) for removals that could never happen. They are kept,
// and say why.
func TestAHeldGroupsOtherPeopleAreNotRemovalsRunAfterRun(t *testing.T) {
	for _, everyone := range []bool{false, true} {
		t.Run(fmt.Sprint("everyone=", everyone), func(t *testing.T) {
			members := []string{"*"}
			seed := &emulator.Seed{
				Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"},
					{Group: "all"}, {User: "ann@example.com", ViaGroup: "all"}}}},
			}
			if !everyone {
				members = []string{"ann@example.com"}
			}
			for i := 0; i < 12; i++ {
				e := fmt.Sprintf("u%d@example.com", i)
				seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(100 + i), Email: e})
				seed.Spaces[0].Members = append(seed.Spaces[0].Members, emulator.SeedMember{User: e, ViaGroup: "all"})
				if !everyone {
					members = append(members, e)
				}
			}
			seed.Groups = []emulator.SeedGroup{{ID: "all", Email: "all@example.com", Members: members}}
			em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,ann@example.com,\n", "safety: {max_removal_percent: 100}\n")
			for run, args := range [][]string{{"--allow-removals", "20"}, {}} {
				code, r, errOut := applyJSON(t, append([]string{"--config", cfg}, args...)...)
				if code != exitOK || len(r.Blocked) > 0 || r.Summary["delete"] != 0 {
					t.Fatalf("run %d: exit %d, blocked %q, %d removals planned (the group stays, and its people with it)\n%s", run+1, code, r.Blocked, r.Summary["delete"], logText(errOut))
				}
				if kept := fmt.Sprint(r.Protected); !strings.Contains(kept, "u0@example.com") || !strings.Contains(kept, "groups/all") {
					t.Errorf("run %d: not removed: %v", run+1, r.Protected)
				}
			}
			if got := em.Stats().Count("members.delete"); got != 0 {
				t.Errorf("%d deletes", got)
			}
		})
	}
}

// Someone outside the organisation (identity.domains says so) is in no
// group holding everyone in it: kept for a held one, they would never go.
func TestAHeldEveryoneGroupDoesNotKeepAnOutsider(t *testing.T) {
	for _, extra := range []string{"identity: {domains: [example.com]}\n", ""} {
		t.Run(extra, func(t *testing.T) { heldEveryoneOutsider(t, extra) })
	}
}

// heldEveryoneOutsider: identity.domains, or else the Directory (a
// users.list for the domain), tells who is outside.
func heldEveryoneOutsider(t *testing.T, extra string) {
	seed := &emulator.Seed{
		Domains: []string{"example.com"},
		Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}, {ID: "3", Email: "dave@example.com"},
			{ID: "4", Email: "ext@partner.org", External: true}},
		Groups: []emulator.SeedGroup{{ID: "all", Email: "all@example.com", Members: []string{"*"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"},
			{Group: "all"}, {User: "ann@example.com", ViaGroup: "all"}, {User: "dave@example.com", ViaGroup: "all"}, {User: "ext@partner.org"}}}},
	}
	em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,ann@example.com,\n", extra)
	code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "5")
	if c := changeOf(r, "ext@partner.org", "delete"); code != exitOK || c == nil || c["status"] != "applied" {
		t.Errorf("exit %d, the removal of ext@partner.org: %v\n%s", code, c, logText(errOut))
	}
	if kept := fmt.Sprint(r.Protected); !strings.Contains(kept, "dave@example.com") || strings.Contains(kept, "ext@partner.org") {
		t.Errorf("not removed: %v", r.Protected)
	}
	if got := em.Stats().Count("members.delete"); got != 1 {
		t.Errorf("%d deletes", got)
	}
}

// Google's lists mostly show no emails: a held group's line names the
// people it would take by the addresses the sources (or the Directory)
// gave them, not by users/{id}.
func TestAHeldGroupNamesThePeopleByAddress(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "old", Email: "old@example.com", Members: []string{"ann@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"},
			{Group: "old"}, {User: "ann@example.com", ViaGroup: "old"}}}},
	}
	_, cfg := syncWorld(t, seed, emulator.Options{HideEmails: true}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,ann@example.com,\n", "")
	_, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "5")
	var why string
	for _, k := range r.Protected {
		if k["member"] == "groups/old" {
			why = fmt.Sprint(k["why"])
		}
	}
	if !strings.Contains(why, "ann@example.com") || strings.Contains(why, "users/2") {
		t.Errorf("why groups/old stays: %q (the sources call users/2 ann@example.com)\n%s", why, logText(errOut))
	}
}

// Two joined owners, neither named by a source, no successor: the
// last-owner guard keeps one of them (Google refuses to leave the space
// ownerless), so a group no source names holding that one is not removed
// with them either.
func TestAGroupHoldingTheOwnerKeptOfTwoIsNotRemoved(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}, {ID: "3", Email: "zed@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "old", Email: "old@example.com", Members: []string{"boss@example.com", "zed@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "ann@example.com"},
			{Group: "old"}, {User: "boss@example.com", Role: "owner", ViaGroup: "old"}, {User: "zed@example.com", Role: "owner", ViaGroup: "old"}}}},
	}
	_, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/S,ann@example.com,\n", "")
	_, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "5")
	if c := changeOf(r, "groups/old", "delete"); c != nil {
		t.Errorf("the removal of groups/old: %v (it would take the owner the last-owner guard keeps)\nprotected: %v\n%s", c, r.Protected, logText(errOut))
	}
	if kept := fmt.Sprint(r.Protected); !strings.Contains(kept, "groups/old") || !strings.Contains(kept, "boss@example.com") {
		t.Errorf("not removed: %v", r.Protected)
	}
	// Both owners stay with the group: the one the guard kept is not let go
	// (and refused by Google every run) once the other stays through it.
	if len(r.Changes) != 0 {
		t.Errorf("changes: %v (the group stays, and its people with it)", r.Changes)
	}
}

// Google removes a group's people from the space with the group (Chat help
// 13535086): once the group is gone, so are those in the space only
// through it, and the next run has nobody left to remove.
func TestAGroupsRemovalTakesItsPeopleAndTheNextRunConverges(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "4", Email: "carol@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "old", Email: "old@example.com", Members: []string{"carol@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"},
			{Group: "old"}, {User: "carol@example.com", ViaGroup: "old"}}}},
	}
	_, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/S,boss@example.com,owner\n", "")
	applyJSON(t, "--config", cfg, "--allow-removals", "5")
	code, r, errOut := applyJSON(t, "--config", cfg)
	if len(r.Changes) != 0 || code != exitOK {
		t.Errorf("exit %d; the second run still changes: %v\n%s", code, r.Changes, logText(errOut))
	}
}

// A handover to an invited successor does not happen (GuardLastOwners keeps
// the last joined owner until they accept): a group no source names
// holding that owner is not removed either, or it takes them with it and
// leaves the space with no joined owner.
func TestAGroupHoldingTheLastOwnerIsNotRemovedWhenTheSuccessorIsInvited(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "old", Email: "old@example.com", Members: []string{"boss@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "ann@example.com", State: "invited"},
			{Group: "old"}, {User: "boss@example.com", Role: "owner", ViaGroup: "old"}}}},
	}
	em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/S,ann@example.com,owner\n", "")
	_, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "5")
	if c := changeOf(r, "groups/old", "delete"); c != nil {
		t.Errorf("the removal of groups/old: %v (it takes boss, the last joined owner, whom the guard keeps until ann accepts)\nprotected: %v\n%s", c, r.Protected, logText(errOut))
	}
	if got := em.Stats().Count("members.delete"); got != 0 {
		t.Errorf("%d deletes", got)
	}
	// Once ann accepts, the handover finishes, and the runs converge.
	if err := em.Accept("spaces/S", "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		applyJSON(t, "--config", cfg, "--allow-removals", "5")
	}
	code, r, errOut := applyJSON(t, "--config", cfg)
	if got := fmt.Sprint(em.Snapshot()["spaces/S"]); len(r.Changes) != 0 || code != exitOK || got != "[{users/2 ann@example.com ROLE_MANAGER JOINED}]" {
		t.Errorf("exit %d; the last run still changes: %v; the space: %s\n%s", code, r.Changes, got, logText(errOut))
	}
}

// A handover to someone the plan adds: the last owner's removal waits for
// the successor to be a joined owner (apply skips it otherwise), and so
// must the removal of a group holding them, which takes them with it.
func TestAGroupHoldingTheLastOwnerWaitsForTheSuccessor(t *testing.T) {
	no := false
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com", AutoAccept: &no}},
		Groups: []emulator.SeedGroup{{ID: "old", Email: "old@example.com", Members: []string{"boss@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
			{Group: "old"}, {User: "boss@example.com", Role: "owner", ViaGroup: "old"}}}},
	}
	em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/S,ann@example.com,owner\n", "")
	_, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "5")
	if c := changeOf(r, "groups/old", "delete"); c != nil && c["status"] == "applied" {
		t.Errorf("the removal of groups/old: %v (it took boss, the last joined owner, and ann is only invited)\nchanges: %v\nprotected: %v\n%s", c, r.Changes, r.Protected, logText(errOut))
	}
	if got := em.Stats().Count("members.delete"); got != 0 {
		t.Errorf("%d deletes", got)
	}
}

// The handover to a joined member finishes a run later: the group stays
// while ann is made owner, and goes, with boss, once she is one.
func TestAHandoverOutOfAGroupConverges(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "old", Email: "old@example.com", Members: []string{"boss@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "ann@example.com"},
			{Group: "old"}, {User: "boss@example.com", Role: "owner", ViaGroup: "old"}}}},
	}
	_, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/S,ann@example.com,owner\n", "")
	_, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "5")
	if c := changeOf(r, "ann@example.com", "update_role"); c == nil || c["status"] != "applied" {
		t.Errorf("ann's promotion: %v\n%s", r.Changes, logText(errOut))
	}
	if kept := fmt.Sprint(r.Protected); !strings.Contains(kept, "the handover takes boss@example.com away only once") {
		t.Errorf("not removed: %v", r.Protected)
	}
	_, r, errOut = applyJSON(t, "--config", cfg, "--allow-removals", "5")
	if c := changeOf(r, "groups/old", "delete"); c == nil || c["status"] != "applied" {
		t.Errorf("second run, the removal of groups/old: %v\nprotected: %v\n%s", r.Changes, r.Protected, logText(errOut))
	}
	code, r, errOut := applyJSON(t, "--config", cfg)
	if len(r.Changes) != 0 || code != exitOK {
		t.Errorf("exit %d; the third run still changes: %v\n%s", code, r.Changes, logText(errOut))
	}
}

// Group members' memberships are tied to the space through the groups
// (Chat help 13535086): someone in the space through two groups stays when
// one of them is removed, as the sync's rail for a wanted group's people
// says ("in the space through groups/g0 ... Google keeps a group's
// members"), and the run after has nothing to do.
func TestAGroupsRemovalKeepsWhomAnotherGroupHoldsThere(t *testing.T) {
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "bob@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "g0", Email: "g0@example.com", Members: []string{"bob@example.com"}},
			{ID: "g1", Email: "g1@example.com", Members: []string{"bob@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"},
			{Group: "g0"}, {Group: "g1"}, {User: "bob@example.com", ViaGroup: "g1"}}}},
	}
	em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,group:g0@example.com,\n", "safety: {max_removal_percent: 100}\n")
	_, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "5")
	if c := changeOf(r, "groups/g1", "delete"); c == nil || c["status"] != "applied" {
		t.Fatalf("the removal of groups/g1: %v\n%s", r.Changes, logText(errOut))
	}
	code, r, errOut := applyJSON(t, "--config", cfg)
	if len(r.Changes) != 0 || code != exitOK {
		t.Errorf("exit %d; the second run still changes: %v\n%s", code, r.Changes, logText(errOut))
	}
	if got := fmt.Sprint(em.Snapshot()["spaces/S"]); !strings.Contains(got, "bob@example.com") {
		t.Errorf("bob, in the space through groups/g0 too, left with groups/g1: %s", got)
	}
}

// Two joined owners leave the sources, and one of them stays all the same,
// through a group the sources want: the space keeps an owner, so the
// last-owner guard keeps nobody else, and a group holding the other owner
// goes with them, run after run held for nothing otherwise.
func TestAGroupHoldingAnOwnerGoesWhenAnotherStaysThroughAWantedGroup(t *testing.T) {
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "aaron@example.com"}, {ID: "2", Email: "ann@example.com"}, {ID: "3", Email: "zed@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "g0", Email: "g0@example.com", Members: []string{"zed@example.com"}},
			{ID: "g1", Email: "g1@example.com", Members: []string{"aaron@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "ann@example.com"},
			{Group: "g0"}, {Group: "g1"},
			{User: "aaron@example.com", Role: "owner", ViaGroup: "g1"}, {User: "zed@example.com", Role: "owner", ViaGroup: "g0"}}}},
	}
	em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/S,ann@example.com,\nspaces/S,group:g0@example.com,\n", "safety: {max_removal_percent: 100}\n")
	_, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "5")
	if c := changeOf(r, "groups/g1", "delete"); c == nil || c["status"] != "applied" {
		t.Errorf("the removal of groups/g1: %v\nprotected: %v\n%s", r.Changes, r.Protected, logText(errOut))
	}
	if got := fmt.Sprint(em.Snapshot()["spaces/S"]); !strings.Contains(got, "zed@example.com ROLE_MANAGER JOINED") {
		t.Errorf("zed, the owner who stays: %s", got)
	}
}

// Google removes a group's people with the group: where the grace period
// still holds the removal of someone in a group whose own removal is due,
// the group waits too, or they would leave before their grace is over.
func TestAGroupWaitsWhileTheGraceHoldsOneOfItsPeople(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "4", Email: "carol@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "old", Email: "old@example.com", Members: []string{"carol@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"},
			{Group: "old"}, {User: "carol@example.com", ViaGroup: "old"}}}},
	}
	em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/S,boss@example.com,owner\n", "safety: {removal_grace: 72h}\n")
	if code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "2"); code != exitOK || len(r.Pending) != 2 {
		t.Fatalf("first run: exit %d, pending %v\n%s", code, r.Pending, logText(errOut))
	}
	// The group has been away for four days (carol joined it since, say),
	// carol for one run.
	path := filepath.Join(filepath.Dir(cfg), "syncer-state", "removals.json")
	var st map[string]any
	data, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(data, &st) != nil {
		t.Fatalf("the removals state: %v", err)
	}
	found := false
	for name, a := range st["absent"].(map[string]any)["spaces/S"].(map[string]any) {
		if a.(map[string]any)["member"] == "groups/old" {
			a.(map[string]any)["since"] = time.Now().Add(-96 * time.Hour).UTC().Format(time.RFC3339)
			found = name != ""
		}
	}
	data, _ = json.Marshal(st)
	if !found || os.WriteFile(path, data, 0o600) != nil {
		t.Fatalf("no absence for groups/old in %s", data)
	}
	code, r, errOut := applyJSON(t, "--config", cfg)
	if c := changeOf(r, "groups/old", "delete"); code != exitOK || c != nil || deletes(em) != 0 {
		t.Errorf("exit %d; the group's removal %v, %d deletes sent\n%s", code, c, deletes(em), logText(errOut))
	}
	if p := fmt.Sprint(r.Pending); !strings.Contains(p, "the grace period still holds the removal of carol@example.com") {
		t.Errorf("pending: %s", p)
	}
}

// Without the Directory a group's people can't be listed, and a group no
// source names is removed (with a warning): it may take the user the run
// acts as with it, after which Google refuses their every write in the
// space. It goes last, after the space's other removals.
func TestAGroupWhosePeopleCantBeListedGoesLast(t *testing.T) {
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "me@example.com"},
			{ID: "3", Email: "d2@example.com"}, {ID: "4", Email: "d3@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "eng", Email: "eng@example.com", Members: []string{"me@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"},
			{Group: "eng"}, {User: "me@example.com", ViaGroup: "eng", Role: "manager"}, {User: "d2@example.com"}, {User: "d3@example.com"}}}},
	}
	em, cfg := syncWorld(t, seed, emulator.Options{Caller: "me@example.com"},
		"space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,me@example.com,manager\n",
		"auth: {mode: none, subject: me@example.com}\nidentity: {directory: false}\nsafety: {max_removal_percent: unlimited}\n")
	code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "3")
	for _, who := range []string{"d2@example.com", "d3@example.com"} {
		if c := changeOf(r, who, "delete"); c == nil || c["status"] != "applied" {
			t.Errorf("exit %d; %s's removal: %v\n%s", code, who, c, logText(errOut))
		}
	}
	if c := changeOf(r, "groups/eng", "delete"); c == nil || c["status"] != "applied" || !strings.Contains(strings.Join(r.Warnings, "\n"), "can't be listed") {
		t.Errorf("the group's removal: %v; warnings %q", c, r.Warnings)
	}
	if n := em.Stats().Count("members.delete"); n != 3 {
		t.Errorf("%d deletes sent, want 3", n)
	}
}

// A group's removal from a reviewed plan goes before the removals of the
// people it takes, as in a run: the plan file keeps what the Directory
// listed of it (Change.Takes). Without it the group went last, each of
// its people was refused first ("Google kept this member", noted as a
// refusal) and then taken by the group all the same.
func TestAGroupRemovalFromAPlanFileGoesBeforeItsPeople(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "4", Email: "carol@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "old", Email: "old@example.com", Members: []string{"carol@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"},
			{Group: "old"}, {User: "carol@example.com", ViaGroup: "old"}}}},
	}
	_, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/S,boss@example.com,owner\n", "")
	plan := filepath.Join(t.TempDir(), "plan.json")
	if code, _, errOut := runCLI(t, "plan", "--config", cfg, "--out", plan, "--allow-removals", "5"); code != exitOK {
		t.Fatalf("plan: exit %d\n%s", code, logText(errOut))
	}
	code, r, errOut := applyJSON(t, "--config", cfg, "--plan", plan)
	if c := changeOf(r, "groups/old", "delete"); code != exitOK || c == nil || c["status"] != "applied" {
		t.Errorf("exit %d, the removal of groups/old: %v\n%s", code, c, logText(errOut))
	}
	if c := changeOf(r, "carol@example.com", "delete"); c == nil || c["status"] != "already_done" {
		t.Errorf("carol's removal: %v; want already_done (groups/old took her)\n%s", c, logText(errOut))
	}
}
