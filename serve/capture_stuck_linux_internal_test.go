package serve

import (
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
)

// TestSummaryOfAStreamWhoseReaderStoppedReading: the frames still queued
// when the capture gives up on a stream whose reader stopped reading (a
// pipe to a paused process) count as stuck in the text summary, its JSON
// and /metrics, not as write errors, the full disk's reason.
func TestSummaryOfAStreamWhoseReaderStoppedReading(t *testing.T) {
	r, w, err := os.Pipe() // the runtime's poller waits on it, as on a piped stdout
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close() // never read
	sink, err := capture.Open(capture.Config{Path: capture.Stdout, Overflow: capture.OverflowBlock, CloseTimeout: 100 * time.Millisecond,
		Create: func(string) (io.WriteCloser, error) { return w, nil }})
	if err != nil {
		t.Fatal(err)
	}
	const sent = 100 // 140 KB, where a pipe holds 64 KiB
	observeFrames(sink, sent, 1400)
	if err := sink.Close(); !errors.Is(err, capture.ErrWriteStuck) {
		t.Fatalf("Close() = %v, want ErrWriteStuck", err)
	}
	st := sink.Stats()
	if st.Stuck == 0 || st.Written+st.Stuck != sent || st.WriteError != 0 {
		t.Fatalf("got capture stats %+v, want %d frames written or stuck, some stuck, no write errors", st, sent)
	}

	text, capt := captureSummary(t, sink)
	want := "capture: " + strconv.FormatUint(st.Written, 10) + " frames in -, until its reader stopped reading; " + strconv.FormatUint(st.Stuck, 10) + " frames still queued then are not in it\n"
	if !strings.Contains(text, want) || strings.Contains(text, "write errors") {
		t.Errorf("the text summary:\n%s\nwant it to say %q, and no write errors", text, want)
	}
	if got, ok := capt["write_error"]; ok || string(capt["stuck"]) != strconv.FormatUint(st.Stuck, 10) {
		t.Errorf("got capture.stuck %s, write_error %s; want %d and none", capt["stuck"], got, st.Stuck)
	}
	if dropped := droppedByReason(t, sink); dropped["stuck"] != float64(st.Stuck) || dropped["write-error"] != 0 {
		t.Errorf("got l2hub_capture_dropped_frames_total %v, want stuck=%d and write-error=0", dropped, st.Stuck)
	}
}
