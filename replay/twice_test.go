package replay

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/capture"
	"l2hub/hub/hubtest"
)

// TestJobRefusesACaptureGivenTwice: one capture given twice (the same
// path, a link to it, a copy: `replay run*.pcapng` with a backup beside
// the run) would replay every frame and edit twice; it is refused. The
// files a capture was split into (editcap -c) share its header but not
// their frames, and replay together.
func TestJobRefusesACaptureGivenTwice(t *testing.T) {
	dir := t.TempDir()
	sent := func(payload string) func(sim *hubtest.Sim, _ *capture.Sink) {
		return func(sim *hubtest.Sim, _ *capture.Sink) {
			sim.Send("a", hubtest.Frame(macB, macA, payload))
		}
	}
	run := writeFile(t, dir, "run.pcapng", string(describedCapture(t, capture.Meta{}, sent("one"))))
	copied := writeFile(t, dir, "copy.pcapng", string(describedCapture(t, capture.Meta{}, sent("one"))))
	split := writeFile(t, dir, "split.pcapng", string(describedCapture(t, capture.Meta{}, sent("two"))))
	link := filepath.Join(dir, "link.pcapng")
	if err := os.Symlink(run, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		files []string
		want  string // "" for no error
	}{
		{"same-path", []string{run, run}, run + " is given twice"},
		{"symlink", []string{run, link}, run + " and " + link + " are one file"},
		{"copy", []string{run, copied}, copied + " holds what " + run + " holds"},
		{"split", []string{run, split}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := (&Job{Files: tc.files}).Run(context.Background())
			if tc.want == "" {
				if err != nil || res.Replayed != 2 {
					t.Fatalf("got %v, want both files' frames replayed", err)
				}
				return
			}
			if !errors.Is(err, ErrSameCapture) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want %v saying %q", err, ErrSameCapture, tc.want)
			}
		})
	}
}
