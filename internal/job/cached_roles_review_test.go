package job_test

// Scenarios an independent review of the check on role changes that stand
// on the identity cache (cachedroles.go) wrote against it.

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/config"
	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/identity"
	"github.com/syncer-dev/syncer/internal/job"
	"github.com/syncer-dev/syncer/internal/state"
)

func cacheGet(t *testing.T, cache, email string) (identity.CacheEntry, bool) {
	t.Helper()
	c := identity.OpenCache(context.Background(), &state.Dir{Path: filepath.Dir(cache)}, filepath.Base(cache), time.Hour, time.Now, func(string) {})
	return c.Get(email)
}

func calls(f *fixture) string {
	st := f.em.Stats()
	return fmt.Sprintf("members.get=%d users.get=%d users.list=%d", st.Count("members.get"), st.Count("directory.users.get"), st.Count("directory.users.list"))
}

// R1: a new manager the cache knows correctly (create + promote in a
// space they are not in yet). members.get answers 404 (not a member: the
// expected answer for a create), so the entry is forgotten and asked again.
func TestCachedRoleReviewCreatePromoteOnCache(t *testing.T) {
	for _, hide := range []bool{false, true} {
		for _, sync := range []bool{false, true} {
			t.Run(fmt.Sprintf("hide %v sync %v", hide, sync), func(t *testing.T) {
				cache := filepath.Join(t.TempDir(), "c.json")
				seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "3", Email: "carol@example.com", Aliases: []string{"cj@example.com"}}},
					Spaces: []emulator.SeedSpace{
						{Name: "spaces/Q", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "carol@example.com"}}},
						{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}}}
				csv1 := "space,member,role\nspaces/Q,boss@example.com,owner\nspaces/Q,cj@example.com,\nspaces/R,boss@example.com,owner\n"
				fillCache(t, cache, seed, emulator.Options{HideEmails: hide}, csv1, nil)
				if e, ok := cacheGet(t, cache, "cj@example.com"); !ok || e.Principal != "users/3" {
					t.Fatalf("cache not filled: %+v %v", e, ok)
				}
				csv2 := csv1 + "spaces/R,cj@example.com,manager\n"
				f := newFixture(t, seed, emulator.Options{HideEmails: hide}, csv2)
				if sync {
					f.syncing(t)
				}
				f.resolve, f.cacheFile = true, cache
				res, err := f.run(t, context.Background(), false)
				if err != nil {
					t.Fatal(err)
				}
				logPlan(t, "run", res)
				t.Logf("calls: %s", calls(f))
				st := f.em.Stats()
				if st.Count("directory.users.get")+st.Count("directory.users.list") > 0 {
					t.Errorf("a correct cache entry for a new manager cost Directory calls: %s", calls(f))
				}
				if st.Count("members.get") > 0 {
					t.Errorf("a role change after a create asked the space: %s", calls(f))
				}
			})
		}
	}
}

// R2: the alias the cache is right about: robert listed by his primary
// address, the source promotes bob@ (his alias). One members.get, promote users/2.
func TestCachedRoleReviewAliasRightPromote(t *testing.T) {
	for _, hide := range []bool{false, true} {
		t.Run(fmt.Sprint("hide ", hide), func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "c.json")
			seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "robert@example.com", NonEditableAliases: []string{"bob@example.org"}}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com"}}}}}
			csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,bob@example.org,\n"
			fillCache(t, cache, seed, emulator.Options{HideEmails: hide}, csv, nil)
			csv = strings.Replace(csv, "bob@example.org,", "BOB@Example.org,manager", 1)
			f := newFixture(t, seed, emulator.Options{HideEmails: hide}, csv)
			f.resolve, f.cacheFile = true, cache
			res, err := f.run(t, context.Background(), true)
			if err != nil {
				t.Fatal(err)
			}
			logPlan(t, "run", res)
			t.Logf("calls: %s", calls(f))
			if len(res.Plan.Changes) != 1 || res.Plan.Changes[0].ID != "users/2" || res.Plan.Changes[0].Status != diff.Applied {
				t.Errorf("want robert promoted once")
			}
			if st := f.em.Stats(); st.Count("members.get") != 1 || st.Count("directory.users.get")+st.Count("directory.users.list") != 0 {
				t.Errorf("calls %s", calls(f))
			}
			res, err = f.run(t, context.Background(), false)
			if err != nil || !res.Plan.Empty() || !res.Plan.Complete() {
				logPlan(t, "rerun", res)
				t.Errorf("not converged: %v", err)
			}
		})
	}
}

