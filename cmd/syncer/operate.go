package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	dto "github.com/prometheus/client_model/go"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/metrics"
	"github.com/syncer-dev/syncer/internal/report"
)

// writeReportFile writes the report in the format its extension names
// (.html: the page, with what run says of the run); $GITHUB_STEP_SUMMARY
// is appended to, as GitHub expects.
func writeReportFile(path string, plan diff.Plan, run report.Run) error {
	format := "text"
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		format = "json"
	case ".md", ".markdown":
		format = "markdown"
	case ".html", ".htm":
		format = "html"
	}
	if path == os.Getenv("GITHUB_STEP_SUMMARY") {
		format = "markdown"
	}
	var buf bytes.Buffer
	var err error
	if format == "html" {
		err = writeHTMLReport(&buf, plan, run)
	} else {
		err = report.Write(&buf, format, plan)
	}
	if err != nil {
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
	ctx, cancel := context.WithTimeout(context.Background(), pushTimeout)
	defer cancel()
	client := &http.Client{Transport: baseTransport, Timeout: pushTimeout}
	return push.New(url, "syncer").Client(client).Gatherer(g).AddContext(ctx)
}

// pushTimeout bounds the push: it happens after the run, and a Pushgateway
// that doesn't answer must not hold the lock (or a SIGTERM) for longer.
const pushTimeout = 5 * time.Second
