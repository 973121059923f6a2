// Package metrics holds the syncer's Prometheus metrics in a registry of its
// own (no global state) and counts API requests at the HTTP layer. Labels
// are low-cardinality: never a member, never a space.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncer-dev/syncer/internal/diff"
)

// Metrics are one process's metrics.
type Metrics struct {
	Registry           *prometheus.Registry
	RunDuration        prometheus.Gauge
	LastRun            prometheus.Gauge
	LastSuccess        prometheus.Gauge
	Changes            *prometheus.CounterVec
	APIRequests        *prometheus.CounterVec
	APIRetries         prometheus.Counter
	DesiredMemberships prometheus.Gauge
	ManagedSpaces      prometheus.Gauge
	RemovalsPending    prometheus.Gauge
	Runs               *prometheus.CounterVec
}

// New registers every metric in a fresh registry.
func New() *Metrics {
	m := &Metrics{
		Registry:           prometheus.NewRegistry(),
		RunDuration:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "syncer_run_duration_seconds", Help: "How long the last run took."}),
		LastRun:            prometheus.NewGauge(prometheus.GaugeOpts{Name: "syncer_last_run_timestamp_seconds", Help: "When the last run ended (Unix time)."}),
		LastSuccess:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "syncer_last_success_timestamp_seconds", Help: "When the last successful run ended (Unix time)."}),
		Changes:            prometheus.NewCounterVec(prometheus.CounterOpts{Name: "syncer_changes_total", Help: "Planned changes by action and outcome (planned when not applied)."}, []string{"action", "status"}),
		APIRequests:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "syncer_api_requests_total", Help: "API requests by method and HTTP status (error when no answer came)."}, []string{"method", "code"}),
		APIRetries:         prometheus.NewCounter(prometheus.CounterOpts{Name: "syncer_api_retries_total", Help: "Retried API calls (quota and transient failures)."}),
		DesiredMemberships: prometheus.NewGauge(prometheus.GaugeOpts{Name: "syncer_desired_memberships", Help: "Memberships the sources ask for."}),
		ManagedSpaces:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "syncer_managed_spaces", Help: "Spaces the sources name."}),
		RemovalsPending:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "syncer_removals_pending", Help: "Removals the grace period holds (policy sync)."}),
		Runs:               prometheus.NewCounterVec(prometheus.CounterOpts{Name: "syncer_runs_total", Help: "Runs by result: success, failure, blocked (a safety check), invalid (config or source), skipped (a run still going)."}, []string{"result"}),
	}
	m.Registry.MustRegister(m.RunDuration, m.LastRun, m.LastSuccess, m.Changes, m.APIRequests, m.APIRetries,
		m.DesiredMemberships, m.ManagedSpaces, m.RemovalsPending, m.Runs)
	return m
}

// ObserveRun records a finished run.
func (m *Metrics) ObserveRun(started time.Time, result string, plan *diff.Plan, desired, spaces int) {
	if m == nil {
		return
	}
	now := time.Now()
	m.RunDuration.Set(now.Sub(started).Seconds())
	m.LastRun.Set(float64(now.Unix()))
	if result == "success" {
		m.LastSuccess.Set(float64(now.Unix()))
	}
	m.Runs.WithLabelValues(result).Inc()
	if plan == nil {
		return
	}
	m.DesiredMemberships.Set(float64(desired))
	m.ManagedSpaces.Set(float64(spaces))
	m.RemovalsPending.Set(float64(len(plan.Pending)))
	for _, c := range plan.Changes {
		status := string(c.Status)
		if status == "" {
			status = "planned"
		}
		m.Changes.WithLabelValues(string(c.Action), status).Inc()
	}
}

// Transport counts requests made through next (http.DefaultTransport when nil).
func (m *Metrics) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	if m == nil {
		return next
	}
	return roundTripper{next: next, m: m}
}

type roundTripper struct {
	next http.RoundTripper
	m    *Metrics
}

func (rt roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := rt.next.RoundTrip(r)
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	rt.m.APIRequests.WithLabelValues(MethodName(r.Method, r.URL.Path), code).Inc()
	return resp, err
}

// MethodName names an API call from its HTTP method and path.
func MethodName(method, path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) >= 4 && parts[0] == "admin" && parts[len(parts)-1] == "users":
		return "directory.users.list"
	case len(parts) >= 4 && parts[0] == "admin":
		return "directory.users.get"
	case len(parts) == 3 && parts[1] == "spaces":
		return "spaces.get"
	case len(parts) == 4 && parts[3] == "members":
		if method == http.MethodPost {
			return "members.create"
		}
		return "members.list"
	case len(parts) == 5 && parts[3] == "members":
		switch method {
		case http.MethodPatch:
			return "members.patch"
		case http.MethodDelete:
			return "members.delete"
		}
		return "members.get"
	case len(parts) > 0 && parts[len(parts)-1] == "token":
		return "oauth.token"
	}
	return "other"
}
