package job_test

// More scenarios from the reviews of the removal checks (2026-12-06).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/job"
)

// An external partner's account replaced: the cache says partner@partner.com
// is users/77 (its old account, still a member under another address now);
// it is users/78, also a member. Lists without emails, Directory present
// (users.get by ID of an outsider: 404). The sources want partner@.
func TestCacheOutOfDateOutsideAccountReplaced(t *testing.T) {
	for _, hide := range []bool{true, false} {
		for _, mode := range []string{"present", "absent", "foreign400", "applyrerun"} {
			t.Run(fmt.Sprint("hide ", hide, " ", mode), func(t *testing.T) {
				cache := filepath.Join(t.TempDir(), "c.json")
				csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,partner@partner.com,\n"
				seed1 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "77", Email: "partner@partner.com", External: true}},
					Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "partner@partner.com"}}}}}
				fillCache(t, cache, seed1, emulator.Options{HideEmails: true}, csv, nil)
				b, _ := os.ReadFile(cache)
				t.Logf("cache: %s", b)
				seed2 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "77", Email: "partner.old@partner.com", External: true}, {ID: "78", Email: "partner@partner.com", External: true}},
					Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "partner.old@partner.com"}, {User: "partner@partner.com"}}}}}
				opts := emulator.Options{HideEmails: hide}
				if mode == "foreign400" {
					opts.ForeignDomainStatus = 400
				}
				f := newFixture(t, seed2, opts, csv)
				f.syncing(t)
				tw := f.tweak
				f.resolve, f.cacheFile = true, cache
				f.tweak = func(j *job.Job) {
					tw(j)
					if mode == "absent" {
						j.Resolver.Directory = nil
					}
				}
				res, err := f.run(t, context.Background(), mode == "applyrerun")
				if mode == "applyrerun" {
					for run := 3; run <= 4; run++ {
						r, err := f.run(t, context.Background(), true)
						if err != nil {
							t.Fatal(err)
						}
						logPlan(t, fmt.Sprint("run", run), r)
					}
				}
				if err != nil {
					t.Fatal(err)
				}
				logPlan(t, "run2", res)
				st := f.em.Stats()
				t.Logf("users.get=%d users.list=%d members.get=%d", st.Count("directory.users.get"), st.Count("directory.users.list"), st.Count("members.get"))
				if deletedID(res, "users/78") {
					t.Errorf("users/78 (partner@partner.com now), whom the sources want, planned for removal; complete=%v", res.Plan.Complete())
				}
			})
		}
	}
}

// remove_suspended. The sources want carl@ and bob@example.org. The cache
// says bob@ is carl's (users/99); bob@ is now an alias of sam (users/5),
// suspended. carl is active, a member, wanted under carl@.
func TestCacheOutOfDateAliasOfASuspendedUser(t *testing.T) {
	for _, hide := range []bool{true, false} {
		t.Run(fmt.Sprint("hide ", hide), func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "c.json")
			csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,carl@example.com,\nspaces/R,bob@example.org,\n"
			seed1 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "99", Email: "carl@example.com", NonEditableAliases: []string{"bob@example.org"}}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "carl@example.com"}}}}}
			fillCache(t, cache, seed1, emulator.Options{HideEmails: hide}, csv, nil)
			seed2 := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "99", Email: "carl@example.com"}, {ID: "5", Email: "sam@example.com", Suspended: true, NonEditableAliases: []string{"bob@example.org"}}},
				Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "carl@example.com"}}}}}
			f := newFixture(t, seed2, emulator.Options{HideEmails: hide}, csv)
			f.syncing(t)
			tw := f.tweak
			f.resolve, f.cacheFile = true, cache
			f.tweak = func(j *job.Job) { tw(j); j.Config.RemoveSuspended = true }
			res, err := f.run(t, context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			logPlan(t, "run2", res)
			if deletedID(res, "users/99") {
				t.Errorf("carl (users/99), wanted as carl@ and active, planned for removal; complete=%v", res.Plan.Complete())
			}
		})
	}
}

