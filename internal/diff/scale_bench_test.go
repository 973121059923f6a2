package diff_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
	"github.com/syncer-dev/syncer/internal/membership"
	"github.com/syncer-dev/syncer/internal/source"
)

// BenchmarkLoadAndPlan1M loads 1,000,000 desired memberships over 10,000
// spaces from a generated CSV and plans them against a matching current
// state. The target is under 2 s and under 512 MiB peak RSS on 2 cores.
func BenchmarkLoadAndPlan1M(b *testing.B) {
	const spaces, perSpace = 10_000, 100
	path := filepath.Join(b.TempDir(), "members.csv")
	if err := emulatortest.WriteScaleCSV(path, spaces, perSpace); err != nil {
		b.Fatal(err)
	}
	cur := scaleCurrent(spaces, perSpace)
	b.ResetTimer()
	var wall time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		desired, err := source.Load([]source.Spec{{Path: path}})
		if err != nil {
			b.Fatal(err)
		}
		plan := diff.Compute(desired, cur, diff.Upsert)
		wall = time.Since(start)
		if desired.Count() != spaces*perSpace || !plan.Empty() || plan.Summary.Unchanged != spaces*perSpace {
			b.Fatalf("desired %d, plan %+v", desired.Count(), plan.Summary)
		}
	}
	rss := peakRSSMiB()
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(rss, "peak-RSS-MiB")
	fmt.Fprintf(os.Stderr, "load+plan of %d memberships over %d spaces: %.2f s wall, %.0f MiB peak RSS (targets: 2 s, 512 MiB)\n",
		spaces*perSpace, spaces, wall.Seconds(), rss)
}

func scaleCurrent(spaces, perSpace int) membership.Current {
	cur := membership.Current{Spaces: make(map[string]*membership.SpaceState, spaces)}
	for s := 0; s < spaces; s++ {
		name := fmt.Sprintf("spaces/S%05d", s)
		st := &membership.SpaceState{Name: name, Type: membership.TypeSpace, Memberships: make([]membership.Membership, perSpace)}
		for m := 0; m < perSpace; m++ {
			id := strconv.Itoa(1_000_000_000 + s*perSpace + m)
			role := membership.RoleMember
			if m == 0 {
				role = membership.RoleOwner
			}
			st.Memberships[m] = membership.Membership{Name: name + "/members/" + id, Principal: membership.User(id),
				Email: fmt.Sprintf("user%07d@example.com", s*perSpace+m), Role: role, State: membership.StateJoined}
		}
		cur.Spaces[name] = st
	}
	return cur
}

// peakRSSMiB reads the process's high-water mark of resident memory.
func peakRSSMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1024
		}
	}
	return -1
}
