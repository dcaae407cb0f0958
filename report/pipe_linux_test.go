package report

import (
	"fmt"
	"os"
	"testing"
)

// TestCheckOfAPipe: --check of a capture given as a pipe (a process
// substitution, <(cat run.pcapng)) judges the frames the report draws, as
// it does the same capture in a file: the capture is read once (the
// audit: the checker opened it again, read nothing and failed the check
// with "truncated: file header needs 4 bytes, input has 0").
func TestCheckOfAPipe(t *testing.T) {
	data := readFile(t, failingRun)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		_, _ = w.Write(data)
		w.Close()
	}()
	piped := build(t, Options{Capture: fmt.Sprintf("/dev/fd/%d", r.Fd()), Check: "nexus-v1"})
	file := build(t, Options{Capture: failingRun, Check: "nexus-v1"})
	if piped.Check == nil || *piped.Check != *file.Check {
		t.Fatalf("got the check of the pipe %+v, want the file's %+v", piped.Check, file.Check)
	}
	if len(piped.Findings) != len(file.Findings) || len(piped.Frames) != len(file.Frames) {
		t.Fatalf("got %d findings on %d frames from the pipe, want the file's %d on %d", len(piped.Findings), len(piped.Frames), len(file.Findings), len(file.Frames))
	}
	for i, f := range piped.Findings {
		if g, w := fmt.Sprintf("%+v", f), fmt.Sprintf("%+v", file.Findings[i]); g != w {
			t.Errorf("got finding %d %s, want %s", i, g, w)
		}
	}
}
