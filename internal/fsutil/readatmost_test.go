package fsutil

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// A reader is read up to its limit whatever its size claims (a Cloud
// Storage object's metadata, here): more than the limit is ErrTooLarge,
// and a claim past the limit makes no more room than the limit.
func TestReadAtMostTrustsNoClaimedSize(t *testing.T) {
	for _, tt := range []struct {
		name      string
		body      int
		claimed   int64
		wantBytes int
		wantErr   error
	}{
		{"as claimed", 100, 100, 100, nil},
		{"more than claimed, within the limit", 100, 10, 100, nil},
		{"more than claimed, past the limit", 1001, 10, 0, ErrTooLarge},
		{"a claim past the limit", 100, 1 << 40, 100, nil},
		{"a negative claim", 100, -1 << 20, 100, nil},
	} {
		got, err := ReadAtMost(strings.NewReader(strings.Repeat("x", tt.body)), tt.claimed, 1000)
		if !errors.Is(err, tt.wantErr) || (err == nil && len(got) != tt.wantBytes) {
			t.Errorf("%s: %d bytes, %v; want %d, %v", tt.name, len(got), err, tt.wantBytes, tt.wantErr)
		}
		if cap(got) > 2*(1000+bytes.MinRead) {
			t.Errorf("%s: room for %d bytes under a limit of 1000", tt.name, cap(got))
		}
	}
}
