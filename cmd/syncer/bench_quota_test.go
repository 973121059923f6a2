package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/emulator"
)

// bucketRun is a kind of run against quotas counted as token buckets
// holding 10 calls: stricter than Google's per-minute count, so only a
// client that paces smoothly gets through unrefused.
type bucketRun struct {
	name   string
	stray  int     // the members.list call answered 429 once (0: none)
	other  float64 // the share of each project quota another app uses
	target float64 // wall ÷ T_min, T_min counting only what the other app leaves
	max429 float64 // at most this share of calls answered 429 (0: not a target)
}

// Both on the read-heavy world: 2,000 spaces, 30 changes, quotas ×10.
var bucketRuns = []bucketRun{
	// One refusal is not evidence the pace is too fast: it must cost little.
	{name: "stray-429", stray: 500, target: 1.15},
	// Another app takes 30% of every project quota: the pace must find the
	// 70% left and keep to it.
	{name: "shared-quota", other: 0.3, target: 1.15, max429: 0.01},
}

// BenchmarkQuotaModes runs `syncer apply`, the built binary, against the
// emulator with token-bucket quotas: with one stray 429, and with another
// app using 30% of the quotas (whose T_min counts the 70% left).
func BenchmarkQuotaModes(b *testing.B) {
	bin := binary(b)
	var k runKind
	for _, kind := range runKinds {
		if kind.name == "read-heavy" {
			k = kind
		}
	}
	for _, q := range bucketRuns {
		b.Run(q.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				em, _, cfg, min := benchWorldWith(b, k, emulator.Options{QuotaBucket: true, OtherAppShare: q.other})
				if q.stray > 0 {
					em.SetMisbehaviour("members.list", emulator.Misbehaviour{Status: 429, AtCall: q.stray, Message: "a stray refusal"})
				}
				settleHarness()
				start := time.Now()
				cmd := exec.Command(bin, "apply", "--config", cfg, "--output", "json", "--log-level", "info")
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				err := cmd.Run()
				wall := time.Since(start).Seconds()
				if err != nil {
					b.Fatalf("%v\n%s", err, stderr.String())
				}
				cuts := paceCuts(stderr.String())
				st := em.Stats()
				if st.Writes != min.Writes {
					b.Fatalf("%d writes reached the emulator, want %d", st.Writes, min.Writes)
				}
				left := k
				left.scale = k.scale * (1 - q.other)
				bound, _ := tMin(left, min)
				refused := st.QuotaRejections
				injected := 0
				if q.stray > 0 {
					injected = 1
				}
				share := float64(refused+injected) / float64(st.Total())
				b.ReportMetric(wall/bound, "x-Tmin")
				b.ReportMetric(float64(refused+injected), "429s")
				target429 := ""
				if q.max429 > 0 {
					target429 = fmt.Sprintf(" (target ≤ %.0f%%)", 100*q.max429)
				}
				fmt.Fprintf(os.Stderr, "%-12s wall %6.2f s  T_min %6.2f s  ratio %.3f (target %.2f)  requests %6d  429s %d: %.2f%% of calls%s (%d injected, %d the quotas')  pace cuts %d%s\n",
					q.name, wall, bound, wall/bound, q.target, st.Total(), refused+injected, 100*share, target429, injected, refused, len(cuts), strings.Join(cuts, ""))
			}
		})
	}
}

// paceCuts lists the pace cuts a run logged, as " reads 500→340/s".
func paceCuts(log string) []string {
	var cuts []string
	for _, line := range strings.Split(log, "\n") {
		var e struct {
			Message string  `json:"message"`
			Op      string  `json:"op"`
			From    float64 `json:"from_per_second"`
			To      float64 `json:"to_per_second"`
		}
		if json.Unmarshal([]byte(line), &e) != nil || !strings.HasPrefix(e.Message, "pace lowered") {
			continue
		}
		cuts = append(cuts, fmt.Sprintf(" %s %.0f→%.0f/s", e.Op, e.From, e.To))
	}
	return cuts
}
