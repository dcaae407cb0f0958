package serve

import (
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"l2hub/capture"
)

// closedViewer is standard output once the Wireshark reading it closed:
// it takes limit bytes, and then its writes fail with EPIPE as an
// *os.File says it.
type closedViewer struct{ took, limit int }

func (v *closedViewer) Write(p []byte) (int, error) {
	if n := min(len(p), v.limit-v.took); n < len(p) {
		v.took += n
		return n, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}
	}
	v.took += len(p)
	return len(p), nil
}

func (*closedViewer) Close() error { return nil }

// TestSummaryOfAStreamWhoseReaderClosed: closing the live viewer is no
// error (README, Captures): the frames after it count as reader-gone in
// the text summary, its JSON and /metrics, apart from write errors, and
// the summary does not say the capture lost frames.
func TestSummaryOfAStreamWhoseReaderClosed(t *testing.T) {
	sink, err := capture.Open(capture.Config{Path: capture.Stdout, Overflow: capture.OverflowBlock,
		BatchBytes: 1024, FlushInterval: time.Hour, // batches written as they fill
		Create: func(string) (io.WriteCloser, error) { return &closedViewer{limit: 2000}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	const sent = 50
	observeFrames(sink, sent, 100)
	if err := sink.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil: a viewer that closed is no failure", err)
	}
	st := sink.Stats()
	if st.Written == 0 || st.ReaderGone == 0 || st.Written+st.ReaderGone != sent || st.WriteError != 0 {
		t.Fatalf("got capture stats %+v, want %d frames written or after the reader left, some of each, no write errors", st, sent)
	}

	text, capt := captureSummary(t, sink)
	want := "capture: " + strconv.FormatUint(st.Written, 10) + " frames in -, until its reader closed it; " + strconv.FormatUint(st.ReaderGone, 10) + " frames after are not in it\n"
	if !strings.Contains(text, want) || strings.Contains(text, "lost") {
		t.Errorf("the text summary:\n%s\nwant it to say %q, and nothing lost", text, want)
	}
	if got, ok := capt["write_error"]; ok || string(capt["reader_gone"]) != strconv.FormatUint(st.ReaderGone, 10) {
		t.Errorf("got capture.reader_gone %s, write_error %s; want %d and none", capt["reader_gone"], got, st.ReaderGone)
	}

	if dropped := droppedByReason(t, sink); dropped["reader-gone"] != float64(st.ReaderGone) || dropped["write-error"] != 0 {
		t.Errorf("got l2hub_capture_dropped_frames_total %v, want reader-gone=%d and write-error=0", dropped, st.ReaderGone)
	}
}

// droppedByReason gathers sink's l2hub_capture_dropped_frames_total as
// /metrics gives it, by its reason label.
func droppedByReason(t *testing.T, sink *capture.Sink) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCaptureCollector(sink.Stats))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	dropped := map[string]float64{}
	for _, mf := range fams {
		if mf.GetName() != "l2hub_capture_dropped_frames_total" {
			continue
		}
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == "reason" {
					dropped[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return dropped
}
