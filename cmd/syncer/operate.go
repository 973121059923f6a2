package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	dto "github.com/prometheus/client_model/go"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/metrics"
	"github.com/syncer-dev/syncer/internal/report"
)

// acquireLock takes an exclusive, non-blocking file lock so a second apply
// on this host refuses to start. The kernel drops the lock if the process
// dies, so a killed run never leaves a stale lock behind.
func acquireLock(path, configPath string) (func(), error) {
	if path == "" {
		abs, _ := filepath.Abs(configPath)
		sum := sha256.Sum256([]byte(abs))
		path = filepath.Join(os.TempDir(), "syncer-"+hex.EncodeToString(sum[:6])+".lock")
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner, _ := os.ReadFile(path)
		f.Close()
		return nil, fmt.Errorf("another syncer apply is running for this config (lock %s held by pid %s); not starting a second one",
			path, strings.TrimSpace(string(owner)))
	}
	f.Truncate(0)
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return func() { f.Close() }, nil
}

// writeReportFile writes the report in the format its extension names;
// $GITHUB_STEP_SUMMARY is appended to, as GitHub expects.
func writeReportFile(path string, plan diff.Plan) error {
	format := "text"
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		format = "json"
	case ".md", ".markdown":
		format = "markdown"
	}
	if path == os.Getenv("GITHUB_STEP_SUMMARY") {
		format = "markdown"
	}
	var buf bytes.Buffer
	if err := report.Write(&buf, format, plan); err != nil {
		return err
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if path == os.Getenv("GITHUB_STEP_SUMMARY") {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// pushMetrics sends the run's metrics with add semantics (POST): metrics this push
// lacks keep their pushed values, so a failed run leaves the last success
// timestamp as it was.
func pushMetrics(url string, m *metrics.Metrics, success bool) error {
	var g prometheus.Gatherer = m.Registry
	if !success {
		g = prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
			fams, err := m.Registry.Gather()
			out := fams[:0]
			for _, f := range fams {
				if f.GetName() != "syncer_last_success_timestamp_seconds" {
					out = append(out, f)
				}
			}
			return out, err
		})
	}
	return push.New(url, "syncer").Gatherer(g).Add()
}
