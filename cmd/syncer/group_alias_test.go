package main

import (
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
)

// A group named by one of its aliases (the Directory takes "the group's
// email address, group alias, or the unique group ID") is added by its ID,
// its people are added, and a second run finds nothing to do.
func TestAGroupNamedByItsAlias(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "alice@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "g42", Email: "eng-all@example.com", Aliases: []string{"engineers@example.com"}, Members: []string{"alice@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}},
	}
	em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member\nspaces/S,boss@example.com\nspaces/S,group_members:engineers@example.com\nspaces/S,group:engineers@example.com\n", "")
	for run := 1; run <= 2; run++ {
		code, r, errOut := applyJSON(t, "--config", cfg)
		if code != exitOK || r.Summary["failed"] != 0 {
			t.Fatalf("run %d: exit %d %v\n%+v\n%s", run, code, r.Summary, r.Changes, logText(errOut))
		}
		if run == 2 && r.Summary["applied"] != 0 {
			t.Errorf("run 2 applied %v", r.Summary)
		}
	}
	st := em.Stats()
	if st.Creates["spaces/S users/2"] != 1 || st.Creates["spaces/S groups/g42"] != 1 || st.Count("members.delete") != 0 {
		t.Errorf("creates %v, deletes %d", st.Creates, st.Count("members.delete"))
	}
}

// A group's alias in a domain none of the seed's users has (an alias
// domain: Google keeps a group's aliases in the customer's domains) is the
// organisation's: written as a member, it is not taken for someone outside
// the organisation, and the group is not removed for it.
func TestAGroupsAliasInAnotherDomainWrittenAsAMemberRemovesNobody(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "eng", Email: "eng@example.com", Aliases: []string{"eng@example.org"}, Members: []string{"ann@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/G", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {Group: "eng"}}}},
	}
	em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/G,boss@example.com,owner\nspaces/G,eng@example.org,\n", "")
	code, out, errOut := runCLI(t, "apply", "--config", cfg, "--allow-removals", "1")
	if deletes(em) != 0 || code != exitFailure {
		t.Errorf("exit %d, %d deletes\n%s\n%s", code, deletes(em), out, logText(errOut))
	}
}
