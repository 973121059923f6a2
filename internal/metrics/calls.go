package metrics

import (
	"maps"
	"net/http"
	"strings"
	"sync"
)

// Calls counts one run's requests by method (MethodName; "storage" for
// Cloud Storage), every attempt included, as the quotas count them: the
// run's report shows them against the quotas. Safe for concurrent use;
// the zero value is ready.
type Calls struct {
	mu       sync.Mutex
	byMethod map[string]int
}

// Transport counts the requests made through next (http.DefaultTransport
// when nil); a nil Calls counts nothing.
func (c *Calls) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	if c == nil {
		return next
	}
	return callCounter{next: next, calls: c}
}

// Counts returns the requests made so far, by method.
func (c *Calls) Counts() map[string]int {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.byMethod)
}

type callCounter struct {
	next  http.RoundTripper
	calls *Calls
}

func (rt callCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	method := MethodName(r.Method, r.URL.Path)
	if strings.HasPrefix(r.URL.Path, "/storage/") || strings.HasPrefix(r.URL.Path, "/upload/storage/") {
		method = "storage"
	}
	rt.calls.mu.Lock()
	if rt.calls.byMethod == nil {
		rt.calls.byMethod = map[string]int{}
	}
	rt.calls.byMethod[method]++
	rt.calls.mu.Unlock()
	return rt.next.RoundTrip(r)
}
