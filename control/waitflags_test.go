package control_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"l2hub/control"
	"l2hub/internal/ready"
)

// TestWaitFlagsRun: wait's flags parsed and run: a serving hub's control
// API, or a ready file of this process, is ready at once, said as a line
// or (--json) as the ports or the file; a ready file that never comes
// ends with the timeout, saying what was waited for.
func TestWaitFlagsRun(t *testing.T) {
	_, sock := serveFake(t, "")
	dir := t.TempDir()
	file := filepath.Join(dir, "ready.json")
	rf, err := ready.Write(file, ready.Info{PID: os.Getpid(), Control: sock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rf.Remove() })
	for _, tc := range []struct {
		name    string
		args    []string
		want    string // stdout's start, or in the error
		wantErr bool
	}{
		{"control", []string{"--control", sock}, "l2hub ready: ", false},
		{"control-json", []string{"--control", sock, "--json"}, "[\n  {", false},
		{"ready-file", []string{"--ready-file", file}, "l2hub ready: pid ", false},
		{"ready-file-json", []string{"--ready-file", file, "--json"}, "{\n  \"schema\": ", false},
		{"no-ready-file", []string{"--ready-file", filepath.Join(dir, "none.json"), "--timeout", "50ms"}, "none.json", true},
		{"bad-control", []string{"--control", "off"}, "--control: ", true},
		{"both", []string{"--control", sock, "--ready-file", file}, "give one", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f control.WaitFlags
			fs := pflag.NewFlagSet("wait", pflag.ContinueOnError)
			f.Register(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if !tc.wantErr {
				// A stdout that takes nothing fails the wait, in both
				// branches (the control one returned nil).
				if err := f.Run(context.Background(), failingWriter{}); !errors.Is(err, errNoSpace) {
					t.Errorf("got Run() = %v writing to a full stdout, want %v", err, errNoSpace)
				}
			}
			var out bytes.Buffer
			err := f.Run(context.Background(), &out)
			switch {
			case tc.wantErr && (err == nil || !strings.Contains(err.Error(), tc.want) || out.Len() != 0):
				t.Errorf("got Run() = %v, stdout %q, want an error containing %q and no output", err, out.String(), tc.want)
			case !tc.wantErr && (err != nil || !strings.HasPrefix(out.String(), tc.want)):
				t.Errorf("got Run() = %v, stdout %q, want nil and %q...", err, out.String(), tc.want)
			}
		})
	}
}

// errNoSpace is what failingWriter's writes return: a full disk.
var errNoSpace = errors.New("no space left on device")

// failingWriter is a stdout that takes nothing.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errNoSpace }
