package history

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/report"
	"github.com/syncer-dev/syncer/internal/state"
	"github.com/syncer-dev/syncer/internal/state/gcstest"
)

// stores are the two backends the history must work with.
func stores(t *testing.T) map[string]func(t *testing.T) state.Store {
	return map[string]func(t *testing.T) state.Store{
		"folder": func(t *testing.T) state.Store { return &state.Dir{Path: filepath.Join(t.TempDir(), "state")} },
		"gs": func(t *testing.T) state.Store {
			fake := gcstest.Start(t, "syncer-state")
			t.Setenv("STORAGE_EMULATOR_HOST", fake.Host)
			g, err := state.NewGCS(context.Background(), "gs://syncer-state/prod", nil, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			g.Attempts = 2
			return g
		},
	}
}

func planOf(n int, space string) diff.Plan {
	p := diff.Plan{Policy: diff.Upsert, Applied: true, Spaces: []diff.SpaceSummary{{Name: space, Label: "Eng", Listed: true}}}
	for i := 0; i < n; i++ {
		p.Changes = append(p.Changes, diff.Change{Space: space, Member: fmt.Sprintf("u%d@example.com", i), Principal: "users/1", Action: diff.Create,
			ToRole: "ROLE_MEMBER", Source: fmt.Sprintf("a.yaml:%d", i+2), Status: diff.Applied})
	}
	p.Recount()
	return p
}

func runOf(i int) report.Run {
	return report.Run{ID: fmt.Sprintf("run%02d", i), Command: "apply", Started: time.Date(2026, 1, 2, 3, i, 0, 0, time.UTC), Seconds: float64(i), Result: "success",
		Calls: []report.Calls{{Kind: "membership writes", N: i, PerMinute: 300}}}
}

// slotDocs lists the slot documents a store holds, with their sizes.
func slotDocs(t *testing.T, s state.Store, upTo int) map[string]int {
	docs := map[string]int{}
	for slot := 0; slot < upTo; slot++ {
		data, _, err := s.Read(context.Background(), SlotName(slot))
		switch {
		case errors.Is(err, state.ErrNotExist):
		case err != nil:
			t.Fatal(err)
		default:
			docs[SlotName(slot)] = len(data)
		}
	}
	return docs
}

func TestHistoryKeepsTheLastRuns(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store := open(t)
			h := &History{Store: store, Keep: 3}
			runs, err := h.Runs(ctx)
			if err != nil || len(runs) != 0 {
				t.Fatalf("a new history: %v %v", runs, err)
			}
			plans := map[string]diff.Plan{}
			for i := 1; i <= 5; i++ {
				p := planOf(i, fmt.Sprintf("spaces/S%d", i))
				plans[runOf(i).ID] = p
				if _, err := h.Record(ctx, runOf(i), &p); err != nil {
					t.Fatal(err)
				}
			}
			// A run that made no plan (invalid config) is listed too.
			if _, err := h.Record(ctx, report.Run{ID: "bad", Command: "apply", Result: "invalid", Exit: 3}, nil); err != nil {
				t.Fatal(err)
			}
			// A restart: another History over the same store.
			h = &History{Store: store, Keep: 3}
			runs, err = h.Runs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range runs {
				ids = append(ids, r.Run.ID)
			}
			if strings.Join(ids, " ") != "bad run05 run04" {
				t.Fatalf("kept %v, want the newest 3, newest first", ids)
			}
			if runs[0].Slot != -1 || runs[1].Summary.Create != 5 || runs[1].Run.Seconds != 5 || !runs[1].Applied {
				t.Errorf("entries: %+v", runs)
			}
			for _, id := range []string{"run05", "run04"} {
				run, plan, err := h.Report(ctx, id)
				if err != nil {
					t.Fatalf("%s: %v", id, err)
				}
				if want := plans[id]; run.ID != id || !reflect.DeepEqual(plan, want) {
					t.Errorf("%s read back as %+v\n%+v", id, run, plan)
				}
			}
			for _, id := range []string{"run03", "bad", "nope"} {
				if _, _, err := h.Report(ctx, id); !errors.Is(err, ErrNotKept) {
					t.Errorf("%s: %v, want ErrNotKept", id, err)
				}
			}
			// Bounded: no more slot documents than runs kept, and those of
			// dropped runs hold nothing.
			full := 0
			for name, size := range slotDocs(t, store, 10) {
				if size > 0 {
					full++
				} else if name == "" {
					t.Error("unnamed")
				}
			}
			if full != 2 {
				t.Errorf("%d slot documents hold a report, want 2: %v", full, slotDocs(t, store, 10))
			}
			if n := len(slotDocs(t, store, 10)); n > 3 {
				t.Errorf("%d slot documents for a history of 3", n)
			}
		})
	}
}

