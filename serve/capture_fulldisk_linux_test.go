package serve_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"l2hub/hub/hubtest"
	"l2hub/internal/syncbuf"
	"l2hub/serve"
)

// TestCaptureThatWentOnStillFailsTheRun: a capture file that failed on a
// full disk (a small tmpfs, root only) fails the run even though the
// capture went on in the next file once the disk had room again: frames
// are missing from the capture, so CI must not read the run as clean.
// Run returns the full disk's error (l2hub serve exits 1), and the
// summary names both files and counts the frames lost.
func TestCaptureThatWentOnStillFailsTheRun(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("skipping: mounting a small tmpfs to fill needs root")
	}
	disk := t.TempDir()
	if err := syscall.Mount("tmpfs", disk, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("skipping: cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(disk, 0) })
	cfg := outputsConfig(t, "127.0.0.1:0")
	cfg.Capture.File = filepath.Join(disk, "run.pcapng")
	summaryFile := filepath.Join(t.TempDir(), "summary.json")
	var logs syncbuf.Buffer
	info, stop, err := startRun(t, cfg, serve.Options{SummaryFile: summaryFile, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	a := dialVM(t, info.Ports[0].Addr)
	// sendUntil sends a frame every millisecond until the log says what.
	sendUntil := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(hangGuard); !strings.Contains(logs.String(), what); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log after %v:\n%s", what, hangGuard, logs.String())
			}
			if err := a.WriteFrame(hubtest.Frame(hubtest.Broadcast, hubtest.MAC("52:54:00:12:34:0a"), "a frame to capture")); err != nil {
				t.Fatal(err)
			}
		}
	}
	filler := filepath.Join(disk, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 1<<20)); !errors.Is(err, syscall.ENOSPC) { // fills the tmpfs
		t.Fatalf("filling the tmpfs: %v, want ENOSPC", err)
	}
	f.Close()
	sendUntil("capture: file failed")
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	sendUntil("capture: writing again, in a new file")
	if err := stop(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("got serve.Run = %v, want the full disk's error though the capture went on", err)
	}
	sum := readSummary(t, summaryFile)
	if c := sum.Capture; c == nil || len(c.Files) != 2 || c.WriteError == 0 {
		t.Errorf("got summary capture %+v, want two files and the frames lost counted as write errors", c)
	}
}
