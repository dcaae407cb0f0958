package report

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestFlagsOptions(t *testing.T) {
	for _, tt := range []struct {
		name string
		f    Flags
		want string // the error; "" for none
	}{
		{"defaults", Flags{HexBytes: DefaultHexBytes, MaxFrames: DefaultMaxFrames}, ""},
		{"zeros", Flags{}, ""},
		{"negative-hex-bytes", Flags{HexBytes: -1}, "--hex-bytes -1: must not be negative (0 means the default 256)"},
		{"negative-max-frames", Flags{MaxFrames: -2}, "--max-frames -2: must not be negative (0 means the default 500000)"},
		{"negative-before-console", Flags{MaxFrames: -2, Consoles: []string{"nolog"}}, "--max-frames -2: must not be negative (0 means the default 500000)"},
		{"group-below-never", Flags{Group: -2}, "--group -2: want -1 (never group), 0 (the default 3) or a run length"},
		{"unknown-check", Flags{Check: "bogus"}, `--check: "bogus": want nexus-v1 or noise-xk`},
		{"bad-console", Flags{Consoles: []string{"a=a.log", "nolog"}}, `--console "nolog": want NAME=LOG (a '=' in NAME doubled: k==v=a.log)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.f.Options("run.pcapng")
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got Options error %q, want %q", got, tt.want)
			}
		})
	}
	f := Flags{Consoles: []string{"a=a.log", "k==v=b.log,offset=1s"}, Check: "nexus-v1", Title: "t", Group: -1, HexBytes: 64, MaxFrames: 10}
	o, err := f.Options("run.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	if o.Capture != "run.pcapng" || o.Check != "nexus-v1" || o.Title != "t" || o.MinGroup != -1 || o.Limits.HexBytes != 64 || o.Limits.MaxFrames != 10 ||
		len(o.Consoles) != 2 || o.Consoles[0].Port != "a" || o.Consoles[1].Port != "k=v" || o.Consoles[1].Path != "b.log" || o.Consoles[1].Offset == nil {
		t.Errorf("got Options = %+v, want every flag in its field", o)
	}
}

// TestFlagsRun: report's flags parsed and run: the page written to -o
// with a line saying so (or, with -o -, the page itself on stdout); no -o
// is refused before the capture is read; a failed --check is said on
// stderr and does not fail the command.
func TestFlagsRun(t *testing.T) {
	capture := filepath.Join("testdata", "failing-run.pcapng")
	page := filepath.Join(t.TempDir(), "run.html")
	for _, tc := range []struct {
		name    string
		args    []string
		want    string // stdout's start, or the error's
		wantErr bool
		stderr  string // a part of stderr; "" for none
	}{
		{"file", []string{"-o", page, "--title", "t"}, "wrote " + page + " (", false, ""},
		{"stdout", []string{"-o", "-"}, "<!DOCTYPE html>", false, ""},
		{"no-output", nil, "-o: say where to write the page", true, ""},
		{"negative", []string{"-o", page, "--hex-bytes", "-1"}, "--hex-bytes -1:", true, ""},
		{"failed-check", []string{"-o", page, "--check", "nexus-v1"}, "wrote " + page + " (", false, "the nexus-v1 check failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f Flags
			fs := pflag.NewFlagSet("report", pflag.ContinueOnError)
			f.Register(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			var out, errs bytes.Buffer
			c := capture
			if tc.name == "no-output" {
				c = filepath.Join(t.TempDir(), "none.pcapng") // -o is refused before the capture is read
			}
			err := f.Run(context.Background(), c, &out, &errs)
			switch {
			case tc.wantErr && (err == nil || !strings.HasPrefix(err.Error(), tc.want) || out.Len() != 0):
				t.Errorf("got Run() = %v, stdout %.40q, want an error starting %q and no output", err, out.String(), tc.want)
			case !tc.wantErr && (err != nil || !strings.HasPrefix(out.String(), tc.want)):
				t.Errorf("got Run() = %v, stdout %.40q, want nil and %q...", err, out.String(), tc.want)
			}
			if got := errs.String(); !strings.Contains(got, tc.stderr) || tc.stderr == "" && strings.Contains(got, "check failed") {
				t.Errorf("got stderr %q, want it to say %q (and no failed check unless asked)", got, tc.stderr)
			}
		})
	}
}
