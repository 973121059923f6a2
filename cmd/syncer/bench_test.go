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

// BenchmarkApplyThroughTheCLI is issue 3's quota benchmark, run through
// syncer's own CLI path (its transport, metrics and default concurrency):
// 5,000 creates and 1,000 role changes over 200 spaces of uneven sizes,
// the emulator at quota scale 100 (500 writes/s) with 20–40 ms a call. The
// config sets only the scaled quotas, as an admin would. Target: apply
// within 1.10× of writes ÷ quota (12 s) and no 429 caused by quota.
func BenchmarkApplyThroughTheCLI(b *testing.B) {
	const spaces, creates, patches, scale = 200, 5000, 1000, 100
	for i := 0; i < b.N; i++ {
		seed, csv := emulatortest.UnevenWorld(spaces, creates, patches)
		em, url := emulatortest.Start(b, seed, emulator.Options{QuotaScale: scale, LatencyMin: 20 * time.Millisecond, LatencyMax: 40 * time.Millisecond, Seed: 1})
		dir := b.TempDir()
		os.WriteFile(filepath.Join(dir, "members.csv"), []byte(csv), 0o644)
		cfg := filepath.Join(dir, "config.yaml")
		os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: members.csv}]\napi: {endpoint: %q}\nlimits: {project_writes_per_minute: %d, project_reads_per_minute: %d, space_reads_per_second: %d}\n",
			url, 300*scale, 3000*scale, 15*scale)), 0o644)
		start := time.Now()
		code, out, errOut := runCLI(b, "apply", "--config", cfg, "--output", "json", "--log-level", "info")
		wall := time.Since(start).Seconds()
		if code != exitOK {
			b.Fatalf("exit %d\n%s", code, errOut)
		}
		if st := em.Stats(); st.Writes != creates+patches {
			b.Fatalf("%d writes reached the emulator, want %d", st.Writes, creates+patches)
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
