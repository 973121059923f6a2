package budget

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBudget(t *testing.T) {
	t.Run("reads go on under the limit, pause at it, resume on release", func(t *testing.T) {
		b := New(10)
		var told []bool
		b.Paused = func(w bool) { told = append(told, w) }
		if err := b.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		b.Hold(10)
		resumed := make(chan error)
		go func() { resumed <- b.Wait(context.Background()) }()
		select {
		case err := <-resumed:
			t.Fatalf("a read went on with the budget full (%v)", err)
		case <-time.After(50 * time.Millisecond): // it waits; no timing is asserted beyond "not yet"
		}
		b.Release(3)
		if err := <-resumed; err != nil {
			t.Fatal(err)
		}
		if len(told) != 2 || !told[0] || told[1] {
			t.Errorf("Paused told %v, want [true false]", told)
		}
		if peak, waited := b.Stats(); peak != 10 || waited <= 0 {
			t.Errorf("stats: peak %d, waited %v", peak, waited)
		}
	})
	t.Run("a space bigger than the budget is still read when nothing is held", func(t *testing.T) {
		b := New(5)
		b.Hold(50)
		b.Release(50)
		if err := b.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a stopped run stops waiting, with the cause", func(t *testing.T) {
		b := New(1)
		b.Hold(1)
		ctx, cancel := context.WithCancelCause(context.Background())
		stop := errors.New("stopped by the test")
		cancel(stop)
		if err := b.Wait(ctx); !errors.Is(err, stop) {
			t.Errorf("Wait: %v, want the cause", err)
		}
	})
	t.Run("no budget: no bound", func(t *testing.T) {
		var b *Budget
		b.Hold(1 << 30)
		if err := b.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		b.Release(1 << 30)
	})
}

func TestDefaultLimit(t *testing.T) {
	for _, tt := range []struct {
		name  string
		limit int64
		want  int
	}{
		{"no GOMEMLIMIT", 1<<63 - 1, 250_000},
		{"512 MiB", 512 << 20, 512 << 20 / 4 / bytesPerMembership},
		{"tiny: a floor", 1 << 20, 10_000},
		{"huge: a ceiling", 1 << 40, 2_000_000},
	} {
		if got := DefaultLimit(tt.limit); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
