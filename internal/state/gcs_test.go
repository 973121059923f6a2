package state_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/state"
	"github.com/syncer-dev/syncer/internal/state/gcstest"
)

func openGCS(t *testing.T, fake *gcstest.Server, loc string) *state.GCS {
	t.Helper()
	t.Setenv("STORAGE_EMULATOR_HOST", fake.Host)
	g, err := state.NewGCS(context.Background(), loc, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	g.Attempts = 2
	return g
}

func TestGCSDocuments(t *testing.T) {
	fake := gcstest.Start(t, "syncer-test")
	g := openGCS(t, fake, "gs://syncer-test/prod/chat")
	ctx := context.Background()
	if g.Where() != "gs://syncer-test/prod/chat" {
		t.Errorf("where %q", g.Where())
	}
	if _, _, err := g.Read(ctx, "removals.json"); !errors.Is(err, state.ErrNotExist) {
		t.Fatalf("absent: %v", err)
	}
	v1, err := g.Write(ctx, "removals.json", []byte(`{"a":1}`), "")
	if err != nil {
		t.Fatal(err)
	}
	data, v, err := g.Read(ctx, "removals.json")
	if err != nil || string(data) != `{"a":1}` || v != v1 {
		t.Fatalf("read back %q %q %v (wrote %q)", data, v, err, v1)
	}
	if obj, err := fake.GetObject("syncer-test", "prod/chat/removals.json"); err != nil || string(obj.Content) != `{"a":1}` {
		t.Errorf("object in the bucket: %v %q", err, obj.Content)
	}
	// Another run wrote in between: no lost update.
	v2, err := g.Write(ctx, "removals.json", []byte(`{"a":2}`), v1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Write(ctx, "removals.json", []byte(`{"a":3}`), v1); !errors.Is(err, state.ErrConflict) {
		t.Errorf("a write at a stale version: %v", err)
	}
	if _, err := g.Write(ctx, "removals.json", []byte(`{"a":3}`), ""); !errors.Is(err, state.ErrConflict) {
		t.Errorf("a create over an existing document: %v", err)
	}
	if data, v, _ := g.Read(ctx, "removals.json"); string(data) != `{"a":2}` || v != v2 {
		t.Errorf("after refused writes: %q %q", data, v)
	}
}

// What can't be read is an error naming the object, never "no state".
func TestGCSErrorsAreNotAbsence(t *testing.T) {
	fake := gcstest.Start(t, "syncer-test")
	g := openGCS(t, fake, "gs://syncer-test/p")
	ctx := context.Background()
	g.Write(ctx, "removals.json", []byte(`{}`), "")
	for _, status := range []int{403, 500, 503, 429} {
		fake.Fail(status, "removals.json")
		_, _, err := g.Read(ctx, "removals.json")
		if err == nil || errors.Is(err, state.ErrNotExist) || !strings.Contains(err.Error(), "gs://syncer-test/p/removals.json") {
			t.Errorf("%d: %v", status, err)
		}
	}
	fake.Fail(403, "removals.json")
	if _, _, err := g.Read(ctx, "removals.json"); !strings.Contains(err.Error(), "roles/storage.objectUser") {
		t.Errorf("403 doesn't say which role is missing: %v", err)
	}
	fake.Fail(0, "")
}

func TestParseLocation(t *testing.T) {
	for _, tt := range []struct{ loc, bucket, prefix, err string }{
		{"gs://b-1/x/y", "b-1", "x/y/", ""},
		{"gs://b-1", "b-1", "", ""},
		{"gs://b-1/", "b-1", "", ""},
		{"gs://B/x", "", "", "not a bucket name"},
		{"gs://ab", "", "", "not a bucket name"},
		{"gs://bucket/a/../b", "", "", "'..'"},
		{"gs://bucket/a//b", "", "", "empty"},
		{"gs://" + strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "/p", strings.Repeat("a", 60) + "." + strings.Repeat("b", 60), "p/", ""},
		{"gs://" + strings.Repeat("a", 64), "", "", "not a bucket name"},
		{"gs://a." + strings.Repeat("b", 64), "", "", "longer than 63"},
		{"gs://192.168.1.1/p", "", "", "IP address"},
		{"gs://goog-state/p", "", "", "goog"},
		{"gs://my-google-state/p", "", "", "google"},
		{"gs://bucket/" + strings.Repeat("x", 1000), "", "", "1,024"},
		// Look like URLs: never a local folder of that name.
		{"https://storage.googleapis.com/bucket/p", "", "", `"https" locations are not supported`},
		{"s3://bucket/p", "", "", `"s3" locations`},
		{"GS://bucket/p", "", "", "written gs://BUCKET/PREFIX"},
		{"gs:/bucket/p", "", "", "written gs://BUCKET/PREFIX"},
	} {
		b, p, ok, err := state.ParseLocation(tt.loc)
		if !ok || b != tt.bucket && tt.err == "" || p != tt.prefix && tt.err == "" || (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: %q %q %v %v", tt.loc, b, p, ok, err)
		}
	}
	for _, dir := range []string{"/var/lib/syncer", "syncer-state", "./gs", "C:/syncer"} {
		if _, _, ok, err := state.ParseLocation(dir); ok || err != nil {
			t.Errorf("%s: %v %v, want a local folder", dir, ok, err)
		}
	}
}

// Documents are read in two requests (metadata, then that generation's
// bytes); another run saving in between makes the second answer 404. That
// is a read to retry, never "no previous state".
func TestGCSReadAcrossASaveIsNotAbsence(t *testing.T) {
	fake := gcstest.Start(t, "syncer-test")
	g := openGCS(t, fake, "gs://syncer-test/p")
	ctx := context.Background()
	g.Write(ctx, "removals.json", []byte(`{"a":1}`), "")
	fake.Inject(gcstest.Fault{Status: 404, Match: "alt=media", Times: 1})
	if data, _, err := g.Read(ctx, "removals.json"); err != nil || string(data) != `{"a":1}` {
		t.Errorf("read: %q %v", data, err)
	}
	fake.Inject(gcstest.Fault{Status: 404, Match: "alt=media"})
	if _, _, err := g.Read(ctx, "removals.json"); err == nil || errors.Is(err, state.ErrNotExist) || !strings.Contains(err.Error(), "changed while it was read") {
		t.Errorf("a document that keeps changing: %v", err)
	}
}

// A bucket that doesn't exist is an error naming it, never a first run.
func TestGCSMissingBucket(t *testing.T) {
	fake := gcstest.Start(t, "syncer-test")
	g := openGCS(t, fake, "gs://no-such-bucket/p")
	ctx := context.Background()
	_, _, rerr := g.Read(ctx, "removals.json")
	_, werr := g.Write(ctx, "removals.json", []byte(`{}`), "")
	_, lerr := g.Lock(ctx, state.LockInfo{RunID: "a"}, time.Hour, nil)
	for what, err := range map[string]error{"read": rerr, "write": werr, "lock": lerr} {
		if err == nil || errors.Is(err, state.ErrNotExist) || !strings.Contains(err.Error(), "the bucket no-such-bucket does not exist") {
			t.Errorf("%s: %v", what, err)
		}
	}
	// Where the bucket exists, an absent document is a first run, and the
	// bucket is checked once.
	g = openGCS(t, fake, "gs://syncer-test")
	if g.Where() != "gs://syncer-test" {
		t.Errorf("where %q", g.Where())
	}
	for range 3 {
		if _, _, err := g.Read(ctx, "removals.json"); !errors.Is(err, state.ErrNotExist) {
			t.Errorf("absent: %v", err)
		}
	}
	if n := fake.Calls("GET"); n != 3+2+1 {
		// the bad bucket's read and its list; three reads and one list
		t.Errorf("%d GETs, want 6", n)
	}
}

// STORAGE_EMULATOR_HOST in its forms, the JSON API's path included.
func TestGCSEmulatorHostForms(t *testing.T) {
	fake := gcstest.Start(t, "syncer-test")
	ctx := context.Background()
	for _, host := range []string{fake.Host, "http://" + fake.Host, "http://" + fake.Host + "/", "http://" + fake.Host + "/storage/v1/", " http://" + fake.Host + "/storage/v1 "} {
		t.Setenv("STORAGE_EMULATOR_HOST", host)
		g, err := state.NewGCS(ctx, "gs://syncer-test/forms", nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		g.Attempts = 1
		data, v, err := g.Read(ctx, "doc.json")
		if errors.Is(err, state.ErrNotExist) {
			_, err = g.Write(ctx, "doc.json", []byte(`{}`), "")
		} else if err == nil {
			_, err = g.Write(ctx, "doc.json", data, v)
		}
		if err != nil {
			t.Errorf("STORAGE_EMULATOR_HOST=%q: %v", host, err)
		}
	}
	if obj, err := fake.GetObject("syncer-test", "forms/doc.json"); err != nil || obj.Generation == 0 {
		t.Errorf("object: %v", err)
	}
}

func TestGCSLock(t *testing.T) {
	fake := gcstest.Start(t, "syncer-test")
	g := openGCS(t, fake, "gs://syncer-test/p")
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	a, err := g.Lock(ctx, state.LockInfo{RunID: "a", Host: "h1"}, time.Hour, clock)
	if err != nil {
		t.Fatal(err)
	}
	// A second run finds it held, and is told by whom and until when.
	_, err = g.Lock(ctx, state.LockInfo{RunID: "b", Host: "h2"}, time.Hour, clock)
	if !errors.Is(err, state.ErrLocked) || !strings.Contains(err.Error(), "run a on h1") || !strings.Contains(err.Error(), "lease ends 2026-11-27T07:00:00Z") {
		t.Fatalf("second lock: %v", err)
	}
	if err := a.Check(ctx); err != nil {
		t.Errorf("check: %v", err)
	}
	// a crashes; its lease ends; two runs race for it: exactly one wins.
	now = now.Add(61 * time.Minute)
	var wg sync.WaitGroup
	wins, held := make(chan state.Lock, 8), make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := g.Lock(ctx, state.LockInfo{RunID: fmt.Sprint("r", i), Host: "h3"}, time.Hour, clock)
			if err != nil {
				held <- err
				return
			}
			wins <- l
		}()
	}
	wg.Wait()
	close(wins)
	close(held)
	var winners []state.Lock
	for l := range wins {
		winners = append(winners, l)
	}
	if len(winners) != 1 {
		t.Fatalf("%d runs took over the expired lock", len(winners))
	}
	for err := range held {
		if !errors.Is(err, state.ErrLocked) {
			t.Errorf("a loser: %v", err)
		}
	}
	if took := state.TookOver(winners[0]); took == nil || took.RunID != "a" {
		t.Errorf("took over %+v", took)
	}
	// The crashed run comes back: its lock is gone; it must not write, and
	// its release must not delete the winner's lock.
	if err := a.Check(ctx); !errors.Is(err, state.ErrLockLost) {
		t.Errorf("the old holder's check: %v", err)
	}
	if err := a.Release(ctx); !errors.Is(err, state.ErrLockLost) {
		t.Errorf("the old holder's release: %v", err)
	}
	if err := winners[0].Check(ctx); err != nil {
		t.Errorf("the winner lost its lock to a stale release: %v", err)
	}
	if err := winners[0].Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := fake.GetObject("syncer-test", "p/lock"); err == nil {
		t.Error("released lock still there")
	}
	// Deleted by hand: lost.
	c, err := g.Lock(ctx, state.LockInfo{RunID: "c"}, time.Hour, clock)
	if err != nil {
		t.Fatal(err)
	}
	fake.Delete(t, "syncer-test", "p/lock")
	if err := c.Check(ctx); !errors.Is(err, state.ErrLockLost) {
		t.Errorf("deleted lock: %v", err)
	}
	// Something that is not a lock of ours is never taken over.
	fake.Put("syncer-test", "p/lock", "not json")
	now = now.Add(1000 * time.Hour)
	if _, err := g.Lock(ctx, state.LockInfo{RunID: "d"}, time.Hour, clock); !errors.Is(err, state.ErrLocked) || !strings.Contains(err.Error(), "not a lock object this syncer wrote") {
		t.Errorf("foreign lock object: %v", err)
	}
}
