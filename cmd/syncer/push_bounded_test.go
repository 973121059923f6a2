package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/metrics"
)

// A Pushgateway (or a proxy in front of it) refusing the push with an
// endless body: the push fails within its deadline, without reading that
// body into memory, and its error quotes only the start of it.
func TestPushRefusedWithEndlessBodyIsNotReadToTheEnd(t *testing.T) {
	const total = 64 << 20
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		chunk := []byte(strings.Repeat("x", 64<<10))
		for n := 0; n < total; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return // the client hung up
			}
			sent.Add(int64(len(chunk)))
		}
	}))
	defer srv.Close()
	start := time.Now()
	err := pushMetrics(srv.URL, metrics.New(), true)
	if err == nil {
		t.Fatal("a push answered 500 succeeded")
	}
	if took := time.Since(start); took > pushTimeout {
		t.Errorf("the push took %v, past its %v", took, pushTimeout)
	}
	if n := sent.Load(); n >= 16<<20 {
		t.Errorf("the push read %d MiB of the answer's body", n>>20)
	}
	if len(err.Error()) > 8<<10 {
		t.Errorf("the push's error is %d KiB long", len(err.Error())>>10)
	}
}
