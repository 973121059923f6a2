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