// R3: a demotion resting on the cache, the alias moved: robert (users/2)
// is manager, bob@ now bobby's (member); the source says bob@ member.
func TestCachedRoleReviewDemotionStale(t *testing.T) {
	for _, hide := range []bool{false, true} {
		t.Run(fmt.Sprint("hide ", hide), func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "c.json")
			csv1 := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,bob@example.org,manager\n"
			seed1 := aliasSeed("2", robertManages, "spaces/R")
			fillCache(t, cache, seed1, emulator.Options{HideEmails: hide}, csv1, nil)
			seed2 := aliasSeed("9", []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com", Role: "manager"}, {User: "bobby@example.com"}}, "spaces/R")
			csv2 := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,bob@example.org,member\n"
			f := newFixture(t, seed2, emulator.Options{HideEmails: hide}, csv2)
			f.resolve, f.cacheFile = true, cache
			res, err := f.run(t, context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			logPlan(t, "run", res)
			t.Logf("calls: %s", calls(f))
			for _, c := range res.Plan.Changes {
				if c.ID == "users/2" {
					t.Errorf("robert demoted for bob@: %+v", c)
				}
			}
		})
	}
}

// R4: owner hand-over resting on a promotion that can't be confirmed:
// boss (the only owner) to member, bob@ (robert, cached alias) to owner.
func TestCachedRoleReviewHandoverHeld(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "c.json")
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "robert@example.com", NonEditableAliases: []string{"bob@example.org"}}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com"}}}}}
	csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,bob@example.org,\n"
	fillCache(t, cache, seed, emulator.Options{}, csv, nil)
	csv = "space,member,role\nspaces/R,boss@example.com,member\nspaces/R,bob@example.org,owner\n"
	f := newFixture(t, seed, emulator.Options{}, csv)
	f.resolve, f.cacheFile = true, cache
	f.em.SetMisbehaviour("members.get", emulator.Misbehaviour{Status: 503, Message: "backend error"})
	res, err := f.run(t, context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	logPlan(t, "held", res)
	for _, c := range res.Plan.Changes {
		if c.ID == "users/1" && c.Status == diff.Applied {
			t.Errorf("boss demoted while bob@'s promotion was held: %+v", c)
		}
	}
	snap := f.em.Snapshot()["spaces/R"]
	t.Logf("space: %+v", snap)
	f.em.SetMisbehaviour("members.get", emulator.Misbehaviour{})
	res, err = f.run(t, context.Background(), true)
	logPlan(t, "confirmed", res)
	res, err = f.run(t, context.Background(), false)
	if err != nil || !res.Plan.Empty() {
		logPlan(t, "after", res)
		t.Errorf("not converged")
	}
}

// R5: convergence of the stale world with apply, and the cache after.
func TestCachedRoleReviewStaleConverges(t *testing.T) {
	for _, hide := range []bool{false, true} {
		for _, listed := range []bool{true, false} {
			for _, sync := range []bool{false, true} {
				t.Run(fmt.Sprintf("hide %v listed %v sync %v", hide, listed, sync), func(t *testing.T) {
					cache := filepath.Join(t.TempDir(), "c.json")
					csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,bob@example.org,manager\n"
					// two spaces per address, to see the re-plan in both
					csv += "spaces/S,boss@example.com,owner\nspaces/S,bob@example.org,manager\n"
					seed1 := aliasSeed("2", robertManages, "spaces/R", "spaces/S")
					fillCache(t, cache, seed1, emulator.Options{HideEmails: hide}, csv, nil)
					members := []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com"}}
					if listed {
						members = append(members, emulator.SeedMember{User: "bobby@example.com"})
					}
					seed2 := aliasSeed("9", members, "spaces/R", "spaces/S")
					f := newFixture(t, seed2, emulator.Options{HideEmails: hide}, csv)
					if sync {
						f.syncing(t)
					}
					f.resolve, f.cacheFile = true, cache
					for run := 1; run <= 3; run++ {
						res, err := f.run(t, context.Background(), true)
						if err != nil {
							t.Fatal(err)
						}
						t.Logf("run %d calls: %s summary %+v", run, calls(f), res.Plan.Summary)
						logPlan(t, fmt.Sprint("run ", run), res)
						if run >= 2 && (!res.Plan.Empty() || !res.Plan.Complete()) {
							t.Errorf("run %d not converged", run)
						}
						if res.Failed() {
							t.Errorf("run %d failed", run)
						}
						if run == 1 {
							s := res.Plan.Summary
							if s.UpdateRole+s.Create > 4 {
								t.Errorf("summary double counts? %+v", s)
							}
						}
					}
					if e, ok := cacheGet(t, cache, "bob@example.org"); !ok || e.Principal != "users/9" {
						t.Errorf("cache after: %+v %v", e, ok)
					}
					snap := f.em.Snapshot()
					t.Logf("R: %+v", snap["spaces/R"])
				})
			}
		}
	}
}

