package chatapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// endless answers with a field no client reads that goes on past
// maxPageBytes, or ends just under it when short; then a user, or a
// membership.
func endless(short bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		chunk := strings.Repeat("a", 1<<20)
		w.Write([]byte(`{"padding":"`))
		n := maxAnswerBytes>>20 + 2
		if short {
			n = maxAnswerBytes>>20 - 1
		}
		for i := int64(0); i < n; i++ {
			if _, err := w.Write([]byte(chunk)); err != nil {
				return
			}
		}
		if strings.Contains(r.URL.Path, "directory") {
			w.Write([]byte(`","id":"1","primaryEmail":"a@corp.test"}`))
			return
		}
		w.Write([]byte(`","name":"spaces/S/members/1","member":{"name":"users/1","type":"HUMAN"},"role":"ROLE_MEMBER","state":"JOINED"}`))
	}
}

// No answer is read past maxAnswerBytes (8 MiB; 2 MiB here), not only
// list pages: a users.get or a members.get that streams on fails,
// permanently; one just under the bound is read.
func TestAnswersAreBounded(t *testing.T) {
	defer func(was int64) { maxAnswerBytes = was }(maxAnswerBytes)
	maxAnswerBytes = 2 << 20
	for _, short := range []bool{false, true} {
		srv := httptest.NewServer(endless(short))
		d, err := NewDirectory(context.Background(), srv.URL+"/", Options{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := New(context.Background(), Options{Endpoint: srv.URL + "/"})
		if err != nil {
			t.Fatal(err)
		}
		_, uerr := d.User(context.Background(), "a@corp.test")
		_, merr := c.Get(context.Background(), "spaces/S", "1")
		srv.Close()
		for what, err := range map[string]error{"users.get": uerr, "members.get": merr} {
			switch {
			case short && err != nil:
				t.Errorf("%s of an answer under %d MiB: %v", what, maxAnswerBytes>>20, err)
			case !short && (err == nil || !errors.Is(err, ErrPermanent)):
				t.Errorf("%s of an answer over %d MiB: %v; want a permanent error", what, maxAnswerBytes>>20, err)
			}
		}
	}
}

// countingTransport counts the bytes read of its answers' bodies.
type countingTransport struct{ read atomic.Int64 }

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		res.Body = &countingBody{ReadCloser: res.Body, n: &c.read}
	}
	return res, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// An error answer is a few hundred bytes of JSON, or an HTML page: one
// that streams on (a broken proxy, a hostile server) is read no further
// than maxErrorBytes, not to the 8 MiB a page may take: the generated
// clients hold an error's whole body (in the error, kept for the report
// until the run ends), and a dozen calls in flight answered so held
// 1.7 GB. The call fails as its status says (a 503 is retried).
func TestErrorAnswersAreReadNoFurtherThanAnErrorNeeds(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":{"code":503,"message":"`))
		chunk := strings.Repeat("x", 1<<20)
		for range 16 {
			if _, err := w.Write([]byte(chunk)); err != nil {
				return
			}
		}
		w.Write([]byte(`"}}`))
	}))
	defer srv.Close()
	ct := &countingTransport{}
	hc := &http.Client{Transport: ct}
	c, err := New(context.Background(), Options{Endpoint: srv.URL + "/", HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDirectory(context.Background(), srv.URL+"/", Options{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	for what, call := range map[string]func() error{
		"members.list": func() error { _, _, err := c.ListPage(context.Background(), "spaces/S", ""); return err },
		"members.get":  func() error { _, err := c.Get(context.Background(), "spaces/S", "1"); return err },
		"users.list":   func() error { _, _, err := d.UsersPage(context.Background(), "", ""); return err },
		"users.get":    func() error { _, err := d.User(context.Background(), "a@corp.test"); return err },
	} {
		ct.read.Store(0)
		err := call()
		var e *Error
		if !errors.As(err, &e) || e.Code != http.StatusServiceUnavailable || !Retryable(err) {
			t.Errorf("%s answered 503 with 16 MiB: %v; want a 503, retried", what, err)
		}
		if n := ct.read.Load(); n > maxErrorBytes {
			t.Errorf("%s: %d bytes of the error answer read, want at most %d", what, n, maxErrorBytes)
		}
	}
}
