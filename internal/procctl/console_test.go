package procctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestConsole: the notice and the error are "l2hub: ..." lines until a
// log is given through the context; then they are records of that log,
// the notice of kind "notice" at INFO, the error at ERROR.
func TestConsole(t *testing.T) {
	var stderr, logged bytes.Buffer
	con := NewConsole(&stderr)
	ctx := WithConsole(context.Background(), con)
	con.Notice("stopping")
	con.Fail("it broke")
	if got, want := stderr.String(), "l2hub: stopping\nl2hub: it broke\n"; got != want {
		t.Errorf("got lines %q, want %q", got, want)
	}
	if con.Logs() {
		t.Error("got Logs() = true before LogConsoleTo, want false")
	}
	LogConsoleTo(ctx, slog.New(slog.NewJSONHandler(&logged, nil)))
	if !con.Logs() {
		t.Error("got Logs() = false after LogConsoleTo, want true")
	}
	stderr.Reset()
	con.Notice("stopping")
	con.Fail("it broke")
	if stderr.Len() != 0 {
		t.Errorf("got %q on stderr with a log given, want nothing", stderr.String())
	}
	var recs []map[string]any
	for line := range strings.Lines(logged.String()) {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("record %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 2 || recs[0]["msg"] != "stopping" || recs[0]["level"] != "INFO" || recs[0]["kind"] != "notice" ||
		recs[1]["msg"] != "it broke" || recs[1]["level"] != "ERROR" {
		t.Errorf("got records %v, want the notice (INFO, kind notice) and the error (ERROR)", recs)
	}
	// A context without a console (a test that runs the command alone)
	// takes the call and says nothing.
	LogConsoleTo(context.Background(), slog.New(slog.NewJSONHandler(&logged, nil)))
}

// TestStopCause: a context a signal cancelled names the signal, and
// still reads as cancelled.
func TestStopCause(t *testing.T) {
	for _, tc := range []struct {
		sig  os.Signal
		want string
	}{
		{syscall.SIGINT, "stopped by SIGINT"},
		{syscall.SIGTERM, "stopped by SIGTERM"},
		{syscall.SIGHUP, "stopped by SIGHUP"},
		{fakeSignal{}, "stopped by signal fake"},
	} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(StopCause{tc.sig})
		err := context.Cause(ctx)
		if got := err.Error(); got != tc.want {
			t.Errorf("got StopCause{%v}.Error() = %q, want %q", tc.sig, got, tc.want)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got errors.Is(StopCause{%v}, context.Canceled) = false, want true", tc.sig)
		}
	}
}

type fakeSignal struct{}

func (fakeSignal) String() string { return "fake" }
func (fakeSignal) Signal()        {}
