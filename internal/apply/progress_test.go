package apply

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
		p.add()
		p.add()
		time.Sleep(20 * time.Millisecond)
		p.add()
		p.Stop()
		out := term.String()
		last := out[strings.LastIndex(out, "\r"):]
		if !strings.Contains(out, "\rapplied 2/4 changes") || !strings.HasPrefix(last, "\rapplied 3/4 changes") || !strings.Contains(last, "ETA") || !strings.HasSuffix(last, "\n") {
			t.Errorf("terminal output %q", out)
		}
	})
	t.Run("log lines elsewhere", func(t *testing.T) {
		var logs bytes.Buffer
		p := &Progress{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Interval: time.Millisecond}
		p.Start(10)
		p.add()
		time.Sleep(20 * time.Millisecond)
		p.Stop()
		if !strings.Contains(logs.String(), "msg=\"apply progress\" done=1 total=10") {
			t.Errorf("logs %q", logs.String())
		}
	})
	t.Run("nil reports nothing", func(t *testing.T) {
		var p *Progress
		p.Start(3)
		p.add()
		p.Stop()
	})
}