// R6: create-only and admin access: reads.
func TestCachedRoleReviewPolicyAndAccess(t *testing.T) {
	for _, mode := range []string{"create-only", "admin"} {
		t.Run(mode, func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "c.json")
			csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,bob@example.org,manager\n"
			seed1 := aliasSeed("2", robertManages, "spaces/R")
			fillCache(t, cache, seed1, emulator.Options{HideEmails: true}, csv, nil)
			seed2 := aliasSeed("9", []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com"}, {User: "bobby@example.com"}}, "spaces/R")
			f := newFixture(t, seed2, emulator.Options{HideEmails: true}, csv)
			if mode == "create-only" {
				f.cfg.Policy = config.PolicyCreateOnly
			} else {
				f.admin = true
			}
			f.resolve, f.cacheFile = true, cache
			res, err := f.run(t, context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			logPlan(t, mode, res)
			t.Logf("calls: %s", calls(f))
			for _, c := range res.Plan.Changes {
				if c.ID == "users/2" {
					t.Errorf("robert: %+v", c)
				}
			}
		})
	}
}

// R7: no Directory (app authentication): the cache was filled by member gets.
func TestCachedRoleReviewNoDirectory(t *testing.T) {
	for _, hide := range []bool{false, true} {
		t.Run(fmt.Sprint("hide ", hide), func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "c.json")
			csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,bob@example.org,manager\n"
			seed1 := aliasSeed("2", robertManages, "spaces/R")
			noDir := func(j *job.Job) { j.Resolver.Directory = nil }
			fillCache(t, cache, seed1, emulator.Options{HideEmails: hide}, csv, noDir)
			e, ok := cacheGet(t, cache, "bob@example.org")
			t.Logf("cache bob@: %+v %v", e, ok)
			seed2 := aliasSeed("9", []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com"}, {User: "bobby@example.com"}}, "spaces/R")
			f := newFixture(t, seed2, emulator.Options{HideEmails: hide}, csv)
			f.resolve, f.cacheFile = true, cache
			for run := 1; run <= 2; run++ {
				res, err := f.runAs(t, context.Background(), noDir)
				if err != nil {
					t.Fatal(err)
				}
				logPlan(t, fmt.Sprint("run ", run), res)
				t.Logf("calls: %s", calls(f))
			}
		})
	}
}

// R8: many spaces, many cached role changes, one stale address shared by
// every space: -race, and how many reads.
func TestCachedRoleReviewManyRace(t *testing.T) {
	const nu, ns = 10, 12
	cache := filepath.Join(t.TempDir(), "c.json")
	mk := func(moved bool, roles bool) (*emulator.Seed, string) {
		s := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "9", Email: "bobby@example.com"}}}
		r := &s.Users[0]
		_ = r
		for i := 0; i < nu; i++ {
			u := emulator.SeedUser{ID: fmt.Sprint(100 + i), Email: fmt.Sprintf("u%d@example.com", i), NonEditableAliases: []string{fmt.Sprintf("u%d@example.org", i)}}
			if i == 0 && moved {
				u.NonEditableAliases = nil
			}
			s.Users = append(s.Users, u)
		}
		if moved {
			s.Users[1].NonEditableAliases = []string{"u0@example.org"}
		}
		var b strings.Builder
		b.WriteString("space,member,role\n")
		for j := 0; j < ns; j++ {
			sp := emulator.SeedSpace{Name: fmt.Sprintf("spaces/S%d", j), Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "bobby@example.com"}}}
			fmt.Fprintf(&b, "spaces/S%d,boss@example.com,owner\nspaces/S%d,bobby@example.com,\n", j, j)
			for i := 0; i < nu; i++ {
				sp.Members = append(sp.Members, emulator.SeedMember{User: fmt.Sprintf("u%d@example.com", i)})
				role := ""
				if roles {
					role = "manager"
				}
				fmt.Fprintf(&b, "spaces/S%d,u%d@example.org,%s\n", j, i, role)
			}
			s.Spaces = append(s.Spaces, sp)
		}
		return s, b.String()
	}
	seed1, csv1 := mk(false, false)
	fillCache(t, cache, seed1, emulator.Options{HideEmails: true}, csv1, nil)
	seed2, csv2 := mk(true, true)
	f := newFixture(t, seed2, emulator.Options{HideEmails: true}, csv2)
	f.resolve, f.cacheFile = true, cache
	for run := 1; run <= 3; run++ {
		res, err := f.run(t, context.Background(), true)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("run %d calls: %s summary %+v incomplete %q", run, calls(f), res.Plan.Summary, res.Plan.Incomplete)
		for _, c := range res.Plan.Changes {
			if c.ID == "users/100" {
				t.Errorf("u0 promoted for u0@example.org (now bobby's): %+v", c)
			}
		}
		if run > 1 && !res.Plan.Empty() {
			t.Errorf("run %d not converged", run)
		}
	}
}

