package serve

import (
	"bytes"
	"fmt"
	"io"
	"l2hub/internal/logq"
	"log/slog"
)

// DropNotice is the record that stands for lines stderr's queue
// (internal/logq) dropped, as serve logs them in text or, with jsonLogs,
// JSON: the notice its stderr queue writes.
func DropNotice(jsonLogs bool) func(lines uint64) []byte {
	format := "text"
	if jsonLogs {
		format = "json"
	}
	return func(lines uint64) []byte {
		var b bytes.Buffer
		log, err := NewLogger(&b, "info", format) // a level and a format NewLogger takes
		if err != nil {                           // never: the queue's own words then
			return logq.DropNotice(lines)
		}
		log.Warn(fmt.Sprintf("%d log lines dropped: stderr was not being read", lines), "dropped", lines)
		return b.Bytes()
	}
}

// EarlyLog is the log for an error l2hub serve raised before it made its
// own (an unknown flag or argument, a bad --log-level): JSON records on
// stderr at info when serve's arguments (those after the command's name)
// ask for --log-format json (JSONLogsIn), else nil (the error is plain
// text).
func EarlyLog(args []string, stderr io.Writer) *slog.Logger {
	if !JSONLogsIn(args) {
		return nil
	}
	log, err := NewLogger(stderr, "info", "json")
	if err != nil {
		return nil
	}
	return log
}
