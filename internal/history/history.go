// Package history keeps serve's run history behind the state store, like
// every other state: an index document of the last runs (how each went,
// what it counted) and, in a ring of slot documents, each run's whole
// report, compressed. It is bounded in count (Keep runs) and in bytes (a
// cap per report and one for all of them), and every write names the
// version it read, so two writers never lose each other's update. It
// never decides what a run does: it only remembers.
package history

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/report"
	"github.com/syncer-dev/syncer/internal/state"
)

const (
	// Index is the history's index document.
	Index = "runs.json"
	// DefaultKeep is how many runs the history keeps unless told.
	DefaultKeep = 50
	// MaxKeep bounds Keep, and so the index (a few hundred bytes a run)
	// and the number of slot documents.
	MaxKeep = 1000
	// MaxReportBytes bounds one run's report as kept (compressed): a run
	// of 60,000 synthetic changes takes 0.4 MB. A larger one is listed
	// without it.
	MaxReportBytes = 16 << 20
	// MaxTotalBytes bounds every kept report together: past it, the
	// oldest runs' reports are dropped first (the runs stay listed).
	MaxTotalBytes = 64 << 20
	// maxReportJSON bounds a kept report once decompressed.
	maxReportJSON = 512 << 20
	indexFormat   = "syncer-runs/1"
	reportFormat  = "syncer-run/1"
	// attempts bounds the tries of a write whose index moved meanwhile.
	attempts = 3
)

// ErrNotKept means the run is not in the history, or its report is not
// kept (too large, past the byte cap, or overwritten since).
var ErrNotKept = errors.New("that run's report is not kept")

// Entry is one run in the index.
type Entry struct {
	report.RunLine
	// Slot is the slot document holding the run's report; -1 for none.
	Slot int `json:"slot"`
	// Bytes is the kept report's size, compressed.
	Bytes int `json:"bytes,omitempty"`
}

type index struct {
	Format string  `json:"format"`
	Runs   []Entry `json:"runs"` // newest first
}

// kept is one run's report as a slot document holds it.
type kept struct {
	Format string     `json:"format"`
	Run    report.Run `json:"run"`
	Plan   diff.Plan  `json:"plan"`
}

// History is the run history in a store.
type History struct {
	Store state.Store
	// Keep is how many runs are kept (1 to MaxKeep); 0 means DefaultKeep.
	Keep int
	// MaxReport and MaxTotal override MaxReportBytes and MaxTotalBytes
	// (tests); 0 means those.
	MaxReport, MaxTotal int
}

func (h *History) keep() int {
	if h.Keep <= 0 {
		return DefaultKeep
	}
	return min(h.Keep, MaxKeep)
}

func (h *History) caps() (perReport, total int) {
	perReport, total = MaxReportBytes, MaxTotalBytes
	if h.MaxReport > 0 {
		perReport = h.MaxReport
	}
	if h.MaxTotal > 0 {
		total = h.MaxTotal
	}
	return perReport, total
}

// SlotName is the document a slot's report is kept in.
func SlotName(slot int) string { return fmt.Sprintf("run-%04d.json.gz", slot) }

// Runs returns the kept runs, newest first.
func (h *History) Runs(ctx context.Context) ([]Entry, error) {
	idx, _, err := h.read(ctx)
	return idx.Runs, err
}

func (h *History) read(ctx context.Context) (index, string, error) {
	data, version, err := h.Store.Read(ctx, Index)
	switch {
	case errors.Is(err, state.ErrNotExist):
		return index{Format: indexFormat}, "", nil
	case err != nil:
		return index{}, "", fmt.Errorf("run history %s/%s: %w", h.Store.Where(), Index, err)
	}
	var idx index
	if err := json.Unmarshal(data, &idx); err != nil {
		return index{}, "", fmt.Errorf("run history %s/%s is damaged (%v); nothing more is recorded until it is moved aside or deleted: the history starts again empty, and the runs themselves are not affected", h.Store.Where(), Index, err)
	}
	if idx.Format != indexFormat {
		return index{}, "", fmt.Errorf("run history %s/%s has format %q; this syncer reads %q", h.Store.Where(), Index, idx.Format, indexFormat)
	}
	return idx, version, nil
}

// Record adds a run (and its report, when it made a plan) as the newest,
// dropping the oldest past Keep and the oldest reports past the byte cap.
// The index is written first, naming the slot it claims, then the report:
// a writer stopped between the two leaves a run listed without its report,
// never a report that belongs to no run.
func (h *History) Record(ctx context.Context, run report.Run, plan *diff.Plan) (Entry, error) {
	perReport, total := h.caps()
	entry := Entry{RunLine: report.LineOf(run, plan), Slot: -1}
	var body []byte
	var tooLarge error
	if plan != nil {
		var err error
		if body, err = encode(run, *plan); err != nil {
			return entry, err
		}
		if len(body) > perReport {
			tooLarge = fmt.Errorf("run %s: its report is %d bytes compressed, more than the %d the history keeps of one run; it is listed without it", run.ID, len(body), perReport)
			body = nil
		}
	}
	for attempt := 1; ; attempt++ {
		idx, version, err := h.read(ctx)
		if err != nil {
			return entry, err
		}
		next, freed := h.add(idx, entry, len(body), total)
		data, err := json.Marshal(next)
		if err != nil {
			return entry, err
		}
		if _, err := h.Store.Write(ctx, Index, data, version); err != nil {
			if errors.Is(err, state.ErrConflict) && attempt < attempts {
				continue // another writer moved it: add to theirs
			}
			return entry, fmt.Errorf("run history %s/%s: %w", h.Store.Where(), Index, err)
		}
		entry = next.Runs[0]
		var errs []error
		if body != nil {
			if err := h.writeSlot(ctx, entry.Slot, body); err != nil {
				errs = append(errs, fmt.Errorf("run %s: its report was not kept: %w", run.ID, err))
			}
		}
		// Reports dropped by the bounds give their bytes back.
		for _, slot := range freed {
			if err := h.writeSlot(ctx, slot, nil); err != nil {
				errs = append(errs, fmt.Errorf("run history: %s not emptied: %w", SlotName(slot), err))
			}
		}
		return entry, errors.Join(append([]error{tooLarge}, errs...)...)
	}
}

