package apply

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Progress reports how far an apply has got: a live line on a terminal, a
// log line every Interval otherwise. A nil *Progress reports nothing.
type Progress struct {
	Terminal io.Writer    // when set, a live line is drawn here
	Logger   *slog.Logger // otherwise, log lines go here
	Interval time.Duration

	total int
	done  atomic.Int64
	start time.Time
	stop  chan struct{}
	wg    sync.WaitGroup
}

// Start begins reporting on total changes.
func (p *Progress) Start(total int) {
	if p == nil || total == 0 {
		return
	}
	p.total, p.start, p.stop = total, time.Now(), make(chan struct{})
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
					fmt.Fprintf(p.Terminal, "\r%s\n", p.line())
				}
				return
			case <-tick.C:
				p.report()
			}
		}
	}()
}

func (p *Progress) add() {
	if p != nil {
		p.done.Add(1)
	}
}

// Stop ends reporting.
func (p *Progress) Stop() {
	if p == nil || p.stop == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	p.stop = nil
}

func (p *Progress) rate() (done int64, perSecond float64, eta time.Duration) {
	done = p.done.Load()
	elapsed := time.Since(p.start).Seconds()
	if elapsed > 0 {
		perSecond = float64(done) / elapsed
	}
	if perSecond > 0 {
		eta = time.Duration(float64(int64(p.total)-done) / perSecond * float64(time.Second)).Round(time.Second)
	}
	return done, perSecond, eta
}

func (p *Progress) line() string {
	done, rate, eta := p.rate()
	return fmt.Sprintf("applied %d/%d changes, %.1f/s, ETA %s ", done, p.total, rate, eta)
}

func (p *Progress) report() {
	if p.Terminal != nil {
		fmt.Fprintf(p.Terminal, "\r%s", p.line())
		return
	}
	if p.Logger != nil {
		done, rate, eta := p.rate()
		p.Logger.Info("apply progress", "done", done, "total", p.total, "per_second", fmt.Sprintf("%.1f", rate), "eta", eta.String())
	}
}
