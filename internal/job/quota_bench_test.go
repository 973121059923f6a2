package job_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator"
)

// BenchmarkApplyQuotaEfficiency applies 5,000 creates and 1,000 role patches
// over 200 spaces of uneven sizes against the emulator at quota scale 100
// (500 writes/s project-wide) with 20–40 ms per call. The floor is
// writes ÷ quota = 12 s; the target is at most 1.10× that and no 429 caused
// by quota.
func BenchmarkApplyQuotaEfficiency(b *testing.B) {
	const spaces, creates, patches, scale = 200, 5000, 1000, 100
	for i := 0; i < b.N; i++ {
		seed, csv := unevenWorld(spaces, creates, patches)
		f := newFixture(b, seed, emulator.Options{QuotaScale: scale, LatencyMin: 20 * time.Millisecond, LatencyMax: 40 * time.Millisecond, Seed: 1}, csv)
		f.cfg.Limits.ProjectWritesPerMinute = 300 * scale
		f.cfg.Limits.ProjectReadsPerMinute = 3000 * scale
		f.cfg.Limits.SpaceReadsPerSecond = 15 * scale
		f.cfg.Limits.Concurrency = 64
		res, err := f.runWithConfigLimits(b, context.Background(), true)
		if err != nil || res.Failed() {
			b.Fatalf("apply: %v %+v", err, res.Plan.Summary)
		}
		st := f.em.Stats()
		writes := res.Plan.Summary.Create + res.Plan.Summary.UpdateRole
		floor := float64(writes) / (300 * scale / 60.0)
		ratio := res.ApplySeconds / floor
		b.ReportMetric(res.ApplySeconds, "apply-s")
		b.ReportMetric(ratio, "x-floor")
		b.ReportMetric(float64(st.QuotaRejections), "quota-429s")
		fmt.Fprintf(os.Stderr, "quota efficiency: %d writes in %.2f s, floor %.2f s, %.3f× (target ≤ 1.10×), %d quota 429s, %d list calls for %d spaces\n",
			writes, res.ApplySeconds, floor, ratio, st.QuotaRejections, st.Count("members.list"), spaces)
		if writes != creates+patches {
			b.Fatalf("planned %d writes, want %d", writes, creates+patches)
		}
	}
}

// unevenWorld makes spaces whose sizes grow with their index; the first
// `patches` existing members want a manager role, and `creates` users are new.
func unevenWorld(spaces, creates, patches int) (*emulator.Seed, string) {
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