// Converged sync space, lists without emails, warm cache; the acting user
// is a member no source names (kept, as every run). The Directory's
// users.get fails (503): nothing is to be removed, so is the plan complete?
func TestActingUserKeptThroughADirectoryOutage(t *testing.T) {
	seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "5", Email: "admin@example.com"}, {ID: "8", Email: "ann@example.com"}},
		Spaces: []emulator.SeedSpace{{Name: "spaces/R", Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "admin@example.com"}, {User: "ann@example.com"}}}}}
	csv := "space,member,role\nspaces/R,boss@example.com,owner\nspaces/R,ann@example.com,\n"
	f := newFixture(t, seed, emulator.Options{HideEmails: true}, csv)
	f.syncing(t)
	tw := f.tweak
	f.resolve, f.cacheFile = true, filepath.Join(t.TempDir(), "c.json")
	f.tweak = func(j *job.Job) { tw(j); j.Acting = "admin@example.com" }
	for run := 1; run <= 2; run++ {
		if run == 2 {
			f.em.SetMisbehaviour("directory.users.get", emulator.Misbehaviour{Status: 503})
		}
		res, err := f.run(t, context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		logPlan(t, "run", res)
		if run == 2 && !res.Plan.Complete() {
			t.Errorf("nothing to remove (only the acting user, kept by ID), yet incomplete: %q", res.Plan.Incomplete)
		}
	}
}

// guest@gmail.com, an outsider no source names, is a member of two sync
// spaces; sus@ (suspended, wanted, never added) keeps a cache-matched
// address in every space, run after run. Does the guest ever go?
func TestGuestRemovalAcrossDirectoryStates(t *testing.T) {
	for _, hide := range []bool{false, true} {
		for _, dir := range []string{"present", "scoped", "absent", "403", "503"} {
			for _, protect := range []bool{false, true} {
				for _, acting := range []bool{false, true} {
					name := fmt.Sprintf("hide=%v dir=%s protect=%v acting=%v", hide, dir, protect, acting)
					t.Run(name, func(t *testing.T) {
						seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "robert@example.com", NonEditableAliases: []string{"bob@example.org"}},
							{ID: "4", Email: "sus@example.com", Suspended: true}, {ID: "5", Email: "admin@example.com"}, {ID: "7", Email: "guest@gmail.com", External: true}, {ID: "8", Email: "ann@example.com"}}}
						csv := "space,member,role\n"
						for _, s := range []string{"spaces/A", "spaces/B"} {
							seed.Spaces = append(seed.Spaces, emulator.SeedSpace{Name: s, Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}, {User: "robert@example.com"}, {User: "guest@gmail.com"}, {User: "admin@example.com"}}})
							csv += s + ",boss@example.com,owner\n" + s + ",bob@example.org,\n" + s + ",sus@example.com,\n" + s + ",admin@example.com,\n"
						}
						csv += "spaces/B,ann@example.com,\n"
						f := newFixture(t, seed, emulator.Options{HideEmails: hide}, csv)
						f.syncing(t)
						tw := f.tweak
						f.resolve, f.cacheFile = true, filepath.Join(t.TempDir(), "c.json")
						f.tweak = func(j *job.Job) {
							tw(j)
							if acting {
								j.Acting = "admin@example.com"
							}
							if protect {
								j.Config.Protect = []string{"*@partner.com", "nobody@example.com"}
							}
							switch dir {
							case "absent":
								j.Resolver.Directory = nil
							case "scoped":
								j.Resolver.Directory = scoped{Directory: j.Resolver.Directory, hidden: []string{"2", "robert@example.com", "bob@example.org"}}
							}
						}
						// run 1: plan only, fills the cache
						if _, err := f.run(t, context.Background(), false); err != nil {
							t.Fatal(err)
						}
						switch dir {
						case "503":
							f.em.SetMisbehaviour("directory.users.get", emulator.Misbehaviour{Status: 503})
							f.em.SetMisbehaviour("directory.users.list", emulator.Misbehaviour{Status: 503})
						case "403":
							f.em.SetMisbehaviour("directory.users.get", emulator.Misbehaviour{Status: 403, Reason: "forbidden", Message: "Not Authorized to access this resource/api"})
							f.em.SetMisbehaviour("directory.users.list", emulator.Misbehaviour{Status: 403, Reason: "forbidden", Message: "Not Authorized to access this resource/api"})
						}
						var last string
						for run := 2; run <= 4; run++ {
							f.em.ResetStats()
							res, err := f.run(t, context.Background(), true)
							if err != nil {
								t.Fatal(err)
							}
							st := f.em.Stats()
							last = fmt.Sprintf("run %d: changes=%d incomplete=%q kept=%q users.get=%d members.get=%d", run, len(res.Plan.Changes), res.Plan.Incomplete, keptWhy(res, "guest@gmail.com")+keptWhy(res, "users/7"), st.Count("directory.users.get"), st.Count("members.get"))
							for _, c := range res.Plan.Changes {
								if (c.ID == "users/2" || c.ID == "users/5" || c.ID == "users/8") && c.Action == "delete" {
									t.Errorf("run %d: wanted/acting %s: %s", run, c.ID, c.Action)
								}
							}
							t.Log(last)
							for _, c := range res.Plan.Changes {
								t.Logf("   %s %s %s %s", c.Action, c.Space, c.Member, c.ID)
							}
						}
						snap := f.em.Snapshot()
						for _, s := range []string{"spaces/A", "spaces/B"} {
							for _, m := range snap[s] {
								if m.Member == "users/7" {
									t.Logf("STILL %s %s: %.300s", name, s, last)
								}
							}
						}
					})
				}
			}
		}
	}
}

