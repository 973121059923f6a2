// Package state keeps what a run carries to the next (the removals' totals
// and grace counters, the identity cache) as named documents with versions:
// a write succeeds only if the document is still at the version the run
// read, so two runs can never lose each other's update. The job asks for
// "the store" and never learns where it lives.
package state

import (
	"context"
	"errors"
	"io"
)

// ErrNotExist means the document has never been written: a first run.
var ErrNotExist = errors.New("no such state document")

// ErrConflict means the document changed since it was read: another run
// wrote it. The caller must not overwrite it.
var ErrConflict = errors.New("the state document changed since it was read")

// LazyWriter is a Store that can also write a document without making it
// durable at once (a cache): the local folder skips its fsyncs.
type LazyWriter interface {
	WriteLazy(ctx context.Context, name string, data []byte, ifVersion string) (string, error)
}

// StreamWriter is a Store that can write a document as encode produces
// it, so that a big one (a million addresses' identity cache, 72 MB) is
// never whole in memory. encode may be called more than once (a retry).
// lazy: a document whose loss costs little, as for LazyWriter.
type StreamWriter interface {
	WriteStream(ctx context.Context, name string, encode func(io.Writer) error, ifVersion string, lazy bool) (string, error)
}

// Store reads and writes state documents.
type Store interface {
	// Read returns a document and its version, or ErrNotExist.
	Read(ctx context.Context, name string) (data []byte, version string, err error)
	// Write replaces a document if it is still at version ifVersion ("":
	// it must not exist yet), returning the new version, or ErrConflict.
	Write(ctx context.Context, name string, data []byte, ifVersion string) (string, error)
	// Where says where the store is, for messages.
	Where() string
}
