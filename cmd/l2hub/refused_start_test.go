package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRefusedStartLeavesTheCaptureUntouched: a start refused for a port or
// the control API already in use must not truncate the capture file of an
// earlier run that --capture names, nor leave a control socket behind.
func TestRefusedStartLeavesTheCaptureUntouched(t *testing.T) {
	dir := t.TempDir()
	busyCtl := filepath.Join(dir, "busy.sock")
	busy := startServe(t, "serve", "--port", "x=tcp:127.0.0.1:0", "--control", busyCtl)
	taken := tcpPorts(t, busy.stdout.String())["x"]
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"port-in-use", []string{"--control", "ctl.sock", "--port", "a=tcp:127.0.0.1:0", "--port", "b=tcp:" + taken}, "address already in use"},
		{"control-in-use", []string{"--control", busyCtl, "--port", "a=tcp:127.0.0.1:0"}, "another l2hub is listening"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			runDir := t.TempDir()
			pcap := filepath.Join(runDir, "run.pcapng")
			old := []byte("the capture of an earlier run, which must survive\x00\x01\x02")
			if err := os.WriteFile(pcap, old, 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			args := append([]string{"serve", "--capture", pcap, "--rotate-count", "1"}, tt.args...)
			for i, a := range args {
				if a == "ctl.sock" { // bound before the ports, then released
					args[i] = filepath.Join(runDir, a)
				}
			}
			err := run(context.Background(), args, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
			got, err := os.ReadFile(pcap)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, old) {
				t.Errorf("after a refused start %s holds %q, want %q (untouched)", pcap, got, old)
			}
			if ents, _ := os.ReadDir(runDir); len(ents) != 1 {
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				t.Errorf("after a refused start the directory holds %v, want only run.pcapng", names)
			}
		})
	}
}

// TestControlThatOnlyLooksLikeAnAddress: a --control value that is no
// control address (HOST:PORT without tcp:, none) is refused with a hint,
// by serve before it binds anything (no socket file of that name appears
// in the working directory) and by the commands that dial one.
func TestControlThatOnlyLooksLikeAnAddress(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--port", "a=tcp:127.0.0.1:0", "--control", "127.0.0.1:7291"},
			`--control: "127.0.0.1:7291": want tcp:127.0.0.1:7291 for a TCP address, or ./127.0.0.1:7291 for a socket file of that name`},
		{[]string{"serve", "--port", "a=tcp:127.0.0.1:0", "--control", "none"}, `--control: "none": did you mean off (no control API)?`},
		{[]string{"ctl", "ports", "--control", "127.0.0.1:7291"}, `--control: "127.0.0.1:7291": want tcp:127.0.0.1:7291`},
		{[]string{"wait", "--control", "localhost:7291", "--timeout", "1ms"}, `--control: "localhost:7291": want tcp:localhost:7291`},
		{[]string{"inject", "x.pcapng", "--into", "a", "--control", "none"}, `--control: "none": did you mean off`},
	} {
		// Cancelled: a serve that took the value would stop at once
		// rather than run on.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := run(ctx, tt.args, io.Discard, io.Discard)
		if err == nil || err.Error() != tt.want && !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("l2hub %s: got %v, want %s", strings.Join(tt.args, " "), err, tt.want)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("the working directory holds %s after the refusals, want nothing", ents[0].Name())
	}
}
