package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/control"
)

// TestNoHubHint: ctl, wait and inject, given a control address where no
// hub answers, say how to start one or name a running one with --control:
// advice for the command line, which control's own error (for Go
// callers) leaves out.
func TestNoHubHint(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	const hint = "is it running? Start one with l2hub serve, or give a running hub's address with --control"
	for name, args := range map[string][]string{
		"ctl-ports":       {"ctl", "ports"},
		"ctl-rule-remove": {"ctl", "rule", "remove", "x"},
		"wait":            {"wait", "--timeout", "200ms"}, // what ends the wait; not a bound on the test
		"inject":          {"inject", os.DevNull, "--into", "b"},
	} {
		t.Run(name, func(t *testing.T) {
			err := run(context.Background(), append(args, "--control", sock), io.Discard, io.Discard)
			if !errors.Is(err, control.ErrNoHub) || !strings.Contains(err.Error(), "no hub answers at "+sock) || !strings.HasSuffix(err.Error(), hint) {
				t.Errorf("got %s error %v, want ErrNoHub naming %s, ending %q", strings.Join(args, " "), err, sock, hint)
			}
		})
	}
}
