package chatapi

import (
	"bytes"
	"runtime"
	"testing"
)

// Page buffers outlive collections (a sync.Pool's don't), and a buffer
// grown past what pages need is let go.
func TestPageBuffersAreKeptAcrossCollections(t *testing.T) {
	l := bufferList{free: make(chan *bytes.Buffer, 2)}
	page := l.get()
	page.Grow(100 << 10)
	l.put(page)
	huge := new(bytes.Buffer)
	huge.Grow(maxKeptBuffer + 1)
	l.put(huge)
	runtime.GC()
	runtime.GC() // a sync.Pool is empty after two
	if got := l.get(); got != page {
		t.Fatalf("the page's buffer was not kept")
	}
	if got := l.get(); got == huge || got.Cap() != 0 {
		t.Fatalf("a buffer over %d bytes was kept (cap %d)", maxKeptBuffer, got.Cap())
	}
	for i := 0; i < 3; i++ {
		l.put(new(bytes.Buffer)) // the third finds the list full and is dropped
	}
	if n := len(l.free); n != 2 {
		t.Fatalf("%d buffers kept, want the list's 2", n)
	}
}
