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

// Logs are read with cat, less and kubectl logs: a value from the API
// with a C1 control (U+009B is a CSI), DEL or a bidi override is written
// as a \u escape, as encoding/json writes the C0 ones.
func TestJSONEscapesWhatATerminalActsOn(t *testing.T) {
	var buf bytes.Buffer
	const value = "evil\u009b2J\x7f\u202e@example.com"
	NewJSON(&buf, slog.LevelInfo).Info("member "+value, "member", value)
	for _, r := range buf.String() {
		if r == 0x7f || r >= 0x80 && r <= 0x9f || r == 0x202e {
			t.Fatalf("the log line holds %U: %q", r, buf.String())
		}
	}
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line["member"] != value || line["message"] != "member "+value {
		t.Errorf("line %v, %v", line, err)
	}
}
