package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// logText turns JSON log lines into "SEVERITY message key=value ..." lines,
// so tests can look for what a person would read. Other lines pass as they are.
func logText(stderr string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil {
			b.WriteString(line + "\n")
			continue
		}
		fmt.Fprintf(&b, "%v %v", entry["severity"], entry["message"])
		keys := make([]string, 0, len(entry))
		for k := range entry {
			if k != "severity" && k != "message" && k != "time" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%v", k, entry[k])
		}
		b.WriteString("\n")
	}
	return b.String()
}

// checkJSONLogs fails unless every stderr line is a JSON entry with
// severity and message.
func checkJSONLogs(t *testing.T, stderr string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		if line == "" {
			continue
		}
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil || entry["severity"] == nil || entry["message"] == nil {
			t.Errorf("stderr line is not a JSON log entry: %s", line)
		}
	}
}

// finalReport is the report an apply prints at the end, after the spaces
// it showed as they were planned; plan's whole output is its report.
func finalReport(stdout string) string {
	if _, report, ok := strings.Cut(stdout, "Report:\n\n"); ok {
		return report
	}
	return stdout
}
