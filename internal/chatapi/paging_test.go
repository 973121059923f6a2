package chatapi

import (
	"errors"
	"fmt"
	"testing"
)

func TestPageGuard(t *testing.T) {
	tests := []struct {
		name    string
		pages   func(i int) (int, string) // items and next token of page i
		stopsAt int                       // 0: never stops (the list ends)
	}{
		{"a normal list ends", func(i int) (int, string) {
			if i == 9 {
				return 5, ""
			}
			return 1000, fmt.Sprint("t", i)
		}, 0},
		{"the same token forever", func(int) (int, string) { return 1000, "same" }, 2},
		{"a loop of two tokens", func(i int) (int, string) { return 10, fmt.Sprint("t", i%2) }, 3},
		{"new tokens forever", func(i int) (int, string) { return 1, fmt.Sprint("t", i) }, MaxPages},
		{"empty pages forever", func(i int) (int, string) { return 0, fmt.Sprint("t", i) }, maxEmptyPages},
		{"empty pages then items are fine", func(i int) (int, string) {
			if i == 150 {
				return 3, ""
			}
			if i%50 == 49 {
				return 3, fmt.Sprint("t", i)
			}
			return 0, fmt.Sprint("t", i)
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := PageGuard{What: "members of spaces/S"}
			for i := 0; i < 3*MaxPages; i++ {
				n, next := tt.pages(i)
				err := g.Next(n, next)
				if err != nil {
					if i+1 != tt.stopsAt || !errors.Is(err, ErrPagingLoop) || !errors.Is(err, ErrPermanent) {
						t.Errorf("stopped at page %d with %v; want page %d", i+1, err, tt.stopsAt)
					}
					return
				}
				if next == "" {
					if tt.stopsAt != 0 {
						t.Errorf("list ended at page %d; want a stop at %d", i+1, tt.stopsAt)
					}
					return
				}
			}
			t.Errorf("never stopped")
		})
	}
}

// MaxItems refuses a list once it shows more than that many items, on the
// page that passes it, even the last; at the bound exactly it ends.
func TestPageGuardMaxItems(t *testing.T) {
	g := PageGuard{What: "members of spaces/S", MaxItems: 2500}
	for i, page := range []struct {
		n    int
		next string
	}{{1000, "a"}, {1000, "b"}, {500, ""}} {
		if err := g.Next(page.n, page.next); err != nil {
			t.Fatalf("page %d of a list of exactly 2,500: %v", i+1, err)
		}
	}
	g = PageGuard{What: "members of spaces/S", MaxItems: 2500}
	g.Next(1000, "a")
	g.Next(1000, "b")
	if err := g.Next(501, ""); err == nil || !errors.Is(err, ErrPermanent) {
		t.Errorf("a list of 2,501 past a bound of 2,500: %v", err)
	}
}
