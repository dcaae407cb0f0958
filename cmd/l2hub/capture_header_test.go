package main

import (
	"path/filepath"
	"testing"

	"l2hub/capture/capturetest"
)

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
		sec, fm := capturetest.Section(t, path)
		if want := "l2hub " + Version; sec.UserAppl != want {
			t.Errorf("%s: got shb_userappl %q, want %q", filepath.Base(path), sec.UserAppl, want)
		}
		if fm.Version != Version {
			t.Errorf("%s: got header version=%q, want %q", filepath.Base(path), fm.Version, Version)
		}
	}
}
