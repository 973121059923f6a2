package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/auth/authtest"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
)

// syncWorld starts an emulator over seed and writes a sync config whose
// source is csv, with extra config lines.
func syncWorld(t *testing.T, seed *emulator.Seed, opts emulator.Options, csv, extra string) (*emulator.Server, string) {
	t.Helper()
	em, url := emulatortest.Start(t, seed, opts)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "members.csv"), []byte(csv), 0o644)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q}\npolicy: sync\nlimits: {max_attempts: 2}\n%s", url, extra)), 0o644)
	return em, cfg
}

func deletes(em *emulator.Server) int { return em.Stats().Count("members.delete") }

// A source may name someone by an alias; a space lists their primary
// address. Whatever the Directory can say, they are not removed.
func TestAnAliasInASourceIsNeverRemoved(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "alice@example.com", Aliases: []string{"ali@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "alice@example.com"}}}},
	}
	for _, tt := range []struct {
		name, extra string
		fail        bool
	}{
		{"the Directory answers", "", false},
		{"the Directory fails", "", true},
		{"no Directory", "identity: {directory: false}\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member\nspaces/S,boss@example.com\nspaces/S,ali@example.com\n", tt.extra)
			if tt.fail {
				em.SetMisbehaviour("directory.users.get", emulator.Misbehaviour{Status: 500})
				em.SetMisbehaviour("directory.users.list", emulator.Misbehaviour{Status: 500})
			}
			code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "5")
			if deletes(em) != 0 || r.Summary["delete"] != 0 || r.Summary["create"] != 0 {
				t.Errorf("exit %d, %v, %d deletes: alice, wanted as ali@, was planned away\n%s", code, r.Summary, deletes(em), logText(errOut))
			}
		})
	}
}

// A cached identity gone stale (the cache says bob@ is someone else) must
// not make the plan remove bob, whom the sources want.
func TestAStaleIdentityNeverRemovesAWantedMember(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "3", Email: "bob@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "bob@example.com"}}}},
	}
	em, cfg := syncWorld(t, seed, emulator.Options{HideEmails: true}, "space,member\nspaces/S,boss@example.com\nspaces/S,bob@example.com\n", "identity: {cache_file: cache.json}\n")
	expires := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	os.WriteFile(filepath.Join(filepath.Dir(cfg), "cache.json"), []byte(`{"version":1,"entries":{"bob@example.com":{"principal":"users/99","expires":"`+expires+`"}}}`), 0o600)
	code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "5")
	if deletes(em) != 0 || code != exitOK {
		t.Fatalf("exit %d, %d deletes\n%s", code, deletes(em), logText(errOut))
	}
	if !strings.Contains(fmt.Sprint(r.Protected), "out-of-date identity") {
		t.Errorf("protected %v", r.Protected)
	}
	// The stale entry is gone: the next run plans nothing.
	code, r, _ = applyJSON(t, "--config", cfg)
	if code != exitOK || r.Summary["create"]+r.Summary["delete"] != 0 {
		t.Errorf("second run: exit %d %v", code, r.Summary)
	}
}

// Members in a space through a group the sources want are wanted: they are
// not removal candidates, so they neither trip the rails nor get deleted.
func TestMembersThroughAWantedGroupStay(t *testing.T) {
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}}, Groups: []emulator.SeedGroup{{ID: "eng", Email: "eng@example.com"}}}
	sp := emulator.SeedSpace{Name: "spaces/G", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {Group: "eng"}}}
	for i := 0; i < 15; i++ {
		email := fmt.Sprintf("e%d@example.com", i)
		seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(100 + i), Email: email})
		sp.Members = append(sp.Members, emulator.SeedMember{User: email, ViaGroup: "eng"})
	}
	seed.Spaces = []emulator.SeedSpace{sp}
	csv := "space,member\nspaces/G,boss@example.com\nspaces/G,groups/eng\n"
	em, cfg := syncWorld(t, seed, emulator.Options{}, csv, "")
	code, r, errOut := applyJSON(t, "--config", cfg)
	if code != exitOK || len(r.Blocked) != 0 || deletes(em) != 0 || len(r.Protected) != 15 || !strings.Contains(fmt.Sprint(r.Protected[0]), "through groups/eng") {
		t.Errorf("exit %d, blocked %v, %d deletes, protected %d\n%s", code, r.Blocked, deletes(em), len(r.Protected), logText(errOut))
	}
	// Without the Directory nobody can tell who is there through the group: nobody is removed.
	em2, cfg2 := syncWorld(t, seed, emulator.Options{}, csv, "identity: {directory: false}\n")
	code, r, _ = applyJSON(t, "--config", cfg2, "--allow-removals", "20")
	if code != exitOK || deletes(em2) != 0 || !strings.Contains(fmt.Sprint(r.Protected), "anyone may be in the space through it") {
		t.Errorf("no Directory: exit %d, %d deletes, %v", code, deletes(em2), r.Protected)
	}
}

