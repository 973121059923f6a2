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
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
)

// BenchmarkApplyThroughTheCLI measures quota efficiency through the binary's
// own client construction (transport, metrics, default concurrency), not a
// test fixture's: 3,000 creates and 600 role changes over 100 spaces with
// the emulator at quota scale 100 (500 writes/s) and 20–40 ms a call. The
// config sets only the scaled quotas, as an admin would.
func BenchmarkApplyThroughTheCLI(b *testing.B) {
	const spaces, perSpace, patchesPerSpace, scale = 100, 30, 6, 100
	for i := 0; i < b.N; i++ {
		seed := &emulator.Seed{Users: []emulator.SeedUser{{ID: "1", Email: "boss@example.com"}}}
		var csv strings.Builder
		csv.WriteString("space,member,role\n")
		user := 0
		for s := 0; s < spaces; s++ {
			sp := emulator.SeedSpace{Name: fmt.Sprintf("spaces/B%03d", s), Members: []emulator.SeedMember{{User: "boss@example.com", Role: "owner"}}}
			for j := 0; j < perSpace+patchesPerSpace; j++ {
				user++
				email := fmt.Sprintf("u%d@example.com", user)
				seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(10000 + user), Email: email})
				role := ""
				if j < patchesPerSpace {
					sp.Members = append(sp.Members, emulator.SeedMember{User: email})
					role = "manager"
				}
				fmt.Fprintf(&csv, "%s,%s,%s\n", sp.Name, email, role)
			}
			seed.Spaces = append(seed.Spaces, sp)
		}
		em, url := emulatortest.Start(b, seed, emulator.Options{QuotaScale: scale, LatencyMin: 20 * time.Millisecond, LatencyMax: 40 * time.Millisecond, Seed: 1})
		dir := b.TempDir()
		os.WriteFile(filepath.Join(dir, "members.csv"), []byte(csv.String()), 0o644)
		cfg := filepath.Join(dir, "config.yaml")
		os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q}\nlimits: {project_writes_per_minute: %d, project_reads_per_minute: %d, space_reads_per_second: %d}\n",
			url, 300*scale, 3000*scale, 15*scale)), 0o644)
		start := time.Now()
		code, out, errOut := runCLI(b, "apply", "--config", cfg, "--output", "json", "--log-level", "info")
		wall := time.Since(start).Seconds()
		if code != exitOK {
			b.Fatalf("exit %d\n%s", code, errOut)
		}
		r := struct {
			Summary map[string]int `json:"summary"`
		}{}
		_ = jsonUnmarshal(out, &r)
		writes := r.Summary["create"] + r.Summary["update_role"]
		floor := float64(writes) / (300 * scale / 60.0)
		st := em.Stats()
		applySeconds := 0.0
		for _, line := range strings.Split(errOut, "\n") {
			var l struct {
				Message string  `json:"message"`
				Seconds float64 `json:"seconds"`
			}
			if jsonUnmarshal(line, &l) == nil && l.Message == "apply finished" {
				applySeconds = l.Seconds
			}
		}
		b.ReportMetric(applySeconds/floor, "apply-x-floor")
		b.ReportMetric(float64(st.QuotaRejections), "quota-429s")
		fmt.Fprintf(os.Stderr, "through the CLI: %d writes; apply %.2f s = %.3f× the %.2f s floor; whole run %.2f s (reads, identity, start-up); %d quota 429s\n",
			writes, applySeconds, applySeconds/floor, floor, wall, st.QuotaRejections)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
