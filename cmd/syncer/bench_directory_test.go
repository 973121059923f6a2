package main

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
)

// BenchmarkRefusedDirectoryPass: lists without emails, 1,000 addresses no
// list shows, a Directory whose users.list is refused (403, as for a caller
// without the right to list users) while users.get answers. The pass fails
// at its first page and every address is looked up on its own; those
// lookups go side by side, so the run's bound is addresses ÷ the
// Directory's pace (at quotas ×4: 160 a second, 50 ms a call).
// Target: ≤ 1.15 × that bound.
func BenchmarkRefusedDirectoryPass(b *testing.B) {
	k := runKind{name: "refused-pass", world: emulatortest.World{Spaces: 100, MembersPerSpace: 10}, scale: 4, latency: 50 * time.Millisecond, hide: true, target: 1.15}
	bin := binary(b)
	for i := 0; i < b.N; i++ {
		em, _, cfg, min := benchWorld(b, k)
		em.SetMisbehaviour("directory.users.list", emulator.Misbehaviour{Status: 403, Reason: "forbidden", Message: "Not Authorized to access this resource/api"})
		settleHarness()
		start := time.Now()
		out, err := exec.Command(bin, "plan", "--config", cfg, "--output", "json", "--log-level", "warn", "--detailed-exitcode").CombinedOutput()
		wall := time.Since(start).Seconds()
		if err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		st := em.Stats()
		addresses := k.world.Spaces * k.world.MembersPerSpace
		if got := st.Count("directory.users.get"); got < addresses {
			b.Fatalf("%d users.get calls, want one per address at least (%d)", got, addresses)
		}
		bound := float64(addresses) / (2400 * k.scale / 60)
		b.ReportMetric(wall, "wall-s")
		b.ReportMetric(wall/bound, "x-bound")
		fmt.Fprintf(os.Stderr, "%-12s wall %6.2f s  bound %6.2f s (%d addresses at the Directory's pace)  ratio %.3f (target %.2f)  requests %d (%v)  list pages %d\n",
			k.name, wall, bound, addresses, wall/bound, k.target, st.Total(), requestMix(st), min.ListPages)
	}
}