// The acting user and protect entries are recognised under any of the
// person's addresses, with or without the Directory.
func TestActingUserAndProtectByAlias(t *testing.T) {
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "admin@example.com", Aliases: []string{"adm@example.com"}},
			{ID: "3", Email: "carol@example.com", Aliases: []string{"cc@example.com"}}, {ID: "4", Email: "dave@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"},
			{User: "admin@example.com"}, {User: "carol@example.com"}, {User: "dave@example.com"}}}},
	}
	ts := authtest.Start(t)
	key, _ := ts.ServiceAccountKey(t, t.TempDir())
	for _, tt := range []struct {
		name, extra string
		fail        bool
	}{
		{"the Directory answers", "", false},
		{"the Directory fails", "", true},
		{"no Directory", "identity: {directory: false}\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			extra := fmt.Sprintf("auth: {mode: service-account, credentials_file: %q, subject: adm@example.com}\nprotect: [cc@example.com]\n%s", key, tt.extra)
			em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member\nspaces/S,boss@example.com\n", extra)
			if tt.fail {
				em.SetMisbehaviour("directory.users.get", emulator.Misbehaviour{Status: 500})
			}
			code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "5")
			kept := fmt.Sprint(r.Protected)
			if code != exitOK || deletes(em) != 1 || !strings.Contains(kept, "the user the syncer acts as") || !strings.Contains(kept, "protected by cc@example.com") {
				t.Errorf("exit %d, %d deletes (want dave's only), protected %v\n%s", code, deletes(em), kept, logText(errOut))
			}
		})
	}
}

// A group's address written as a member (eng@example.com, not
// group:eng@example.com): no user of the Directory has it, nor does the
// space, and its domain is the organisation's. It is not someone to add,
// and it may be the group: the group is not removed for it.
func TestAGroupsAddressWrittenAsAMemberRemovesNobody(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "eng", Email: "eng@example.com", Members: []string{"ann@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/G", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {Group: "eng"}}}},
	}
	for _, hide := range []bool{false, true} {
		em, cfg := syncWorld(t, seed, emulator.Options{HideEmails: hide}, "space,member,role\nspaces/G,boss@example.com,owner\nspaces/G,eng@example.com,\n", "")
		code, out, errOut := runCLI(t, "apply", "--config", cfg, "--allow-removals", "1")
		if deletes(em) != 0 || code != exitFailure {
			t.Errorf("hide emails %v: exit %d, %d deletes\n%s\n%s", hide, code, deletes(em), out, logText(errOut))
		}
		if !strings.Contains(out, "write it as group:eng@example.com") {
			t.Errorf("hide emails %v: the report does not say what the address may be:\n%s", hide, out)
		}
	}
}

