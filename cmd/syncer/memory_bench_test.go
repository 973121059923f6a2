package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
)

// The 1M world: 10,000 spaces of 100 distinct people.
const scaleSpaces, scalePerSpace = 10_000, 100

// BenchmarkPlan1MThroughTheBinary plans 1,000,000 memberships over 10,000
// spaces with `syncer plan`, against `syncer emulator` seeded with the same
// state (converged), each in its own process, and reports the plan
// process's peak RSS (target < 400 MiB) and wall time. Quotas are off in
// the emulator and raised in the config: this measures memory, not pacing.
func BenchmarkPlan1MThroughTheBinary(b *testing.B) {
	csvPath := filepath.Join(b.TempDir(), "members.csv")
	if err := emulatortest.WriteScaleCSV(csvPath, scaleSpaces, scalePerSpace); err != nil {
		b.Fatal(err)
	}
	for _, kind := range []struct {
		name string
		args []string
	}{{"lists-with-emails", nil}, {"lists-without-emails", []string{"--hide-emails"}}} {
		b.Run(kind.name, func(b *testing.B) { plan1M(b, csvPath, kind.name, kind.args...) })
	}
}

func plan1M(b *testing.B, csvPath, name string, emulatorArgs ...string) {
	url := startEmulator(b, append([]string{"--seed-converged", csvPath, "--quota-scale", "0"}, emulatorArgs...)...)
	cfg := filepath.Join(b.TempDir(), "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: %q}]\napi: {endpoint: %q}\n"+
		"limits: {project_reads_per_minute: 10000000, space_reads_per_second: 100000, directory_per_minute: 10000000, project_writes_per_minute: 10000000}\n", csvPath, url)), 0o644)
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(binary(b), "plan", "--config", cfg, "--output", "json", "--log-level", "warn", "--detailed-exitcode")
		cmd.Stdout, cmd.Stderr = nil, os.Stderr
		start := time.Now()
		err := cmd.Run()
		wall := time.Since(start).Seconds()
		if err != nil {
			b.Fatalf("plan: %v", err)
		}
		rss := float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024 // KiB on Linux
		b.ReportMetric(rss, "peak-RSS-MiB")
		b.ReportMetric(wall, "wall-s")
		fmt.Fprintf(os.Stderr, "syncer plan, %d memberships over %d spaces, converged, %s: %.1f s, %.0f MiB peak RSS (target < 400 MiB)\n",
			scaleSpaces*scalePerSpace, scaleSpaces, name, wall, rss)
	}
}
