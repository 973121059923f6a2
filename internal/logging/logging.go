// Package logging builds the syncer's slog logger: text on a terminal, JSON
// elsewhere, with the "severity" and "message" keys Cloud Logging reads.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/syncer-dev/syncer/internal/printable"
)

// New returns a logger writing to w. JSON is chosen when w is not a terminal.
func New(w io.Writer, level slog.Level) *slog.Logger {
	if IsTerminal(w) {
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	}
	return NewJSON(w, level)
}

// NewJSON returns a Cloud Logging-shaped JSON logger.
func NewJSON(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(jsonLines{w}, &slog.HandlerOptions{Level: level, ReplaceAttr: cloudKeys}))
}

// jsonLines writes each line the JSON handler makes (one call a record)
// with what a terminal acts on escaped: encoding/json leaves DEL, C1
// controls and bidi overrides from API values as they are.
type jsonLines struct{ w io.Writer }

func (j jsonLines) Write(b []byte) (int, error) {
	if _, err := j.w.Write(printable.JSON(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}

func cloudKeys(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.MessageKey:
		a.Key = "message"
	case slog.LevelKey:
		a.Key = "severity"
		lvl, _ := a.Value.Any().(slog.Level)
		a.Value = slog.StringValue(severity(lvl))
	}
	return a
}

func severity(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	}
	return "DEBUG"
}

// ParseLevel reads debug, info, warn(ing) or error.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", s)
}

// IsTerminal reports whether w is a character device such as a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
