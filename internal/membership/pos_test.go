package membership

import (
	"fmt"
	"math"
	"sync"
	"testing"
)

func TestPosKeepsTheLocation(t *testing.T) {
	for _, l := range []Location{
		{},
		{Line: 7},
		{File: "hr.csv", Line: 2, Column: 12},
		{File: "eng.yaml", Line: 5},
		{File: "eng.yaml", Line: 5, Via: "group_members eng@example.com"},
		{Via: "org_unit /Sales"},
		{File: "big.csv", Line: math.MaxUint32, Column: 1},
	} {
		if got := At(l).Location(); got != l {
			t.Errorf("At(%+v).Location() = %+v", l, got)
		}
		if got, want := At(l).String(), l.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
	if got := At(Location{File: "x.csv", Line: -3}).Location(); got != (Location{File: "x.csv"}) {
		t.Errorf("a negative line is kept as %+v, want none", got)
	}
	if p := At(Location{File: "a.yaml", Via: "group g@example.com"}); p.Via() != "group g@example.com" || p.Location().File != "a.yaml" {
		t.Errorf("Via %q, File %q", p.Via(), p.Location().File)
	}
}

// Sources load side by side: places are interned from many goroutines.
func TestPosInternsFromManyGoroutines(t *testing.T) {
	var wg sync.WaitGroup
	got := make([][]Pos, 8)
	for g := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				got[g] = append(got[g], At(Location{File: fmt.Sprintf("f%d.csv", i%20), Line: i, Via: fmt.Sprintf("rule %d", i%7)}))
			}
		}()
	}
	wg.Wait()
	for g := range got {
		for i, p := range got[g] {
			want := Location{File: fmt.Sprintf("f%d.csv", i%20), Line: i, Via: fmt.Sprintf("rule %d", i%7)}
			if p.Location() != want || p != got[0][i] {
				t.Fatalf("goroutine %d, entry %d: %+v, want %+v (and the same Pos everywhere)", g, i, p.Location(), want)
			}
		}
	}
}
