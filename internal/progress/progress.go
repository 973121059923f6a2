// Package progress reports how far a run has got, in every phase: spaces
// read, changes planned, changes applied. On a terminal it draws a live
// line; elsewhere it logs a line every Interval. A nil *Progress reports
// nothing, so callers never check.
package progress

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Progress is safe for concurrent use.
type Progress struct {
	Terminal io.Writer    // when set, a live line is drawn here
	Logger   *slog.Logger // otherwise, log lines go here
	Interval time.Duration

	spaces, read, planned atomic.Int64 // spaces: to read, read, planned
	changes, done         atomic.Int64 // changes: planned, with an outcome
	paused                atomic.Bool  // reads wait: the spaces held wait for the Directory
	start                 time.Time
	stop                  chan struct{}
	wg                    sync.WaitGroup
}

// Start begins reporting on a run over spaces.
func (p *Progress) Start(spaces int) {
	if p == nil || p.stop != nil {
		return
	}
	p.spaces.Store(int64(spaces))
	p.start, p.stop = time.Now(), make(chan struct{})
	every := p.Interval
	if every == 0 {
		every = 10 * time.Second
		if p.Terminal != nil {
			every = 250 * time.Millisecond
		}
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				if p.Terminal != nil {
					fmt.Fprintf(p.Terminal, "\r%s\n", p.Line())
				}
				return
			case <-tick.C:
				p.report()
			}
		}
	}()
}

// Stop ends reporting (a final line on a terminal).
func (p *Progress) Stop() {
	if p == nil || p.stop == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	p.stop = nil
}

// SpaceRead counts a space whose memberships have been read (or not: a
// space that failed counts too; it is done with).
func (p *Progress) SpaceRead() {
	if p != nil {
		p.read.Add(1)
	}
}

// SpacePlanned counts a planned space and its changes.
func (p *Progress) SpacePlanned(changes int) {
	if p != nil {
		p.planned.Add(1)
		p.changes.Add(int64(changes))
	}
}

// Planned adds changes planned outside a space's own planning.
func (p *Progress) Planned(changes int) {
	if p != nil {
		p.changes.Add(int64(changes))
	}
}

// ReadsPaused says reads are paused (true) or going again (false): the
// spaces read and held in memory wait for the Directory (its pass, or the
// rules) to settle who their people are.
func (p *Progress) ReadsPaused(paused bool) {
	if p != nil {
		p.paused.Store(paused)
	}
}

// ChangeDone counts a change with an outcome.
func (p *Progress) ChangeDone() {
	if p != nil {
		p.done.Add(1)
	}
}

// Line is the progress as one line: what is done, the rates, and an
// estimate of what is left.
func (p *Progress) Line() string {
	elapsed := time.Since(p.start).Seconds()
	spaces, read, planned := p.spaces.Load(), p.read.Load(), p.planned.Load()
	changes, done := p.changes.Load(), p.done.Load()
	parts := []string{fmt.Sprintf("read %d/%d spaces", read, spaces)}
	if planned > 0 || changes > 0 {
		parts = append(parts, fmt.Sprintf("%d changes planned", changes))
	}
	if done > 0 || changes > 0 {
		parts = append(parts, fmt.Sprintf("%d done", done))
	}
	eta := time.Duration(0)
	if elapsed > 0 {
		if read > 0 && read < spaces {
			eta = max(eta, time.Duration(float64(spaces-read)/(float64(read)/elapsed)*float64(time.Second)))
		}
		if done > 0 && done < changes {
			eta = max(eta, time.Duration(float64(changes-done)/(float64(done)/elapsed)*float64(time.Second)))
		}
	}
	if p.paused.Load() {
		parts = append(parts, "reads paused: the spaces held wait for the Directory")
	}
	line := strings.Join(parts, ", ")
	if elapsed > 0 && done > 0 {
		line += fmt.Sprintf(", %.1f changes/s", float64(done)/elapsed)
	}
	if eta > 0 {
		line += ", ETA " + eta.Round(time.Second).String()
	}
	return line + " "
}

func (p *Progress) report() {
	if p.Terminal != nil {
		fmt.Fprintf(p.Terminal, "\r%s", p.Line())
		return
	}
	if p.Logger != nil {
		attrs := []any{"spaces", p.spaces.Load(), "read", p.read.Load(), "planned", p.planned.Load(),
			"changes", p.changes.Load(), "done", p.done.Load(), "elapsed", time.Since(p.start).Round(time.Second).String()}
		if p.paused.Load() {
			attrs = append(attrs, "waiting", "reads paused: the spaces held wait for the Directory")
		}
		p.Logger.Info("progress", attrs...)
	}
}