// The same while the Directory fails (503): the space's "no such member"
// for the address does not settle it (a group's address gets that answer
// too), so the group stays.
func TestAGroupsAddressWhileTheDirectoryFailsRemovesNobody(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "eng", Email: "eng@example.com", Members: []string{"ann@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/G", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {Group: "eng"}}}},
	}
	em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/G,boss@example.com,owner\nspaces/G,eng@example.com,\n", "")
	em.SetMisbehaviour("directory.users.get", emulator.Misbehaviour{Status: 503})
	em.SetMisbehaviour("directory.users.list", emulator.Misbehaviour{Status: 503})
	code, out, errOut := runCLI(t, "apply", "--config", cfg, "--allow-removals", "1")
	if deletes(em) != 0 || code != exitFailure || !strings.Contains(out, "eng@example.com") {
		t.Errorf("exit %d, %d deletes\n%s\n%s", code, deletes(em), out, logText(errOut))
	}
}

// The same where users.get refuses the address (403) before any lookup
// was answered, once (a stray refusal) or every time, while users.list
// answers: not a caller the Directory refuses outright, so the space's
// "no such member" does not settle it, whichever answer came first.
func TestAGroupsAddressRefusedFirstRemovesNobody(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "eng", Email: "eng@example.com", Members: []string{"ann@example.com"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/G", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {Group: "eng"}}}},
	}
	for _, at := range []int{1, 0} {
		em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/G,boss@example.com,owner\nspaces/G,eng@example.com,\n", "")
		em.SetMisbehaviour("directory.users.get", emulator.Misbehaviour{Status: 403, Reason: "forbidden", Message: "Not Authorized to access this resource/api", AtCall: at})
		code, out, errOut := runCLI(t, "apply", "--config", cfg, "--allow-removals", "1")
		if deletes(em) != 0 || code != exitFailure {
			t.Errorf("users.get refused (call %d; 0: every one): exit %d, %d deletes\n%s\n%s", at, code, deletes(em), out, logText(errOut))
		}
	}
}

// A Directory that refuses this caller (403 for every address: a user who
// is no admin) is as no Directory: the membership reads take over, and a
// newcomer to a sync space, a partner or a new hire, is added and the
// leaver removed, as before the domain question.
func TestARefusedDirectoryLeavesItToTheMembershipReads(t *testing.T) {
	for _, who := range []string{"pat@partner.test", "newhire@example.com"} {
		seed := &emulator.Seed{
			Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "leaver@example.com"},
				{ID: "3", Email: "pat@partner.test", External: true}, {ID: "4", Email: "newhire@example.com"}},
			Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "leaver@example.com"}}}},
		}
		em, cfg := syncWorld(t, seed, emulator.Options{RefuseDirectory: true}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,"+who+",\n", "")
		code, out, errOut := runCLI(t, "apply", "--config", cfg, "--allow-removals", "1")
		if creates := em.Stats().Count("members.create"); code != exitOK || creates != 1 || deletes(em) != 1 {
			t.Errorf("%s: exit %d, %d creates, %d deletes\n%s\n%s", who, code, creates, deletes(em), out, logText(errOut))
		}
	}
}

// users.list refused (the Directory pass refused), users.get answering:
// a partner refused (403) after a new hire was found is settled by the
// space's answer as with no Directory, whichever was answered first, and
// the leaver goes. A partner answered "no such user" can't be told from an
// own-domain address nobody has (a group's) there, identity.domains or
// not (a list that leaves a domain out would cost its groups): the leaver
// waits, and the report says until when.
func TestAListRefusedDirectorySettlesPartnersTheSameWay(t *testing.T) {
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "leaver@example.com"},
			{ID: "3", Email: "pat@partner.test", External: true}, {ID: "4", Email: "newhire@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "leaver@example.com"}}}},
	}
	for _, tt := range []struct {
		name  string
		opts  emulator.Options
		extra string
		held  bool
	}{
		{"partner refused (403)", emulator.Options{}, "", false},
		{"partner nobody (404), identity.domains", emulator.Options{ForeignDomainNoSuchUser: true}, "identity: {domains: [example.com]}\n", true},
	} {
		em, cfg := syncWorld(t, seed, tt.opts, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,newhire@example.com,\nspaces/S,pat@partner.test,\n", tt.extra)
		em.SetMisbehaviour("directory.users.list", emulator.Misbehaviour{Status: 403, Reason: "forbidden", Message: "Not Authorized to access this resource/api"})
		code, out, errOut := runCLI(t, "apply", "--config", cfg, "--allow-removals", "1")
		creates := em.Stats().Count("members.create")
		switch {
		case !tt.held && (code != exitOK || creates != 2 || deletes(em) != 1),
			tt.held && (code != exitFailure || creates != 2 || deletes(em) != 0 || !strings.Contains(out, "removals here wait")):
			t.Errorf("%s: exit %d, %d creates, %d deletes\n%s\n%s", tt.name, code, creates, deletes(em), out, logText(errOut))
		}
	}
}

