package main

import (
	"os"
	"path/filepath"
	"testing"

	"l2hub/capture"
)

// readSection returns the section header of a pcapng file and its meta.
func readSection(t *testing.T, path string) (capture.Section, capture.FileMeta) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capture.NewReader(f, capture.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sec := r.Section()
	fm, err := capture.ParseMeta(sec.Comment)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return sec, fm
}

// TestCaptureHeaderNamesTheVersionOnce: serve's and replay's captures say
// "l2hub 0.1.0" in shb_userappl and "version=0.1.0" in the header comment.
func TestCaptureHeaderNamesTheVersionOnce(t *testing.T) {
	dir := t.TempDir()
	served := filepath.Join(dir, "served.pcapng")
	s := startServe(t, "serve", "--control", "off", "--port", "a=tcp:127.0.0.1:0", "--capture", served)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	replayed := filepath.Join(dir, "replayed.pcapng")
	if _, stderr, err := runCmd(t, "replay", writeL2hubCapture(t, dir, 3), "-o", replayed); err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr)
	}
	for _, path := range []string{served, replayed} {
		sec, fm := readSection(t, path)
		if want := "l2hub " + Version; sec.UserAppl != want {
			t.Errorf("%s: got shb_userappl %q, want %q", filepath.Base(path), sec.UserAppl, want)
		}
		if fm.Version != Version {
			t.Errorf("%s: got header version=%q, want %q", filepath.Base(path), fm.Version, Version)
		}
	}
}
