package chatapi

import (
	"fmt"
	"net/http"

	"github.com/syncer-dev/syncer/internal/fsutil"
)

// maxAnswerBytes bounds any answer's body (a variable for the tests).
var maxAnswerBytes int64 = maxPageBytes

// boundedBodies wraps a client's transport so that no answer's body is
// read past maxAnswerBytes: list pages are held to it by readPage, and this
// holds every other answer to it too (users.get, groups, members.get,
// spaces.get, writes, error bodies). A server that streams without end
// fails the call, as a fault on its side, instead of filling memory.
type boundedBodies struct{ base http.RoundTripper }

// bounded returns hc (a new client when nil) with boundedBodies in front
// of its transport.
func bounded(hc *http.Client) *http.Client {
	return wrapTransport(hc, func(base http.RoundTripper) http.RoundTripper { return boundedBodies{base: base} })
}

// wrapTransport returns a copy of hc (a new client when nil: every call's
// deadline is the throttle's) whose transport is wrap of hc's.
func wrapTransport(hc *http.Client, wrap func(http.RoundTripper) http.RoundTripper) *http.Client {
	if hc == nil {
		hc = &http.Client{}
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	out := *hc
	out.Transport = wrap(base)
	return &out
}

func (t boundedBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.base.RoundTrip(req)
	if err == nil && res.Body != nil {
		method := req.Method + " " + req.URL.Path
		b := &fsutil.Bounded{RC: res.Body, Left: maxAnswerBytes, Over: func() error {
			return &Error{Message: fmt.Sprintf("%s: the answer is over %d MiB, more than any answer of the fields asked", method, maxAnswerBytes>>20), kind: ErrPermanent}
		}}
		if res.StatusCode < 200 || res.StatusCode > 299 {
			// An error's body is cut, not refused: its status says
			// what the call's failure is (a 503 is retried).
			b.Left, b.Cut = maxErrorBytes, true
		}
		res.Body = b
	}
	return res, err
}

// maxErrorBytes bounds an error answer's body: Google's are JSON of a few
// hundred bytes (a few KB with details), a proxy's an HTML page. The
// generated clients hold the whole body in the error.
const maxErrorBytes = 64 << 10