// identity.domains that leaves out a domain of the organisation's: a
// group's address there written as a member still holds the space (the
// domain's users.list answers: it is the organisation's, and the report
// says to add it), and so does a mistyped address there while the
// Directory fails.
func TestADomainIdentityDomainsLeavesOutStillHolds(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "leaver@example.com"}, {ID: "3", Email: "dev@example.org"}},
		Groups: []emulator.SeedGroup{{ID: "eng", Email: "eng@example.org", Members: []string{"dev@example.org"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "leaver@example.com"}, {Group: "eng"}}}},
	}
	for _, outage := range []bool{false, true} {
		em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,eng@example.org,\n", "identity: {domains: [example.com]}\n")
		if outage {
			em.SetMisbehaviour("directory.users.get", emulator.Misbehaviour{Status: 500})
			em.SetMisbehaviour("directory.users.list", emulator.Misbehaviour{Status: 500})
		}
		code, out, errOut := runCLI(t, "apply", "--config", cfg, "--allow-removals", "2")
		if deletes(em) != 0 || code != exitFailure || !outage && !strings.Contains(out+logText(errOut), "identity.domains does not list example.org") {
			t.Errorf("outage %v: exit %d, %d deletes\n%s\n%s", outage, code, deletes(em), out, logText(errOut))
		}
	}
}

// The same with users.list refused: the group is held on the first run
// (a users.get finds dev@example.org) and on the second (dev is listed, so
// nothing names example.org): a refused domain is not taken for another's
// because identity.domains leaves it out.
func TestALeftOutDomainsGroupHoldsRunAfterRunWithTheListRefused(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "leaver@example.com"}, {ID: "3", Email: "dev@example.org"}},
		Groups: []emulator.SeedGroup{{ID: "eng", Email: "eng@example.org", Members: []string{"dev@example.org"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "leaver@example.com"}, {Group: "eng"}}}},
	}
	em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,eng@example.org,\nspaces/S,dev@example.org,\n", "identity: {domains: [example.com]}\n")
	em.SetMisbehaviour("directory.users.list", emulator.Misbehaviour{Status: 403, Reason: "forbidden", Message: "Not Authorized to access this resource/api"})
	for run := 1; run <= 2; run++ {
		code, out, errOut := runCLI(t, "apply", "--config", cfg, "--allow-removals", "2")
		if deletes(em) != 0 || code != exitFailure {
			t.Fatalf("run %d: exit %d, %d deletes\n%s\n%s", run, code, deletes(em), out, logText(errOut))
		}
	}
}

// Google gives every user an alias in a domain of its own
// (*.test-google-a.com): a pass shows it, and it is no domain for
// identity.domains to list, so no warning says to add it.
func TestGooglesOwnAliasDomainIsNoDomainToAdd(t *testing.T) {
	seed := &emulator.Seed{Spaces: []emulator.SeedSpace{{Name: "spaces/S"}}}
	csv := "space,member,role\n"
	for i := 0; i < 150; i++ {
		email := fmt.Sprintf("u%d@example.com", i)
		seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(1000 + i), Email: email, NonEditableAliases: []string{fmt.Sprintf("u%d@example.com.test-google-a.com", i)}})
		role := ""
		if i == 0 {
			role = "owner"
		}
		csv += "spaces/S," + email + "," + role + "\n"
		seed.Spaces[0].Members = append(seed.Spaces[0].Members, emulator.SeedMember{User: email, Role: role})
	}
	em, cfg := syncWorld(t, seed, emulator.Options{HideEmails: true}, csv, "identity: {domains: [example.com]}\n")
	code, out, errOut := runCLI(t, "plan", "--config", cfg)
	if code != exitOK || em.Stats().Count("directory.users.list") == 0 || strings.Contains(out+errOut, "identity.domains does not list") {
		t.Errorf("exit %d, %d users.list\n%s\n%s", code, em.Stats().Count("directory.users.list"), out, logText(errOut))
	}
}

