package progress

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestProgress(t *testing.T) {
	t.Run("live line on a terminal", func(t *testing.T) {
		var term bytes.Buffer
		p := &Progress{Terminal: &term, Interval: time.Millisecond}
		p.Start(4)
		p.SpaceRead()
		p.SpaceRead()
		p.SpacePlanned(3)
		p.ChangeDone()
		time.Sleep(20 * time.Millisecond)
		p.ChangeDone()
		p.Stop()
		out := term.String()
		last := out[strings.LastIndex(out, "\r"):]
		if !strings.Contains(out, "\rread 2/4 spaces, 3 changes planned, 1 done") || !strings.HasPrefix(last, "\rread 2/4 spaces, 3 changes planned, 2 done") ||
			!strings.Contains(last, "ETA") || !strings.HasSuffix(last, "\n") {
			t.Errorf("terminal output %q", out)
		}
	})
	t.Run("log lines elsewhere, reads included", func(t *testing.T) {
		var logs bytes.Buffer
		p := &Progress{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Interval: time.Millisecond}
		p.Start(10)
		p.SpaceRead()
		time.Sleep(20 * time.Millisecond)
		p.Stop()
		if !strings.Contains(logs.String(), "msg=progress spaces=10 read=1 planned=0 changes=0 done=0") {
			t.Errorf("logs %q", logs.String())
		}
	})
	t.Run("reads paused for the Directory, then going again", func(t *testing.T) {
		p := &Progress{}
		p.Start(10)
		defer p.Stop()
		p.ReadsPaused(true)
		if line := p.Line(); !strings.Contains(line, "reads paused: the spaces held wait for the Directory") {
			t.Errorf("paused: %q", line)
		}
		p.ReadsPaused(false)
		if line := p.Line(); strings.Contains(line, "paused") {
			t.Errorf("going again: %q", line)
		}
	})
	t.Run("nil reports nothing", func(t *testing.T) {
		var p *Progress
		p.Start(3)
		p.SpaceRead()
		p.SpacePlanned(1)
		p.ChangeDone()
		p.ReadsPaused(true)
		p.Stop()
	})
}
