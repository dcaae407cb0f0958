package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
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
// control address (HOST:PORT without tcp:, none, an abstract @name) is
// refused with a hint, by serve before it binds anything (no socket file
// of that name appears in the working directory) and by the commands that
// dial one, which refuse off too.
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
		{[]string{"inject", "x.pcapng", "--into", "a", "--control", "none"}, `--control: "none": off is serve's`},
		{[]string{"ctl", "ports", "--control", "off"}, `--control: "off": off is serve's (a hub without a control API, which nothing can reach)`},
		{[]string{"wait", "--control", "off", "--timeout", "1ms"}, `--control: "off": off is serve's`},
		{[]string{"serve", "--port", "a=tcp:127.0.0.1:0", "--control", "@hub"}, `--control: "@hub": an abstract socket (@name) cannot be the control API's`},
		{[]string{"serve", "--port", "a=tcp:127.0.0.1:0", "--control", "unix:@hub"}, `--control: "unix:@hub": an abstract socket`},
		{[]string{"ctl", "ports", "--control", "@hub"}, `--control: "@hub": an abstract socket`},
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

// TestServeRefusesToWriteOverItsInputs: the audit's slips of tab
// completion (a capture over the policy, a summary over the config, a
// ready file over the capture, a summary over the token file) are refused
// with the flag that names the output, and every file is left as it was.
func TestServeRefusesToWriteOverItsInputs(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	files := map[string]string{
		"faults.yaml": "seed: 7\nrules: []\n",
		"lab.yaml":    "control: off\nports: [{name: a, transport: tcp, address: \"127.0.0.1:0\"}]\n",
		"ctl.token":   "a-token-of-enough-length-0123456789\n",
		"run-a.tok":   "a-token-of-enough-length-0123456789\n",
		"old.pcapng":  "an earlier run's capture\x00\x01",
	}
	for name, text := range files {
		if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--policy", "faults.yaml", "--capture", "faults.yaml"}, "--capture faults.yaml is the policy it reads: writing it would destroy it; write somewhere else"},
		{[]string{"--config", "lab.yaml", "--summary", "lab.yaml"}, "--summary lab.yaml is the config it reads: writing it would destroy it; write somewhere else"},
		{[]string{"--capture", "old.pcapng", "--ready-file", "./old.pcapng"}, "--ready-file ./old.pcapng is also the capture (--capture old.pcapng): one would overwrite the other; give each its own file"},
		{[]string{"--capture", "old.pcapng", "--summary", "old.pcapng"}, "--summary old.pcapng is also the capture (--capture old.pcapng)"},
		{[]string{"--control-token-file", "ctl.token", "--summary", "ctl.token"}, "--summary ctl.token is the control token file it reads"},
		{[]string{"--control-token-file", "run-a.tok", "--capture", "run.tok", "--capture-per-port"},
			"--capture run.tok writes run-a.tok, which is the control token file it reads: writing it would destroy it; write somewhere else"},
	} {
		args := append([]string{"serve", "--control", "off", "--port", "a=tcp:127.0.0.1:0"}, tt.args...)
		if slices.Contains(tt.args, "--config") {
			args = append([]string{"serve"}, tt.args...)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // a serve that took the outputs stops at once, having written them
		err := run(ctx, args, io.Discard, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("l2hub %s: got %v, want %s", strings.Join(args, " "), err, tt.want)
		}
		for name, text := range files {
			if got, err := os.ReadFile(name); err != nil || string(got) != text {
				t.Errorf("after l2hub %s, %s holds %q (%v), want %q", strings.Join(args, " "), name, got, err, text)
			}
		}
	}
}

// TestEmptyPolicyFileRefused: serve and replay refuse a policy file that
// defines nothing (a file cut short or saved wrong would otherwise run
// without a fault) in the words ctl set-policy refuses it with; "rules: []"
// is a policy of no faults on purpose, and runs.
func TestEmptyPolicyFileRefused(t *testing.T) {
	dir := t.TempDir()
	in := writeL2hubCapture(t, dir, 20)
	out := filepath.Join(dir, "out.pcapng")
	for _, src := range []string{"", "{}\n", "# just a comment\n"} {
		pol := filepath.Join(dir, "p.yaml")
		if err := os.WriteFile(pol, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"serve", "--port", "a=tcp:127.0.0.1:0", "--control", "off", "--policy", pol},
			{"replay", in, "--policy", pol, "-o", out},
		} {
			// A serve that took the file would run until ctx ends: the
			// deadline only bounds the failure.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := run(ctx, args, io.Discard, io.Discard)
			cancel()
			want := "policy " + pol + " is empty: it sets no seed, groups, rules, partitions or schedules"
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `"rules: []"`) {
				t.Errorf("%s of a policy %q: got %v, want an error containing %q and naming \"rules: []\"", args[0], src, err, want)
			}
		}
	}
	pol := filepath.Join(dir, "none.yaml")
	if err := os.WriteFile(pol, []byte("rules: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, "replay", in, "--policy", pol, "-o", out); err != nil {
		t.Errorf("replay with \"rules: []\": %v, want it run", err)
	}
}