// Google lists an invited member without their email (only members of the
// space, or people with affinity, show one). A source that wants them is
// already satisfied: nothing is created again, and they are not removed.
func TestAnInvitedMemberListedWithoutAnEmailIsKept(t *testing.T) {
	no := false
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "inv@example.com", AutoAccept: &no}, {ID: "3", Email: "ann@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"},
			{User: "inv@example.com", State: "INVITED"}, {User: "ann@example.com"}}}},
	}
	for _, extra := range []string{"", "identity: {directory: false}\n"} {
		em, cfg := syncWorld(t, seed, emulator.Options{}, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,inv@example.com,\n", extra)
		code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "1")
		if code != exitOK || em.Stats().Writes != 1 || r.Summary["create"] != 0 || memberState(em, "spaces/S", "inv@example.com") != "ROLE_MEMBER INVITED" || memberState(em, "spaces/S", "ann@example.com") != "absent" {
			t.Errorf("%q: exit %d, %d writes, %v; inv is %s, ann %s\n%s", extra, code, em.Stats().Writes, r.Changes,
				memberState(em, "spaces/S", "inv@example.com"), memberState(em, "spaces/S", "ann@example.com"), logText(errOut))
		}
	}
}

// A new partner (outside the organisation) in a sync space with a leaver:
// created, and the leaver removed, however the Directory says the partner's
// domain is not the organisation's (403, 400, 404 "Domain not found", or
// 404 "Resource Not Found: userKey", as for one of its own addresses that
// nobody has), with admin access too.
func TestANewPartnerUnderSyncIsAddedAndTheLeaverGoes(t *testing.T) {
	for _, status := range []int{0, 400, 404, -404} {
		seed := &emulator.Seed{
			Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "leaver@example.com"},
				{ID: "3", Email: "pat@partner.test", External: true}},
			Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "leaver@example.com"}}}},
		}
		opts := emulator.Options{ForeignDomainStatus: status, ForeignDomainNoSuchUser: status == -404}
		em, cfg := syncWorld(t, seed, opts, "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,pat@partner.test,\n", "")
		code, out, errOut := runCLI(t, "apply", "--config", cfg, "--allow-removals", "1")
		if creates := em.Stats().Count("members.create"); code != exitOK || deletes(em) != 1 || creates != 1 {
			t.Errorf("foreign domain answered %d: exit %d, %d creates, %d deletes\n%s\n%s", status, code, creates, deletes(em), out, logText(errOut))
		}
		// Whether partner.test is the organisation's is asked only where
		// users.get's answer did not say: a users.list for it, refused
		// (403), and one of the organisation's users, answered (so the
		// refusal is not of a caller who may not list).
		asked := 0
		if status == 0 || status == -404 {
			asked = 2
		}
		if n := em.Stats().Count("directory.users.list"); n != asked {
			t.Errorf("foreign domain answered %d: %d users.list, want %d", status, n, asked)
		}
	}
}

