package emulatortest

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Timeline records every call an emulator answers, when it began and
// ended, so a benchmark can tell what a slow run waited on: which kind of
// call sat idle, which pages were read twice.
type Timeline struct {
	mu    sync.Mutex
	start time.Time
	calls []Call
}

// Call is one answered request.
type Call struct {
	Kind   string // list, get, spaces.get, write, directory.list, directory.get, other
	Path   string
	Query  string // the URL's raw query (a users.list's query and pageToken)
	Status int
	// Start and End are since the timeline's last Reset.
	Start, End time.Duration
}

// Call kinds.
const (
	KindList          = "list"
	KindGet           = "get"
	KindSpacesGet     = "spaces.get"
	KindWrite         = "write"
	KindDirectoryList = "directory.list"
	KindDirectoryGet  = "directory.get"
)

// Wrap records the calls h answers.
func (t *Timeline) Wrap(h http.Handler) http.Handler {
	t.Reset()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/emulator/") {
			h.ServeHTTP(w, r)
			return
		}
		began := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		ended := time.Now()
		t.mu.Lock()
		t.calls = append(t.calls, Call{Kind: kindOf(r), Path: r.URL.Path, Query: r.URL.RawQuery, Status: sw.status,
			Start: began.Sub(t.start), End: ended.Sub(t.start)})
		t.mu.Unlock()
	})
}

// Reset forgets the calls so far and starts the clock again.
func (t *Timeline) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls, t.start = nil, time.Now()
}

// Calls returns the calls recorded, by start.
func (t *Timeline) Calls() []Call {
	t.mu.Lock()
	out := slices.Clone(t.calls)
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b Call) int { return int(a.Start - b.Start) })
	return out
}

func kindOf(r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method != http.MethodGet:
		return KindWrite
	case strings.HasPrefix(r.URL.Path, "/admin/directory/v1/users"):
		if len(parts) == 4 {
			return KindDirectoryList
		}
		return KindDirectoryGet
	case strings.HasPrefix(r.URL.Path, "/v1/spaces/"):
		switch len(parts) {
		case 3:
			return KindSpacesGet
		case 4:
			return KindList
		case 5:
			return KindGet
		}
	}
	return "other"
}

// statusWriter notes the status a handler answers; the emulator's
// connection resets still reach the connection underneath.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("the response writer can't be hijacked")
	}
	return hj.Hijack()
}

// Activity is what one kind of call did over a run.
type Activity struct {
	Calls int
	// First and Last are when the first call began and the last ended.
	First, Last time.Duration
	// Idle is how long, between First and Last, no call of the kind was
	// in flight; LongestIdle the longest such spell.
	Idle, LongestIdle time.Duration
	// MaxInFlight is the most calls of the kind in flight at once.
	MaxInFlight int
	// Repeats counts calls answered 200 whose exact request (path and
	// query) had already been answered 200: pages read twice.
	Repeats int
}

// ActivityOf sums up the calls of one kind.
func ActivityOf(calls []Call, kind string) Activity {
	var a Activity
	type edge struct {
		at    time.Duration
		delta int
	}
	var edges []edge
	seen := map[string]bool{}
	for _, c := range calls {
		if c.Kind != kind {
			continue
		}
		if a.Calls == 0 || c.Start < a.First {
			a.First = c.Start
		}
		a.Last = max(a.Last, c.End)
		a.Calls++
		edges = append(edges, edge{c.Start, 1}, edge{c.End, -1})
		if c.Status == http.StatusOK {
			key := c.Path + "?" + c.Query
			if seen[key] {
				a.Repeats++
			}
			seen[key] = true
		}
	}
	slices.SortFunc(edges, func(x, y edge) int {
		if x.at != y.at {
			return int(x.at - y.at)
		}
		return y.delta - x.delta // a call starting as another ends: no idle spell
	})
	inFlight, idleSince := 0, time.Duration(-1) // -1: before the first call
	for _, e := range edges {
		if inFlight == 0 && e.delta > 0 && idleSince >= 0 && e.at > idleSince {
			a.Idle += e.at - idleSince
			a.LongestIdle = max(a.LongestIdle, e.at-idleSince)
		}
		inFlight += e.delta
		a.MaxInFlight = max(a.MaxInFlight, inFlight)
		if inFlight == 0 {
			idleSince = e.at
		}
	}
	return a
}

// MeanInFlight is how many calls of a kind were in flight on average over
// [from, to]: their summed durations over the span.
func MeanInFlight(calls []Call, kind string, from, to time.Duration) float64 {
	if to <= from {
		return 0
	}
	var sum time.Duration
	for _, c := range calls {
		if c.Kind == kind {
			sum += max(0, min(c.End, to)-max(c.Start, from))
		}
	}
	return float64(sum) / float64(to-from)
}
