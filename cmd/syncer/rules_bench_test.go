package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
)

// The Directory-rules world of issue 12: a 20,000-user Directory in 20
// organisational units of 1,000 and 50 groups of 400; 200 spaces, space k
// fed by group k%50 and unit k%20 (about 1,400 members each, 280,000 in
// all), converged but for 5 people per space. Every user is in exactly one
// unit and one group, and 1 in 100 is suspended (left out by every rule).
const (
	ruleUsers  = 20000
	ruleOUs    = 20
	ruleGroups = 50
	ruleSpaces = 200
)

func ruleWorld() (*emulator.Seed, string, int) {
	seed := &emulator.Seed{}
	email := func(i int) string { return fmt.Sprintf("d%05d@example.com", i) }
	for i := 0; i < ruleUsers; i++ {
		seed.Users = append(seed.Users, emulator.SeedUser{ID: fmt.Sprint(200000000 + i), Email: email(i),
			OrgUnit: fmt.Sprintf("/Org/U%02d", i%ruleOUs), Suspended: i%100 == 99})
	}
	per := ruleUsers / ruleGroups
	for g := 0; g < ruleGroups; g++ {
		grp := emulator.SeedGroup{ID: fmt.Sprintf("g%02d", g), Email: fmt.Sprintf("team%02d@example.com", g)}
		for i := g * per; i < (g+1)*per; i++ {
			grp.Members = append(grp.Members, email(i))
		}
		seed.Groups = append(seed.Groups, grp)
	}
	var src strings.Builder
	src.WriteString("spaces:\n")
	for k := 0; k < ruleSpaces; k++ {
		g, ou := k%ruleGroups, k%ruleOUs
		fmt.Fprintf(&src, "  - space: spaces/R%03d\n    members:\n      - {group_members: team%02d@example.com}\n      - {org_unit: /Org/U%02d}\n", k, g, ou)
		sp := emulator.SeedSpace{Name: fmt.Sprintf("spaces/R%03d", k)}
		in := map[int]bool{}
		for i := g * per; i < (g+1)*per; i++ {
			in[i] = true
		}
		for i := ou; i < ruleUsers; i += ruleOUs {
			in[i] = true
		}
		skipped := 0
		for i := 0; i < ruleUsers; i++ {
			if !in[i] || i%100 == 99 {
				continue
			}
			if skipped < 5 && i%7 == 0 {
				skipped++ // joins in this run's plan
				continue
			}
			sp.Members = append(sp.Members, emulator.SeedMember{User: email(i)})
		}
		seed.Spaces = append(seed.Spaces, sp)
	}
	// Pages those rules need: a group of 400 is 2 pages of 200, a unit of
	// 1,000 is 2 pages of 500 (suspended people are in the pages too).
	pages := ruleGroups*((per+199)/200) + ruleOUs*((ruleUsers/ruleOUs+499)/500)
	return seed, src.String(), pages
}

// BenchmarkDirectoryRules plans the rules world through the binary. At
// Google's quotas (Directory 2,400 calls a minute, reads 3,000), the run
// is bounded by its paced calls; what it spends beyond them is expanding,
// matching and planning. With quotas off it shows that cost alone.
func BenchmarkDirectoryRules(b *testing.B) {
	bin := binary(b)
	seed, src, pages := ruleWorld()
	for _, scale := range []struct {
		name  string
		quota float64
	}{{"google-quotas", 1}, {"quotas-off", 0}} {
		b.Run(scale.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				em, url := emulatortest.Start(b, seed, emulator.Options{QuotaScale: scale.quota})
				dir := b.TempDir()
				os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(src), 0o644)
				cfg := filepath.Join(dir, "config.yaml")
				limits := ""
				if scale.quota == 0 {
					limits = "limits: {project_reads_per_minute: 1000000, space_reads_per_second: 100000, project_space_reads_per_minute: 1000000, directory_per_minute: 1000000}\n"
				}
				os.WriteFile(cfg, []byte(fmt.Sprintf("sources: [{path: rules.yaml}]\napi: {endpoint: %q}\n%s", url, limits)), 0o644)
				start := time.Now()
				cmd := exec.Command(bin, "plan", "--config", cfg, "--output", "json")
				var stderr strings.Builder
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				wall := time.Since(start).Seconds()
				if err != nil {
					b.Fatalf("%v\n%s", err, stderr.String())
				}
				var r struct {
					Summary map[string]int `json:"summary"`
				}
				if err := json.Unmarshal(out, &r); err != nil || r.Summary["create"] != 5*ruleSpaces || r.Summary["delete"] != 0 {
					b.Fatalf("plan %v (%v)", r.Summary, err)
				}
				st := em.Stats()
				dirCalls := st.Count("directory.members.list") + st.Count("directory.users.list") + st.Count("directory.users.get") + st.Count("directory.groups.get")
				if dirCalls > pages+10 {
					b.Errorf("%d Directory calls, more than the %d pages the rules need + 10", dirCalls, pages)
				}
				lists := st.Count("members.list")
				// The paced calls' floor: Directory pages at 2,400 a minute,
				// list pages at 3,000, side by side (spaces are read while
				// the rules expand). The run is shorter than the minute
				// Google counts in, so the full rate: limits.headroom caps
				// only what a whole minute holds.
				floor := 0.0
				if scale.quota != 0 {
					floor = max(float64(dirCalls)/(2400.0/60), float64(lists)/(3000.0/60))
				}
				b.ReportMetric(wall, "wall-s")
				b.ReportMetric(float64(dirCalls), "directory-calls")
				b.ReportMetric(wall-floor, "beyond-calls-s")
				target := ""
				if scale.quota != 0 {
					target = " (target < 2)"
				}
				fmt.Fprintf(os.Stderr, "rules %-13s wall %6.2f s  paced calls' floor (max of Directory, reads) %5.2f s  beyond the calls %5.2f s%s  Directory calls %d (pages needed %d)  list pages %d  %s\n",
					scale.name, wall, floor, wall-floor, target, dirCalls, pages, lists, expandLine(stderr.String()))
			}
		})
	}
}

// expandLine is the run's "rules expanded" log figures.
func expandLine(logs string) string {
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"rules expanded"`) {
			var l struct {
				Seconds     float64 `json:"seconds"`
				Memberships int     `json:"memberships"`
			}
			json.Unmarshal([]byte(line), &l)
			return fmt.Sprintf("expanded to %d memberships in %.2f s", l.Memberships, l.Seconds)
		}
	}
	return ""
}
