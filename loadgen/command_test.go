package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// commandFrom is what l2hub bench does with its arguments: Register and
// parse.
func commandFrom(t *testing.T, args ...string) *Command {
	t.Helper()
	var c Command
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	c.Register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return &c
}

// TestCommandRun: the flags' run writes its report (--json) on stdout and
// its progress on stderr; a bad --fail-on or matrix is refused before
// anything runs or is written.
func TestCommandRun(t *testing.T) {
	short := []string{"--sizes", "64", "--ports", "2", "--patterns", "unicast", "--duration", "50ms", "--window", "4",
		"--latency=false", "--stall=false", "--overload=false", "--open-loop=false", "--targets", TargetHub}
	t.Run("json", func(t *testing.T) {
		var out, errs bytes.Buffer
		if err := commandFrom(t, append(short, "--json", "--fail-on", "none")...).Run(context.Background(), &out, &errs); err != nil {
			t.Fatalf("got Run() = %v, want nil\n%s", err, errs.String())
		}
		var rep Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Results) == 0 {
			t.Errorf("got stdout %q (%v), want a JSON report with results", out.String(), err)
		}
		if errs.Len() == 0 {
			t.Errorf("got no progress on stderr")
		}
	})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--fail-on", "sometimes"}, `--fail-on "sometimes": want loss, targets or none`},
		{[]string{"--ports", "3"}, "--ports 3: unicast pairs the VMs"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errs bytes.Buffer
			err := commandFrom(t, append(short, tc.args...)...).Run(context.Background(), &out, &errs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got Run() = %v, want an error containing %q", err, tc.want)
			}
			if out.Len() != 0 || errs.Len() != 0 {
				t.Errorf("ran something: stdout %q, stderr %q", out.String(), errs.String())
			}
		})
	}
}
