package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// failWriter fails every write, as a full disk or a closed pipe does.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestCheckReportNotWritten: a check whose report could not be written
// fails, even when the capture passes: exit status 0 would say a report
// exists.
func TestCheckReportNotWritten(t *testing.T) {
	for _, args := range [][]string{{"check"}, {"check", "--json"}} {
		err := run(context.Background(), append(args, goldenCapture("healthy")), failWriter{}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "no space left on device") {
			t.Errorf("%v with stdout failing: got %v, want the write error", args, err)
		}
	}
}
