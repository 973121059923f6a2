package chatapi

import (
	"fmt"
	"io"
	"net/http"
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
		b := &boundedBody{rc: res.Body, left: maxAnswerBytes, method: req.Method + " " + req.URL.Path}
		if res.StatusCode < 200 || res.StatusCode > 299 {
			// An error's body is cut, not refused: its status says
			// what the call's failure is (a 503 is retried).
			b.left, b.cut = maxErrorBytes, true
		}
		res.Body = b
	}
	return res, err
}

// boundedBody reads up to left bytes of rc; a byte more is an error, or
// the end of the body when cut.
type boundedBody struct {
	rc     io.ReadCloser
	left   int64
	cut    bool
	method string
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 && b.cut {
		return 0, io.EOF
	}
	if b.left <= 0 {
		var one [1]byte
		if n, err := b.rc.Read(one[:]); n == 0 {
			return 0, err // the body ended at the bound, or failed
		}
		return 0, &Error{Message: fmt.Sprintf("%s: the answer is over %d MiB, more than any answer of the fields asked", b.method, maxAnswerBytes>>20), kind: ErrPermanent}
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *boundedBody) Close() error { return b.rc.Close() }

// maxErrorBytes bounds an error answer's body: Google's are JSON of a few
// hundred bytes (a few KB with details), a proxy's an HTML page. The
// generated clients hold the whole body in the error.
const maxErrorBytes = 64 << 10
