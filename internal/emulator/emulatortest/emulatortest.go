// Package emulatortest starts the emulator for tests.
package emulatortest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/emulator"
)

// Start serves an emulator for the test's lifetime and returns it with its base URL (trailing slash).
func Start(t testing.TB, seed *emulator.Seed, opts emulator.Options) (*emulator.Server, string) {
	t.Helper()
	em, err := emulator.New(seed, opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(em.Handler())
	t.Cleanup(ts.Close)
	return em, ts.URL + "/"
}

// Client returns an adapter pointed at url with user-authentication visibility.
func Client(t testing.TB, url string) *chatapi.Client {
	t.Helper()
	c, err := chatapi.New(context.Background(), chatapi.Options{Endpoint: url, ShowInvited: true, ShowGroups: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// UnevenWorld seeds spaces of uneven sizes (weights 1..20 by index) with an
// owner each: `patches` existing members, spread over the spaces, whom the
// returned CSV wants as managers, and `creates` new users it wants added.
func UnevenWorld(spaces, creates, patches int) (*emulator.Seed, string) {
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}}}
	var csv strings.Builder
	csv.WriteString("space,member,role\n")
	weights, total := make([]int, spaces), 0
	for i := range weights {
		weights[i] = 1 + i%20
		total += weights[i]
	}
	user := 0
	newUser := func() string {
		user++
		email := fmt.Sprintf("u%d@example.com", user)
		seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(10000 + user), Email: email})
		return email
	}
	madeCreates, madePatches := 0, 0
	for i := 0; i < spaces; i++ {
		sp := emulator.SeedSpace{Name: fmt.Sprintf("spaces/U%03d", i), Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}
		nc, np := creates*weights[i]/total, patches*weights[i]/total
		if i == spaces-1 {
			nc, np = creates-madeCreates, patches-madePatches
		}
		for j := 0; j < np; j++ {
			email := newUser()
			sp.Members = append(sp.Members, emulator.SeedMember{User: email})
			fmt.Fprintf(&csv, "%s,%s,manager\n", sp.Name, email)
		}
		for j := 0; j < nc; j++ {
			fmt.Fprintf(&csv, "%s,%s,\n", sp.Name, newUser())
		}
		madeCreates, madePatches = madeCreates+nc, madePatches+np
		seed.Spaces = append(seed.Spaces, sp)
	}
	return seed, csv.String()
}
