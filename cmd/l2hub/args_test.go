package main

import (
	"context"
	"io"
	"testing"
)

// TestArgumentCountErrors: a command given too few or too many arguments
// says what it takes and shows a command line, not cobra's "accepts 2
// arg(s), received 1". None of these gets as far as a hub.
func TestArgumentCountErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"ctl", "link", "b"}, "ctl link takes PORT and up|down, got 1 argument (b): e.g. l2hub ctl link b down"},
		{[]string{"ctl", "heal"}, "ctl heal takes the partition's NAME, got none: e.g. l2hub ctl heal split"},
		{[]string{"ctl", "set-policy", "a.yaml", "b.yaml"}, "ctl set-policy takes the policy FILE, got 2 arguments (a.yaml b.yaml): e.g. l2hub ctl set-policy new.yaml"},
		{[]string{"ctl", "rule", "add", "--loss", "1%"}, "ctl rule add takes the rule's NAME, got none: e.g. l2hub ctl rule add loss-a-b --loss 'a->b=5%'"},
		{[]string{"lab"}, "lab takes the lab FILE, got none: e.g. l2hub lab pair.yaml"},
		{[]string{"capture", "repair"}, "capture repair takes the capture FILEs to repair, got none: e.g. l2hub capture repair run.pcapng"},
		{[]string{"inject", "--into", "a"}, "inject takes one CAPTURE, got none: e.g. l2hub inject handshake.pcapng --into b"},
		{[]string{"qemu-args", "a.yaml", "b.yaml"}, "qemu-args takes at most one config file, got 2 arguments (a.yaml b.yaml): e.g. l2hub qemu-args lab.yaml"},
	} {
		err := run(context.Background(), tt.args, io.Discard, io.Discard)
		if err == nil || err.Error() != tt.want {
			t.Errorf("l2hub %q: got %v, want %s", tt.args, err, tt.want)
		}
	}
}
