package fsutil

import "io"

// Bounded reads at most Left bytes of RC, an answer's body: a body that
// goes on past them is cut there when Cut (an error's answer, whose status
// says enough), else the read fails with Over's error (an answer no
// server of ours writes so long: one without end would fill memory until
// the call's deadline).
type Bounded struct {
	RC   io.ReadCloser
	Left int64
	Cut  bool
	Over func() error
}

func (b *Bounded) Read(p []byte) (int, error) {
	if b.Left <= 0 {
		if b.Cut {
			return 0, io.EOF
		}
		var one [1]byte
		if n, err := b.RC.Read(one[:]); n == 0 {
			return 0, err // the body ended at the bound, or failed
		}
		return 0, b.Over()
	}
	if int64(len(p)) > b.Left {
		p = p[:b.Left]
	}
	n, err := b.RC.Read(p)
	b.Left -= int64(n)
	return n, err
}

func (b *Bounded) Close() error { return b.RC.Close() }
