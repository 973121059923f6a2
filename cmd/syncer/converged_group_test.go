package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
	"github.com/syncer-dev/syncer/internal/membership"
)

// --seed-converged beside --seed: a group the seed has (its email and
// members) that the source names by ID stays the seed's group. It was added
// again, empty, and the empty one answered by ID (members.list of its ID
// listed nobody, by its email its members).
func TestConvergedSeedKeepsTheSeedsGroup(t *testing.T) {
	seed := &emulator.Seed{
		Users:  []emulator.SeedUser{{ID: "1", Email: "dan@example.com"}},
		Groups: []emulator.SeedGroup{{ID: "eng-oncall", Email: "eng-oncall@example.com", Members: []string{"dan@example.com"}}},
	}
	d := membership.Desired{Spaces: []membership.DesiredSpace{{Name: "spaces/S", Members: []membership.DesiredMember{{Principal: "groups/eng-oncall"}}}}}
	converged, err := convergedSeed(seed, d)
	if err != nil {
		t.Fatal(err)
	}
	_, url := emulatortest.Start(t, converged, emulator.Options{})
	for _, key := range []string{"eng-oncall", "eng-oncall@example.com"} {
		resp, err := http.Get(url + "admin/directory/v1/groups/" + key + "/members")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "dan@example.com") {
			t.Errorf("members.list of %s: %s", key, b)
		}
	}
}

// A source that lists a seed group's address as a person (which a source
// must write group:ADDRESS) gets a converged world refused with its line
// and the group named, not a user invented under the group's address,
// which the emulator then refused as "an address of user 900000000001".
func TestConvergedSeedRefusesAGroupsAddressAsAPerson(t *testing.T) {
	for _, addr := range []string{"eng-oncall@example.com", "Oncall@example.com"} {
		seed := &emulator.Seed{
			Users:  []emulator.SeedUser{{ID: "1", Email: "dan@example.com"}},
			Groups: []emulator.SeedGroup{{ID: "eng-oncall", Email: "eng-oncall@example.com", Aliases: []string{"oncall@example.com"}, Members: []string{"dan@example.com"}}},
		}
		d := membership.Desired{Spaces: []membership.DesiredSpace{{Name: "spaces/S", Members: []membership.DesiredMember{
			{Principal: membership.User(strings.ToLower(addr)), Source: membership.At(membership.Location{File: "m.csv", Line: 2})},
		}}}}
		s, err := convergedSeed(seed, d)
		if err == nil || !strings.Contains(err.Error(), "m.csv:2") || !strings.Contains(err.Error(), "groups/eng-oncall") {
			t.Errorf("%s: %v; want it refused naming m.csv:2 and groups/eng-oncall", addr, err)
			continue
		}
		if s != nil {
			t.Errorf("%s: a seed came back with the error", addr)
		}
	}
}

// A source naming a seed user by an alias-domain address converges on that
// user: no second user is invented at the address (which the seed refuses).
func TestConvergedSeedKnowsAUsersAliasDomainAddress(t *testing.T) {
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "alice@example.com", NonEditableAliases: []string{"alice@example.org"}}}}
	d := membership.Desired{Spaces: []membership.DesiredSpace{{Name: "spaces/S", Members: []membership.DesiredMember{{Principal: membership.User("alice@example.org")}}}}}
	converged, err := convergedSeed(seed, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(converged.Users) != 1 {
		t.Errorf("users %+v; want alice alone", converged.Users)
	}
	if _, err := emulator.New(converged, emulator.Options{}); err != nil {
		t.Error(err)
	}
}