// Past the byte cap, the oldest reports go first; the runs stay listed.
func TestHistoryByteCap(t *testing.T) {
	ctx := context.Background()
	store := &state.Dir{Path: t.TempDir()}
	one := planOf(200, "spaces/S")
	size := len(mustEncode(t, runOf(1), one))
	h := &History{Store: store, Keep: 10, MaxTotal: size*3 + size/2, MaxReport: size * 2}
	for i := 1; i <= 6; i++ {
		p := planOf(200, "spaces/S")
		if _, err := h.Record(ctx, runOf(i), &p); err != nil {
			t.Fatal(err)
		}
	}
	runs, _ := h.Runs(ctx)
	var kept []string
	total := 0
	for _, r := range runs {
		if r.Slot >= 0 {
			kept = append(kept, r.Run.ID)
			total += r.Bytes
		}
	}
	if len(runs) != 6 || strings.Join(kept, " ") != "run06 run05 run04" {
		t.Errorf("%d runs listed, reports kept of %v; want 6, the newest 3", len(runs), kept)
	}
	stored := 0
	for _, n := range slotDocs(t, store, 10) {
		stored += n
	}
	if stored != total || stored > h.MaxTotal {
		t.Errorf("the slots hold %d bytes; the index counts %d; the cap is %d", stored, total, h.MaxTotal)
	}
	// One report over the per-report cap: listed, not kept, said so.
	big := planOf(2000, "spaces/BIG")
	e, err := h.Record(ctx, runOf(7), &big)
	if err == nil || !strings.Contains(err.Error(), "listed without it") || e.Slot != -1 {
		t.Errorf("an oversized report: %+v %v", e, err)
	}
	if runs, _ := h.Runs(ctx); runs[0].Run.ID != "run07" || runs[0].Summary.Create != 2000 {
		t.Errorf("the oversized run is not listed: %+v", runs[0])
	}
}

func mustEncode(t *testing.T, run report.Run, p diff.Plan) []byte {
	b, err := encode(run, p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// racingStore lets another writer write the index between a Record's read
// and its write.
type racingStore struct {
	state.Store
	once   sync.Once
	before func()
}

func (r *racingStore) Write(ctx context.Context, name string, data []byte, ifVersion string) (string, error) {
	if name == Index {
		r.once.Do(r.before)
	}
	return r.Store.Write(ctx, name, data, ifVersion)
}

// Two writers never lose each other's run: the index is written at the
// version it was read at, and a writer that finds it moved adds to the
// newer one.
func TestHistoryGenerationMatched(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store := open(t)
			other := &History{Store: store, Keep: 5}
			racing := &racingStore{Store: store, before: func() {
				p := planOf(1, "spaces/OTHER")
				if _, err := other.Record(ctx, runOf(2), &p); err != nil {
					t.Errorf("the other writer: %v", err)
				}
			}}
			h := &History{Store: racing, Keep: 5}
			p := planOf(3, "spaces/MINE")
			if _, err := h.Record(ctx, runOf(1), &p); err != nil {
				t.Fatal(err)
			}
			runs, _ := h.Runs(ctx)
			if len(runs) != 2 || runs[0].Run.ID != "run01" || runs[1].Run.ID != "run02" || runs[0].Slot == runs[1].Slot {
				t.Fatalf("after a race: %+v", runs)
			}
			for _, id := range []string{"run01", "run02"} {
				if _, _, err := h.Report(ctx, id); err != nil {
					t.Errorf("%s: %v", id, err)
				}
			}
		})
	}
}

// A history that can't be read is an error, never an empty history that
// a write would then replace.
func TestHistoryDamaged(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := &state.Dir{Path: dir}
	if err := os.WriteFile(filepath.Join(dir, Index), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := &History{Store: store}
	if _, err := h.Runs(ctx); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("a damaged index: %v", err)
	}
	p := planOf(1, "spaces/S")
	if _, err := h.Record(ctx, runOf(1), &p); err == nil {
		t.Error("a damaged index was written over")
	}
	if data, _ := os.ReadFile(filepath.Join(dir, Index)); string(data) != "{not json" {
		t.Errorf("the damaged index became %q", data)
	}
	// A slot whose report is not the run's (written over, damaged): not kept.
	os.WriteFile(filepath.Join(dir, Index), []byte(`{"format":"syncer-runs/1","runs":[{"run":{"id":"r1"},"slot":0}]}`), 0o600)
	os.WriteFile(filepath.Join(dir, SlotName(0)), mustEncode(t, runOf(9), p), 0o600)
	if _, _, err := h.Report(ctx, "r1"); !errors.Is(err, ErrNotKept) {
		t.Errorf("a slot holding another run's report: %v", err)
	}
	os.WriteFile(filepath.Join(dir, SlotName(0)), []byte("garbage"), 0o600)
	if _, _, err := h.Report(ctx, "r1"); err == nil || errors.Is(err, ErrNotKept) {
		t.Errorf("a damaged slot: %v", err)
	}
}

// Keep shrinking (a restart with a smaller --history) drops the oldest
// runs and empties their slots.
func TestHistoryKeepShrinks(t *testing.T) {
	ctx := context.Background()
	store := &state.Dir{Path: t.TempDir()}
	h := &History{Store: store, Keep: 6}
	for i := 1; i <= 6; i++ {
		p := planOf(2, "spaces/S")
		if _, err := h.Record(ctx, runOf(i), &p); err != nil {
			t.Fatal(err)
		}
	}
	h.Keep = 2
	p := planOf(2, "spaces/S")
	if _, err := h.Record(ctx, runOf(7), &p); err != nil {
		t.Fatal(err)
	}
	runs, _ := h.Runs(ctx)
	full := 0
	for _, n := range slotDocs(t, store, 10) {
		if n > 0 {
			full++
		}
	}
	if len(runs) != 2 || full != 2 || runs[0].Slot >= 2 {
		t.Errorf("%d runs, %d slots with a report, newest in slot %d; want 2, 2, one of the first two", len(runs), full, runs[0].Slot)
	}
}
