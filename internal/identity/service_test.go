package identity

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPrefixes(t *testing.T) {
	many := func(prefix string, n int) []string {
		var out []string
		for i := 0; i < n; i++ {
			out = append(out, fmt.Sprintf("%s%04d@example.com", prefix, i))
		}
		return out
	}
	tests := []struct {
		name   string
		emails []string
		limit  int
		max    int
		want   []string
	}{
		{"few: one query for everyone", many("a", 5), 10, 64, []string{""}},
		{"by first letter", append(many("a", 8), many("b", 8)...), 10, 64, []string{"a", "b"}},
		{"a big letter splits further", append(many("a", 30), many("b", 5)...), 10, 64, []string{"a000", "a001", "a002", "b"}},
		{"never past max", append(many("a", 30), many("b", 5)...), 10, 3, []string{"a00", "b"}},
		{"only letters and digits extend a prefix", []string{"a.b@x.com", "a.c@x.com", "a.d@x.com"}, 1, 64, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Prefixes(tt.emails, tt.limit, tt.max)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			// Every address is covered by a prefix.
			for _, e := range tt.emails {
				covered := false
				for _, p := range got {
					covered = covered || strings.HasPrefix(e, p)
				}
				if !covered {
					t.Errorf("%s is under no prefix", e)
				}
			}
		})
	}
}

func TestPreferPass(t *testing.T) {
	tests := []struct {
		name     string
		n, size  int
		latency  time.Duration
		rate     float64
		want     bool
		inFlight int
	}{
		{"a few lookups never page the Directory", 3, 1000, time.Millisecond, 40, false, 13},
		{"10,000 unknown in a 15,000-user Directory at Google's pace", 10000, 15000, 300 * time.Millisecond, 40, true, 13},
		{"90 unknown among 2,000 at ×10 pace and 100 ms", 90, 3000, 100 * time.Millisecond, 400, false, 125},
		{"90 unknown among 50,000 at Google's pace", 90, 50000, 300 * time.Millisecond, 40, false, 13},
		{"90 unknown among 2,000 at Google's pace", 90, 3000, 300 * time.Millisecond, 40, true, 13},
		{"fewer lookups than pages", 50, 100000, 10 * time.Millisecond, 40, false, 13},
	}
	for _, tt := range tests {
		if got := PreferPass(tt.n, tt.size, tt.latency, tt.rate, tt.inFlight); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
