package serve_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"l2hub/serve"
)

// TestDropNotice: the record that stands for lines stderr's queue dropped
// is a warning in serve's own log format, a JSON record that counts them
// with --log-format json, a text one without.
func TestDropNotice(t *testing.T) {
	var rec map[string]any
	out := serve.DropNotice(true)(42)
	if err := json.Unmarshal(out, &rec); err != nil {
		t.Fatalf("got DropNotice(json) = %q, not a JSON record: %v", out, err)
	}
	if rec["level"] != "WARN" || rec["msg"] != "42 log lines dropped: stderr was not being read" || rec["dropped"] != 42.0 {
		t.Errorf("got DropNotice(json) = %v, want a WARN record of 42 lines dropped", rec)
	}
	text := string(serve.DropNotice(false)(42))
	if !strings.Contains(text, "level=WARN") || !strings.Contains(text, `msg="42 log lines dropped: stderr was not being read" dropped=42`) || !strings.HasSuffix(text, "\n") {
		t.Errorf("got DropNotice(text) = %q, want a WARN text record of 42 lines dropped", text)
	}
}

// TestEarlyLog: an error serve raises before it has its log is a JSON
// record when its arguments ask for --log-format json, even past a flag
// it does not know; otherwise it is plain text (no log).
func TestEarlyLog(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		json bool
	}{
		{"json", []string{"--log-format", "json"}, true},
		{"json-after-unknown-flag", []string{"--bogus", "--log-format=json"}, true},
		{"json-bad-level", []string{"--log-format", "json", "--log-level", "loud"}, true},
		{"text", []string{"--log-format", "text"}, false},
		{"none", nil, false},
		{"bad-format", []string{"--log-format", "xml"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			log := serve.EarlyLog(tc.args, &b)
			if (log != nil) != tc.json {
				t.Fatalf("got EarlyLog(%q) = %v, want a log: %v", tc.args, log, tc.json)
			}
			if log == nil {
				return
			}
			log.Debug("below info")
			log.Error("bad flag")
			var rec map[string]any
			if err := json.Unmarshal(b.Bytes(), &rec); err != nil || rec["level"] != "ERROR" || rec["msg"] != "bad flag" {
				t.Errorf("got %q from EarlyLog(%q), want one JSON ERROR record (err %v)", b.String(), tc.args, err)
			}
		})
	}
}
