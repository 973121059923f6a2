package emulatortest

import (
	"fmt"
	"math"
	"strings"

	"github.com/syncer-dev/syncer/internal/emulator"
)

// World describes a benchmark world: spaces of a size, each owned by one
// user, with distinct members; the source wants every current member as
// they are, plus Creates new members (Directory users no list shows) and
// Patches role changes (listed members made managers), spread round-robin.
type World struct {
	Spaces          int
	MembersPerSpace int // owner included
	Creates         int
	Patches         int
	// Bystanders are Directory users no source names (a big tenant whose
	// spaces hold few of its people).
	Bystanders int
	// Spread is how the addresses lie in the Directory's email order
	// (spread.go); the zero value is the stems layout every benchmark
	// before it used.
	Spread Spread
	// Domains spreads the addresses over this many domains, all the
	// customer's (example.com alone when 0 or 1).
	Domains int
}

// Minimum is the fewest calls a run over a world can make.
type Minimum struct {
	ListPages      int // one per space per 1,000 members
	DirectoryPages int // a users.list pass over the whole Directory
	NewEmails      int // emails no list shows: a users.get each
	Writes         int
	// Wanted counts the addresses the source names: when lists hide
	// emails, each needs the Directory (a users.get, or a pass's page).
	Wanted int
	// DirectoryUsers counts the Directory's users, bystanders included.
	DirectoryUsers int
}

// Build returns the seed, the source CSV and the minimum calls.
func (w World) Build() (*emulator.Seed, string, Minimum) {
	seed := &emulator.Seed{}
	var csv strings.Builder
	csv.WriteString("space,member,role\n")
	users := 0
	names := w.names()
	newUser := func() string {
		users++
		email := names.named(users)
		seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(100000000 + users), Email: email})
		return email
	}
	min := Minimum{Writes: w.Creates + w.Patches, NewEmails: w.Creates}
	for i := 0; i < w.Spaces; i++ {
		name := fmt.Sprintf("spaces/W%05d", i)
		sp := emulator.SeedSpace{Name: name}
		for j := 0; j < w.MembersPerSpace; j++ {
			email, role := newUser(), "member"
			if j == 0 {
				role = "owner"
			}
			sp.Members = append(sp.Members, emulator.SeedMember{User: email, Role: role})
			want := ""
			if j > 0 && (j-1)*w.Spaces+i < w.Patches {
				want = "manager" // the j-th member of every space, until Patches are planned
			}
			fmt.Fprintf(&csv, "%s,%s,%s\n", name, email, want)
		}
		min.ListPages += int(math.Ceil(float64(w.MembersPerSpace) / 1000))
		seed.Spaces = append(seed.Spaces, sp)
	}
	for k := 0; k < w.Creates; k++ {
		fmt.Fprintf(&csv, "spaces/W%05d,%s,\n", k%w.Spaces, newUser())
	}
	named := users
	for k := 0; k < w.Bystanders; k++ {
		// Spread among the named: p000001-00@ sorts just before p000001@.
		users++
		email := names.bystander(k, named)
		seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(100000000 + users), Email: email})
	}
	min.DirectoryPages = int(math.Ceil(float64(users) / 500))
	min.Wanted, min.DirectoryUsers = named, users
	return seed, csv.String(), min
}