// add puts entry first in idx, with a free slot when it has a report of n
// bytes, and drops what the bounds don't allow: runs past Keep, reports
// past the byte cap (oldest first). It returns the slots freed and not
// reused, which must be emptied.
func (h *History) add(idx index, entry Entry, n, total int) (index, []int) {
	keep := h.keep()
	runs := append([]Entry{entry}, idx.Runs...)
	var freed []int
	if len(runs) > keep {
		for _, e := range runs[keep:] {
			if e.Slot >= 0 {
				freed = append(freed, e.Slot)
			}
		}
		runs = runs[:keep]
	}
	if n > 0 {
		used := map[int]bool{}
		for _, e := range runs[1:] {
			if e.Slot >= 0 {
				used[e.Slot] = true
			}
		}
		// A slot freed just now is reused first: its write replaces the
		// old report, with no emptying.
		slot := -1
		for _, s := range freed {
			if s < keep && !used[s] {
				slot = s
				break
			}
		}
		for s := 0; slot < 0 && s < keep; s++ {
			if !used[s] {
				slot = s
			}
		}
		runs[0].Slot, runs[0].Bytes = slot, n
		freed = slices.DeleteFunc(freed, func(s int) bool { return s == slot })
	}
	sum := 0
	for i := range runs {
		if runs[i].Slot < 0 {
			continue
		}
		if sum+runs[i].Bytes > total && i > 0 {
			freed = append(freed, runs[i].Slot)
			runs[i].Slot, runs[i].Bytes = -1, 0
			continue
		}
		sum += runs[i].Bytes
	}
	return index{Format: indexFormat, Runs: runs}, freed
}

// writeSlot replaces a slot's document at the version it is read at
// (nil data: empties it).
func (h *History) writeSlot(ctx context.Context, slot int, data []byte) error {
	name := SlotName(slot)
	current, version, err := h.Store.Read(ctx, name)
	switch {
	case errors.Is(err, state.ErrNotExist):
		if data == nil {
			return nil
		}
		version = ""
	case err != nil:
		return err
	case data == nil && len(current) == 0:
		return nil // empty already
	}
	if data == nil {
		data = []byte{}
	}
	_, err = h.Store.Write(ctx, name, data, version)
	return err
}

// Report returns a kept run's report: the run and its plan.
func (h *History) Report(ctx context.Context, id string) (report.Run, diff.Plan, error) {
	idx, _, err := h.read(ctx)
	if err != nil {
		return report.Run{}, diff.Plan{}, err
	}
	i := slices.IndexFunc(idx.Runs, func(e Entry) bool { return e.Run.ID == id })
	if i < 0 || idx.Runs[i].Slot < 0 {
		return report.Run{}, diff.Plan{}, ErrNotKept
	}
	data, _, err := h.Store.Read(ctx, SlotName(idx.Runs[i].Slot))
	switch {
	case errors.Is(err, state.ErrNotExist):
		return report.Run{}, diff.Plan{}, ErrNotKept
	case err != nil:
		return report.Run{}, diff.Plan{}, err
	}
	k, err := decode(data)
	if err != nil {
		return report.Run{}, diff.Plan{}, fmt.Errorf("%s/%s: %w", h.Store.Where(), SlotName(idx.Runs[i].Slot), err)
	}
	if k.Run.ID != id {
		return report.Run{}, diff.Plan{}, ErrNotKept // written over since, or never written
	}
	return k.Run, k.Plan, nil
}

func encode(run report.Run, plan diff.Plan) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(kept{Format: reportFormat, Run: run, Plan: plan}); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decode(data []byte) (kept, error) {
	var k kept
	if len(data) == 0 {
		return k, ErrNotKept // emptied
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return k, fmt.Errorf("not a kept report: %v", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, maxReportJSON+1))
	if err != nil {
		return k, fmt.Errorf("not a kept report: %v", err)
	}
	if len(raw) > maxReportJSON {
		return k, fmt.Errorf("more than %d bytes once decompressed", maxReportJSON)
	}
	if err := json.Unmarshal(raw, &k); err != nil {
		return k, fmt.Errorf("not a kept report: %v", err)
	}
	if k.Format != reportFormat {
		return k, fmt.Errorf("format %q; this syncer reads %q", k.Format, reportFormat)
	}
	return k, nil
}
