package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
)

func TestJSONUsesCloudLoggingKeys(t *testing.T) {
	for _, tc := range []struct {
		log  func(*slog.Logger)
		want string
	}{
		{func(l *slog.Logger) { l.Debug("d") }, "DEBUG"},
		{func(l *slog.Logger) { l.Info("i") }, "INFO"},
		{func(l *slog.Logger) { l.Warn("w") }, "WARNING"},
		{func(l *slog.Logger) { l.Error("e") }, "ERROR"},
	} {
		var buf bytes.Buffer
		tc.log(NewJSON(&buf, slog.LevelDebug).With("run_id", "r1"))
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("%q: %v", buf.String(), err)
		}
		if line["severity"] != tc.want || line["message"] == nil || line["run_id"] != "r1" {
			t.Errorf("line %v: want severity %s, a message and run_id", line, tc.want)
		}
		if _, ok := line["level"]; ok {
			t.Errorf("line %v still has level", line)
		}
	}
}
