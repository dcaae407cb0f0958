package capture

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"l2hub/hub"
)

// TestResumeOnARealFullDisk fills a small tmpfs (root only), lets the
// capture fail on it, frees the space and checks that the capture goes on
// in its next numbered file.
func TestResumeOnARealFullDisk(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("skipping: mounting a small tmpfs to fill needs root")
	}
	for _, tc := range []struct {
		name   string
		rotate int64
	}{{"one-file", 0}, {"rotating", 8000}} { // rotating: the disk may fill as a part starts
		t.Run(tc.name, func(t *testing.T) { resumeOnARealFullDisk(t, tc.rotate) })
	}
}

func resumeOnARealFullDisk(t *testing.T, rotate int64) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("skipping: cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
	filler := filepath.Join(dir, "filler")
	logs := &logRecorder{}
	resumed := func() bool {
		for _, r := range logs.records(slog.LevelWarn) {
			if strings.Contains(r.Message, "writing again") {
				return true
			}
		}
		return false
	}
	// OverflowBlock: a writer starved on a loaded machine then holds the
	// sender up rather than drop frames (and warn that it fell behind),
	// so that every frame is written or counted as a write error.
	s := mustOpen(t, Config{Path: filepath.Join(dir, "run.pcapng"), Meta: testMeta, Logger: slog.New(logs), Overflow: OverflowBlock,
		FlushInterval: time.Millisecond, RetryInterval: time.Millisecond, BatchBytes: 4096, RotateBytes: rotate})
	s.PortAdded(hub.PortInfo{ID: 0, Name: "a", Description: "test a"})
	for k := 0; ; k++ {
		ev := hub.Event{Time: t0.Add(time.Duration(k) * time.Millisecond), Port: 0, PortName: "a", Frame: frame(1000, 1, 2, k)}
		s.Observe(&ev)
		if k == 10 { // fill what the capture has not taken
			f, err := os.Create(filler)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(make([]byte, 1<<20)) // fails once the tmpfs is full
			f.Close()
		}
		if s.Stats().WriteError > 0 {
			break
		}
		if k > 100_000 {
			t.Fatalf("the capture never met the full disk: %+v", s.Stats())
		}
		time.Sleep(100 * time.Microsecond)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(hangGuard); !resumed(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the capture did not resume after the disk had room again: %+v", s.Stats())
		}
	}
	ev := hub.Event{Time: t0.Add(time.Hour), Port: 0, PortName: "a", Frame: frame(1000, 1, 2, 7)}
	s.Observe(&ev)
	if err := s.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Close() = %v, want ENOSPC", err)
	}
	var last []byte
	total := 0
	var names []string
	for _, path := range s.Files() {
		names = append(names, filepath.Base(path))
	}
	if on, _ := filepath.Glob(filepath.Join(dir, "run*")); len(on) != len(names) {
		t.Errorf("files on the disk %q, want only the capture's %q (no part left empty)", on, names)
	}
	for _, path := range s.Files() {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := readAll(t, b) // each file reads to its end
		total += len(got)
		if len(got) > 0 {
			last = got[len(got)-1].Data
		}
	}
	if st := s.Stats(); uint64(total) != st.Written || st.Written+st.WriteError != st.Observed {
		t.Errorf("the files hold %d packets; stats %+v: want written = the files' packets, written + write errors = observed", total, st)
	}
	if !bytes.Equal(last, ev.Frame) {
		t.Error("the last file does not end with the frame sent after the resume")
	}
	if st := s.Stats(); st.QueueFull != 0 {
		t.Errorf("stats %+v, want no frame dropped for a writer behind (OverflowBlock)", st)
	}
}
