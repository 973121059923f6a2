package main

import (
	"bytes"
	"context"
	"io"
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
	client := &http.Client{Transport: cutAnswers{base: baseTransport}, Timeout: pushTimeout}
	return push.New(url, "syncer").Client(client).Gatherer(g).AddContext(ctx)
}

// maxPushAnswer is as much of a Pushgateway's answer as the push reads: its
// answers are a line of text, which the push quotes in its error when
// refused. A longer body (a proxy's, or one without end) is cut, not read
// into memory and into the log.
const maxPushAnswer = 4 << 10

// cutAnswers ends every answer's body after maxPushAnswer bytes.
type cutAnswers struct{ base http.RoundTripper }

func (t cutAnswers) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.base.RoundTrip(req)
	if err == nil && res.Body != nil {
		res.Body = cutBody{Reader: io.LimitReader(res.Body, maxPushAnswer), Closer: res.Body}
	}
	return res, err
}

type cutBody struct {
	io.Reader
	io.Closer
}

// pushTimeout bounds the push: it happens after the run, and a Pushgateway
// that doesn't answer must not hold the lock (or a SIGTERM) for longer.
const pushTimeout = 5 * time.Second