// A group's address written as a member, among enough addresses that a
// Directory pass settles them: no page shows it, and it is asked with
// users.get, being in the organisation's domain; the group stays.
func TestAGroupsAddressSettledByThePassRemovesNobody(t *testing.T) {
	for _, hide := range []bool{false, true} {
		seed := &emulator.Seed{
			Users:  []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "ann@example.com"}},
			Groups: []emulator.SeedGroup{{ID: "eng", Email: "eng@example.com", Members: []string{"ann@example.com"}}},
			Spaces: []emulator.SeedSpace{{Name: "spaces/G", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {Group: "eng"}}}},
		}
		csv := "space,member,role\nspaces/G,boss@example.com,owner\nspaces/G,eng@example.com,\n"
		for i := 0; i < 150; i++ {
			seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(1000 + i), Email: fmt.Sprintf("u%d@example.com", i)})
			csv += fmt.Sprintf("spaces/G,u%d@example.com,\n", i)
			seed.Spaces[0].Members = append(seed.Spaces[0].Members, emulator.SeedMember{User: fmt.Sprintf("u%d@example.com", i)})
		}
		em, cfg := syncWorld(t, seed, emulator.Options{HideEmails: hide}, csv, "")
		code, _, errOut := runCLI(t, "apply", "--config", cfg, "--allow-removals", "1")
		if deletes(em) != 0 || em.Stats().Count("directory.users.list") == 0 {
			t.Errorf("hide %v: exit %d, %d deletes, %d users.list, %d users.get\n%s", hide, code, deletes(em),
				em.Stats().Count("directory.users.list"), em.Stats().Count("directory.users.get"), logText(errOut))
		}
	}
}

// A new hire search does not show yet (users.get finds them), among enough
// addresses that a Directory pass runs, in a sync space with a leaver: no
// page shows them, so they are asked with users.get, found, and added;
// the leaver goes.
func TestANewHireSearchHasNotCaughtUpWithIsAdded(t *testing.T) {
	for _, hide := range []bool{false, true} {
		seed := &emulator.Seed{
			Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "leaver@example.com"},
				{ID: "3", Email: "newbie@example.com", Unsearched: true}},
			Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "leaver@example.com"}}}},
		}
		csv := "space,member,role\nspaces/S,boss@example.com,owner\nspaces/S,newbie@example.com,\n"
		for i := 0; i < 150; i++ {
			seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(1000 + i), Email: fmt.Sprintf("u%d@example.com", i)})
			csv += fmt.Sprintf("spaces/S,u%d@example.com,\n", i)
			seed.Spaces[0].Members = append(seed.Spaces[0].Members, emulator.SeedMember{User: fmt.Sprintf("u%d@example.com", i)})
		}
		em, cfg := syncWorld(t, seed, emulator.Options{HideEmails: hide}, csv, "")
		code, out, errOut := runCLI(t, "apply", "--config", cfg, "--allow-removals", "1")
		if creates := em.Stats().Count("members.create"); code != exitOK || deletes(em) != 1 || creates != 1 {
			t.Errorf("hide %v: exit %d, %d creates, %d deletes, %d users.list, %d users.get\n%s\n%s", hide, code, creates, deletes(em),
				em.Stats().Count("directory.users.list"), em.Stats().Count("directory.users.get"), out, logText(errOut))
		}
	}
}

// Against an emulator (auth.mode none), auth.subject names the user the
// run acts as, so the rails spare them as they would in production: a
// source that leaves them out does not remove them.
func TestTheSubjectIsTheActingUserAgainstAnEmulator(t *testing.T) {
	seed := &emulator.Seed{
		Users: []emulator.SeedUser{{ID: "1", Email: "me@example.com"}, {ID: "2", Email: "o2@example.com"}, {ID: "3", Email: "bob@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
			{User: "me@example.com", Role: "owner"}, {User: "o2@example.com", Role: "owner"}, {User: "bob@example.com"}}}},
	}
	em, cfg := syncWorld(t, seed, emulator.Options{Caller: "me@example.com"}, "space,member,role\nspaces/S,o2@example.com,owner\n", "auth: {mode: none, subject: Me@example.com}\n")
	code, r, errOut := applyJSON(t, "--config", cfg, "--allow-removals", "5")
	var kept []string
	for _, p := range r.Protected {
		kept = append(kept, fmt.Sprint(p["member"], ": ", p["why"]))
	}
	if code != exitOK || deletes(em) != 1 || !strings.Contains(strings.Join(kept, "\n"), "me@example.com: the user the syncer acts as") {
		t.Errorf("exit %d, %d deletes, kept %q; want bob removed, me@ kept as the acting user\n%s", code, deletes(em), kept, logText(errOut))
	}
}
