package chatapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
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

// No answer is read past maxAnswerBytes (64 MiB; 2 MiB here), not only
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
