package serve

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/capture"
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