// A converged sync space whose last joined owner is an outsider no source
// names: GuardLastOwners keeps them every run, so no cache check is owed
// for them (it cost a member read per cached wanted address, every run).
func TestConvergedLastOwnerCostsNoCacheChecks(t *testing.T) {
	for _, hide := range []bool{true, false} {
		t.Run(fmt.Sprint("hide=", hide), func(t *testing.T) {
			seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}, {ID: "2", Email: "robert@example.com", NonEditableAliases: []string{"bob@example.org"}},
				{ID: "7", Email: "owner@gmail.com", External: true}, {ID: "8", Email: "ann@example.com"}, {ID: "9", Email: "cat@example.com"}, {ID: "10", Email: "dan@example.com"}}}
			seed.Spaces = []emulator.SeedSpace{{Name: "spaces/A", Members: []emulator.SeedMember{{User: "owner@gmail.com", Role: "owner"}, {User: "boss@example.com"},
				{User: "robert@example.com"}, {User: "ann@example.com"}, {User: "cat@example.com"}, {User: "dan@example.com"}}}}
			csv := "space,member,role\nspaces/A,boss@example.com,\nspaces/A,bob@example.org,\nspaces/A,ann@example.com,\nspaces/A,cat@example.com,\nspaces/A,dan@example.com,\n"
			f := newFixture(t, seed, emulator.Options{HideEmails: hide}, csv)
			f.syncing(t)
			f.resolve, f.cacheFile = true, filepath.Join(t.TempDir(), "c.json")
			for run := 1; run <= 3; run++ {
				f.em.ResetStats()
				res, err := f.run(t, context.Background(), true)
				if err != nil {
					t.Fatal(err)
				}
				if countDeletes(res) != 0 {
					t.Errorf("run %d: %d removals, want none", run, countDeletes(res))
				}
				if n := f.em.Stats().Count("members.get"); run > 1 && n != 0 {
					t.Errorf("run %d, converged: %d members.get, want 0", run, n)
				}
			}
		})
	}
}
