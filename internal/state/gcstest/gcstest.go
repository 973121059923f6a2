// Package gcstest starts fake-gcs-server in process for tests, with the
// traps its README and issue 15 name avoided: its public host is the
// address the client calls (or the official clients' object reads answer
// 404, which would look like "no previous state"), and a Faults front lets
// a test make Cloud Storage answer 403 or 500, or a given object vanish.
package gcstest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// Server is a fake Cloud Storage with a bucket, behind a front that can
// inject failures.
type Server struct {
	*fakestorage.Server
	// Host is what STORAGE_EMULATOR_HOST should hold (the front's host:port).
	Host string

	mu    sync.Mutex
	fault Fault
	calls map[string]int
}

// Fault is what the front does to requests that match.
type Fault struct {
	Status int    // answer with this status
	Hang   bool   // or never answer (until the client gives up)
	Match  string // requests whose path and query contain this ("": all)
	Method string // and whose method is this ("": any)
	Times  int    // this many times, then pass (0: every time)
}

// Start runs a fake with the bucket and returns it; it stops with the test.
func Start(t testing.TB, bucket string) *Server {
	t.Helper()
	// The front is what clients call, so it is the fake's public host.
	frontL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme: "http", Host: "127.0.0.1", Port: uint16(port), PublicHost: frontL.Addr().String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Stop)
	fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	s := &Server{Server: fake, calls: map[string]int{}}
	target, _ := url.Parse(fake.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.calls[r.Method]++
		f := s.fault
		hit := (f.Status != 0 || f.Hang) && strings.Contains(r.URL.Path+"?"+r.URL.RawQuery, f.Match) && (f.Method == "" || f.Method == r.Method)
		if hit && f.Times > 0 {
			if s.fault.Times--; s.fault.Times == 0 {
				s.fault = Fault{}
			}
		}
		s.mu.Unlock()
		switch {
		case hit && f.Hang:
			<-r.Context().Done()
			return
		case hit:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.Status)
			w.Write([]byte(`{"error":{"code":` + strconv.Itoa(f.Status) + `,"message":"injected by the test"}}`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	front.Listener.Close()
	front.Listener = frontL
	front.Start()
	t.Cleanup(front.Close)
	s.Host = strings.TrimPrefix(front.URL, "http://")
	return s
}

// Fail makes every request whose path (and query) contains match answer
// status; Fail(0, "") passes everything again.
func (s *Server) Fail(status int, match string) { s.Inject(Fault{Status: status, Match: match}) }

// Inject sets the front's fault; Inject(Fault{}) passes everything again.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// Calls counts the requests the front saw, by method.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Delete removes an object, as someone with a console would.
func (s *Server) Delete(t testing.TB, bucket, object string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, s.URL()+"/storage/v1/b/"+bucket+"/o/"+url.PathEscape(object), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("delete %s: %s", object, resp.Status)
	}
}

// Put writes an object.
func (s *Server) Put(bucket, object, content string) {
	s.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: bucket, Name: object}, Content: []byte(content)})
}
