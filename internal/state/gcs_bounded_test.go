package state_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/state"
)

// A Cloud Storage answer that goes on and on (a proxy's, a server's fault)
// fails the call once it is past what any answer of metadata can be; it
// is not read into memory to the end, nor until the call's deadline.
func TestGCSEndlessAnswerIsNotReadToTheEnd(t *testing.T) {
	const total = 64 << 20
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"generation": "1", "size": "2", "metadata": {"x": "`))
		chunk := []byte(strings.Repeat("a", 64<<10))
		for n := 0; n < total; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return // the client hung up
			}
			sent.Add(int64(len(chunk)))
		}
		w.Write([]byte(`"}}`))
	}))
	defer srv.Close()
	t.Setenv("STORAGE_EMULATOR_HOST", srv.URL)
	g, err := state.NewGCS(context.Background(), "gs://syncer-test/p", nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	g.Attempts = 1
	_, _, err = g.Read(context.Background(), "removals.json")
	if err == nil {
		t.Errorf("an answer of %d MiB was read as metadata", total>>20)
	}
	// The server's writes outrun the client's reads by what the sockets
	// buffer (a few MiB at most).
	if n := sent.Load(); n >= 16<<20 {
		t.Errorf("the client read %d MiB of one answer before giving up: %v", n>>20, err)
	}
}
