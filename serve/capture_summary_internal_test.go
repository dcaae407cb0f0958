package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub"
)

// TestSummaryOfACaptureWithNoFile: a per-port capture that started no
// file (no port's file could take its header, on a full disk) is said as
// such, not as "0 frames in " and nothing; its JSON lists no file as [].
func TestSummaryOfACaptureWithNoFile(t *testing.T) {
	sink, err := capture.Open(capture.Config{Path: filepath.Join(t.TempDir(), "run.pcapng"), PerPort: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	text, capt := captureSummary(t, sink)
	if want := "capture: no file was started (0 frames written)\n"; !strings.Contains(text, want) || strings.Contains(text, "frames in") {
		t.Errorf("the text summary:\n%s\nwant it to say %q", text, want)
	}
	if got := string(capt["files"]); got != "[]" {
		t.Errorf("got capture.files %s, want []", got)
	}
}

// captureSummary returns what serve's exit summary says of a session
// whose capture is sink: its text, and the JSON's capture object.
func captureSummary(t *testing.T, sink *capture.Sink) (string, map[string]json.RawMessage) {
	t.Helper()
	s := Session{capture: sink}
	sum := s.summary(nil)
	sum.Ports = []PortSummary{{Name: "a"}} // a summary without ports says nothing
	var text, js strings.Builder
	sum.writeText(&text)
	if err := sum.writeJSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Capture map[string]json.RawMessage `json:"capture"`
	}
	if err := json.Unmarshal([]byte(js.String()), &doc); err != nil {
		t.Fatal(err)
	}
	return text.String(), doc.Capture
}

// fullStream is a capture stream on a full disk: every write fails.
type fullStream struct{}

func (fullStream) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.ENOSPC}
}

func (fullStream) Close() error { return nil }

// TestSummaryOfACaptureWithWriteErrors: frames a capture could not write
// (a full disk) are said lost in the text summary, with the warning that
// a replay will not reproduce the run, and count as write_error in its
// JSON.
func TestSummaryOfACaptureWithWriteErrors(t *testing.T) {
	sink, err := capture.Open(capture.Config{Path: capture.Stdout,
		Create: func(string) (io.WriteCloser, error) { return fullStream{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	const sent = 3
	observeFrames(sink, sent, 60)
	if err := sink.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("got Close() = %v, want the write error", err)
	}
	if st := sink.Stats(); st.WriteError != sent {
		t.Fatalf("got capture stats %+v, want %d write errors", st, sent)
	}
	text, capt := captureSummary(t, sink)
	want := fmt.Sprintf("%d lost (writer fell behind: 0, write errors: %d) - replay of this capture will not reproduce the run exactly", sent, sent)
	if !strings.Contains(text, want) {
		t.Errorf("the text summary:\n%s\nwant it to say %q", text, want)
	}
	if got := string(capt["write_error"]); got != strconv.Itoa(sent) {
		t.Errorf("got capture.write_error %s, want %d", got, sent)
	}
}

// observeFrames shows sink n frames of size bytes that port a (added
// first) received, a millisecond apart, each its number in its EtherType.
func observeFrames(sink *capture.Sink, n, size int) {
	sink.PortAdded(hub.PortInfo{ID: 0, Name: "a"})
	for k := range n {
		f := make([]byte, size)
		f[0], f[13] = 0xff, byte(k)
		ev := hub.Event{Time: time.Unix(1700000000, int64(k)*1e6), Port: 0, PortName: "a", Frame: f}
		sink.Observe(&ev)
	}
}
