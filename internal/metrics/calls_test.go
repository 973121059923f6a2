package metrics

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Calls counts every request by method, retries and refused ones
// included, as the quotas count them.
func TestCalls(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("fail") != "" {
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	c := &Calls{}
	client := &http.Client{Transport: c.Transport(nil)}
	requests := []struct{ method, path string }{
		{"GET", "/v1/spaces/S/members"}, {"GET", "/v1/spaces/S/members?fail=1"}, {"POST", "/v1/spaces/S/members"},
		{"PATCH", "/v1/spaces/S/members/1"}, {"DELETE", "/v1/spaces/S/members/1"}, {"GET", "/v1/spaces/S"},
		{"GET", "/admin/directory/v1/users"}, {"GET", "/storage/v1/b/bucket/o/prefix%2Fruns.json"}, {"POST", "/upload/storage/v1/b/bucket/o"},
	}
	var wg sync.WaitGroup
	for _, r := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(r.method, srv.URL+r.path, nil)
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	want := map[string]int{"members.list": 2, "members.create": 1, "members.patch": 1, "members.delete": 1, "spaces.get": 1, "directory.users.list": 1, "storage": 2}
	got := c.Counts()
	if len(got) != len(want) {
		t.Errorf("counts %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d, want %d (all: %v)", k, got[k], n, got)
		}
	}
	var none *Calls
	if none.Transport(http.DefaultTransport) != http.DefaultTransport || none.Counts() != nil {
		t.Error("a nil Calls counts")
	}
}
