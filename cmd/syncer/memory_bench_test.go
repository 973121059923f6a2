package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
)

// The 1M world: 10,000 spaces of 100 distinct people.
const scaleSpaces, scalePerSpace = 10_000, 100

// BenchmarkPlan1MThroughTheBinary plans 1,000,000 memberships over 10,000
// spaces with `syncer plan`, against `syncer emulator` seeded with the same
// state (converged), each in its own process, and reports the plan
// process's peak RSS, CPU and wall time against the targets. Quotas are
// off in the emulator and raised in the config: this measures memory, not
// pacing. --detailed-exitcode makes any change planned (a wrong plan of a
// converged state) fail the benchmark.
func BenchmarkPlan1MThroughTheBinary(b *testing.B) {
	csvPath := filepath.Join(b.TempDir(), "members.csv")
	if err := emulatortest.WriteScaleCSV(csvPath, scaleSpaces, scalePerSpace); err != nil {
		b.Fatal(err)
	}
	for _, kind := range []struct {
		name   string
		env    []string
		target string
		args   []string
		warm   bool // a run first, untimed, fills the identity cache
		// expired: the cache's entries trusted for a second, so the timed
		// run finds every one expired (as one run a day does, with the
		// default day's trust: the pass that refreshed them gave them one
		// expiry).
		expired bool
	}{
		{"lists-with-emails", nil, "< 400 MiB", nil, false, false},
		// The run a big tenant gets (Google fills member.email only for
		// some): every address settled by one Directory pass, the spaces
		// read meanwhile held within the budget (limits.held_memberships).
		{"lists-without-emails", nil, "< 400 MiB, < 8 s", []string{"--hide-emails"}, false, false},
		// Every later run of such a tenant: the million identities come
		// from the cache the first run wrote.
		{"lists-without-emails-warm", nil, "< 400 MiB, < 8 s", []string{"--hide-emails"}, true, false},
		{"lists-without-emails-cache-expired", nil, "< 400 MiB", []string{"--hide-emails"}, true, true},
		// The same in a container that says how much memory it has: the
		// budget is sized from GOMEMLIMIT.
		{"lists-without-emails-GOMEMLIMIT-512MiB", []string{"GOMEMLIMIT=512MiB"}, "< 600 MiB, correct", []string{"--hide-emails"}, false, false},
	} {
		b.Run(kind.name, func(b *testing.B) {
			plan1M(b, csvPath, kind.name, kind.env, kind.target, kind.warm, kind.expired, kind.args...)
		})
	}
}

func plan1M(b *testing.B, csvPath, name string, env []string, target string, warm, expired bool, emulatorArgs ...string) {
	url := startEmulator(b, append([]string{"--seed-converged", csvPath, "--quota-scale", "0"}, emulatorArgs...)...)
	cfg := filepath.Join(b.TempDir(), "config.yaml")
	config := fmt.Sprintf("sources: [{path: %q}]\napi: {endpoint: %q}\n"+
		"limits: {project_reads_per_minute: 10000000, space_reads_per_second: 100000, directory_per_minute: 10000000, project_writes_per_minute: 10000000}\n", csvPath, url)
	if expired {
		config += "identity: {cache_ttl: 1s}\n"
	}
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		b.Fatal(err)
	}
	if warm {
		b.StopTimer()
		if out, err := exec.Command(binary(b), "plan", "--config", cfg, "--log-level", "warn").CombinedOutput(); err != nil {
			b.Fatalf("the run that fills the cache: %v\n%s", err, out)
		}
		if expired {
			time.Sleep(1100 * time.Millisecond)
		}
		b.StartTimer()
	}
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(binary(b), "plan", "--config", cfg, "--output", "json", "--log-level", "warn", "--detailed-exitcode")
		cmd.Stdout, cmd.Stderr, cmd.Env = nil, os.Stderr, append(os.Environ(), env...)
		start := time.Now()
		err := cmd.Run()
		wall := time.Since(start).Seconds()
		if err != nil {
			b.Fatalf("plan: %v", err)
		}
		rss, cpu := usageOf(cmd.ProcessState)
		b.ReportMetric(rss, "peak-RSS-MiB")
		b.ReportMetric(wall, "wall-s")
		b.ReportMetric(cpu, "cpu-s")
		// A converged run exits 0: a change planned would be a wrong plan.
		fmt.Fprintf(os.Stderr, "syncer plan, %d memberships over %d spaces, converged, %s: %.1f s wall, %.1f s CPU, %.0f MiB peak RSS (target %s)\n",
			scaleSpaces*scalePerSpace, scaleSpaces, name, wall, cpu, rss, target)
	}
}
