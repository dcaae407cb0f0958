//go:build unix

package serve

import (
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestStreamCaptureIsNeverNumbered: a capture to a named pipe is one
// stream that no rotation or set-policy numbers, so a summary named like
// its first numbered file (run-0001.pcapng) is no clash; a capture to a
// regular file would write that file, and is refused.
func TestStreamCaptureIsNeverNumbered(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "run.pcapng")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	cfg := Config{Control: "off", Capture: CaptureConfig{File: fifo}}
	opts := Options{SummaryFile: filepath.Join(dir, "run-0001.pcapng")}
	if err := checkSameFiles(&cfg, opts); err != nil {
		t.Errorf("capture to a FIFO, summary %s: %v, want no refusal", opts.SummaryFile, err)
	}
	cfg.Capture.File = filepath.Join(dir, "file.pcapng")
	opts.SummaryFile = filepath.Join(dir, "file-0001.pcapng")
	if err := checkSameFiles(&cfg, opts); err == nil || !strings.Contains(err.Error(), "is also the capture") {
		t.Errorf("capture to a file, summary %s: %v, want a refusal", opts.SummaryFile, err)
	}
}
