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
	_, url := emulatortest.Start(t, convergedSeed(seed, d), emulator.Options{})
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
