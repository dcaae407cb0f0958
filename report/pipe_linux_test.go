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
// with "truncated: file header needs 4 bytes, input has 0"). When the
// report draws only the first frames (Limits.MaxFrames), the checker
// still judges the whole capture, read on for it.
func TestCheckOfAPipe(t *testing.T) {
	file := build(t, Options{Capture: failingRun, Check: "nexus-v1"})
	for _, maxFrames := range []int{0, 10} {
		t.Run(fmt.Sprintf("MaxFrames=%d", maxFrames), func(t *testing.T) {
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
			piped := build(t, Options{Capture: fmt.Sprintf("/dev/fd/%d", r.Fd()), Check: "nexus-v1", Limits: Limits{MaxFrames: maxFrames}})
			if piped.Check == nil || *piped.Check != *file.Check {
				t.Fatalf("got the check of the pipe %+v, want the file's %+v", piped.Check, file.Check)
			}
			if len(piped.Findings) != len(file.Findings) {
				t.Fatalf("got %d findings from the pipe, want the file's %d", len(piped.Findings), len(file.Findings))
			}
			if maxFrames > 0 {
				if piped.Records != maxFrames {
					t.Errorf("got %d records drawn, want %d", piped.Records, maxFrames)
				}
				return
			}
			if len(piped.Frames) != len(file.Frames) {
				t.Fatalf("got %d frames from the pipe, want the file's %d", len(piped.Frames), len(file.Frames))
			}
			for i, f := range piped.Findings {
				if g, w := fmt.Sprintf("%+v", f), fmt.Sprintf("%+v", file.Findings[i]); g != w {
					t.Errorf("got finding %d %s, want %s", i, g, w)
				}
			}
		})
	}
}