// R9: the forgotten address re-resolved while a Directory pass runs (or after it ended).
func TestCachedRoleReviewForgetDuringPass(t *testing.T) {
	for _, hide := range []bool{false, true} {
		t.Run(fmt.Sprint("hide ", hide), func(t *testing.T) {
			const n = 3000
			cache := filepath.Join(t.TempDir(), "c.json")
			csv := "space,member,role\nspaces/R,uboss@example.com,owner\nspaces/R,bob@example.org,manager\n"
			users := func(moved bool) []emulator.SeedUser {
				us := []emulator.SeedUser{{ID: "1", Email: "uboss@example.com"}, {ID: "2", Email: "robert@example.com", NonEditableAliases: []string{"bob@example.org"}}, {ID: "9", Email: "bobby@example.com"}}
				if moved {
					us[1].NonEditableAliases, us[2].NonEditableAliases = nil, []string{"bob@example.org"}
				}
				for i := 0; i < n; i++ {
					us = append(us, emulator.SeedUser{ID: fmt.Sprint(1000 + i), Email: fmt.Sprintf("u%03d@example.com", i)})
				}
				return us
			}
			seed1 := &emulator.Seed{Users: users(false), Spaces: []emulator.SeedSpace{
				{Name: "spaces/R", Members: []emulator.SeedMember{{User: "uboss@example.com", Role: "owner"}, {User: "robert@example.com", Role: "manager"}}},
				{Name: "spaces/T", Members: []emulator.SeedMember{{User: "uboss@example.com", Role: "owner"}}}}}
			fillCache(t, cache, seed1, emulator.Options{HideEmails: hide}, csv, nil)
			csv2 := csv
			for i := 0; i < n; i++ {
				csv2 += fmt.Sprintf("spaces/T,u%03d@example.com,\n", i)
			}
			seed2 := &emulator.Seed{Users: users(true), Spaces: []emulator.SeedSpace{
				{Name: "spaces/R", Members: []emulator.SeedMember{{User: "uboss@example.com", Role: "owner"}, {User: "robert@example.com"}, {User: "bobby@example.com"}}},
				{Name: "spaces/T", Members: []emulator.SeedMember{{User: "uboss@example.com", Role: "owner"}}}}}
			f := newFixture(t, seed2, emulator.Options{HideEmails: hide, LatencyMin: 5 * time.Millisecond, LatencyMax: 10 * time.Millisecond}, csv2)
			f.resolve, f.cacheFile = true, cache
			f.logs = &strings.Builder{}
			res, err := f.run(t, context.Background(), true)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range res.Plan.Changes {
				if c.Space == "spaces/R" {
					t.Logf("R change: %s %s id=%s by=%s status=%s err=%s", c.Action, c.Member, c.ID, c.ResolvedBy, c.Status, c.Error)
					if c.Action == diff.Create {
						t.Errorf("bob@ (bobby, a member) planned as an addition: %+v", c)
					}
				}
			}
			t.Logf("R after: %+v", f.em.Snapshot()["spaces/R"])
			if e, ok := cacheGet(t, cache, "bob@example.org"); true {
				t.Logf("cache bob@ after: %+v %v", e, ok)
			}
			t.Logf("calls %s incomplete %q warnings %q", calls(f), res.Plan.Incomplete, res.Plan.Warnings)
			for _, l := range strings.Split(f.logs.String(), "\n") {
				if strings.Contains(l, "identities resolved") || strings.Contains(l, "pass") {
					t.Log(l)
				}
			}
		})
	}
}
