package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/control"
	"l2hub/filter"
	"l2hub/transport"
)

// ctlPolicy has one partition that only the control API starts.
const ctlPolicy = `
seed: 3
partitions:
  - {name: split, groups: a|b}
`

// serveWithPolicy runs l2hub serve with ports a and b, the given policy and a
// control socket, and returns the socket's path.
func serveWithPolicy(t *testing.T, policy string, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	ctl := filepath.Join(dir, "ctl.sock")
	args := []string{"serve", "--port", "a=tcp:127.0.0.1:0", "--port", "b=tcp:127.0.0.1:0", "--control", ctl, "--policy", pol}
	startServe(t, append(args, extra...)...)
	return ctl
}

// ctl runs `l2hub ctl --control CTL ARGS...` and returns its output.
func ctl(t *testing.T, sock string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"ctl", "--control", sock}, args...), &out, io.Discard)
	return out.String(), err
}

func TestCtlPartition(t *testing.T) {
	// Two flag partitions of the same groups, named a|b and a|b#2, that
	// only the control API starts before 1h.
	sock := serveWithPolicy(t, ctlPolicy, "--partition", "a|b@1h", "--partition", "a|b@1h")
	active := func() []string {
		t.Helper()
		raw, err := control.NewClient(sock, "").Policy(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var d filter.Description
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		var on []string
		for _, p := range d.Partitions {
			if p.Active {
				on = append(on, p.Name)
			}
		}
		return on
	}
	for _, tt := range []struct {
		name   string
		args   []string
		want   string // in the output, or in the error when wantErr
		err    bool
		active []string // partitions active afterwards
	}{
		{"help", []string{"partition", "--help"}, "partition NAME [GROUP GROUP...]", false, nil},
		{"file-partition-by-name", []string{"partition", "split"}, "partition split started", false, []string{"split"}},
		{"heal-it", []string{"heal", "split"}, "partition split healed", false, nil},
		{"flag-partition-by-name", []string{"partition", "a|b"}, "partition a|b started", false, []string{"a|b"}},
		{"heal-flag-partition", []string{"heal", "a|b"}, "partition a|b healed", false, nil},
		{"repeated-flag-partition-by-name", []string{"partition", "a|b#2"}, "partition a|b#2 started", false, []string{"a|b#2"}},
		{"heal-repeated-flag-partition", []string{"heal", "a|b#2"}, "partition a|b#2 healed", false, nil},
		{"ad-hoc", []string{"partition", "cut", "a", "b"}, "partition cut started", false, []string{"cut"}},
		{"restart-healed-ad-hoc", []string{"heal", "cut"}, "healed", false, nil},
		{"restart-by-name", []string{"partition", "cut"}, "partition cut started", false, []string{"cut"}},
		{"unknown-name", []string{"partition", "nope"}, `partition "nope": no such partition`, true, nil},
		{"one-group", []string{"partition", "x", "a"}, "one group (a) separates nothing", true, nil},
		{"no-name", []string{"partition"}, "give a partition NAME", true, nil},
		{"groups-for-a-name", []string{"partition", "b|a"},
			`partition "b|a": no such partition; "b|a" looks like groups, not a partition's name: give a name first, then each group as an argument (ctl partition split b a)`, true, nil},
		{"groups-with-a-group-for-a-name", []string{"partition", "a,b"}, `looks like groups`, true, nil},
		{"not-like-groups", []string{"partition", "a#2"}, `partition "a#2": no such partition`, true, nil},
		{"unknown-port", []string{"partition", "x", "a", "c"}, "(ports: a, b)", true, nil},
		{"unknown-port-link", []string{"link", "c", "down"}, `port "c": no such port (ports: a, b)`, true, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := ctl(t, sock, tt.args...)
			if tt.err {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("ctl %v: got error %v, want one containing %q", tt.args, err, tt.want)
				}
				return
			}
			if err != nil || !strings.Contains(out, tt.want) {
				t.Fatalf("ctl %v = %q, %v; want %q", tt.args, out, err, tt.want)
			}
			if got := active(); !slices.Equal(got, tt.active) {
				t.Errorf("after ctl %v, got active partitions %v, want %v", tt.args, got, tt.active)
			}
		})
	}
}

// TestCtlPortsShowLinkAndPartitions checks that `ctl ports` and GET
// /v1/ports show each port's link state (from ctl link and from a flap
// schedule) and the active partitions cutting it off.
func TestCtlPortsShowLinkAndPartitions(t *testing.T) {
	sock := serveWithPolicy(t, ctlPolicy+`
schedules:
  - {name: b-dies, port: b, at: 0s}
`)
	// Port a has a VM; b has none, so ctl shows its link up as no-peer.
	ports, err := control.NewClient(sock, "").Ports(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		if p.Name == "a" {
			dialVM(t, strings.TrimPrefix(p.Description, "tcp "))
		}
	}
	waitAttached(t, sock, 1)
	// rows returns, per port, the LINK and PARTITIONS columns of ctl ports.
	rows := func() map[string]string {
		t.Helper()
		out, err := ctl(t, sock, "ports")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if h := strings.Fields(lines[0]); len(h) < 4 || h[2] != "LINK" || h[3] != "PARTITIONS" {
			t.Fatalf("ctl ports header = %q, want PORT PEER LINK PARTITIONS ...", lines[0])
		}
		// A peer has spaces in it: cut the columns where the header's are.
		link := strings.Index(lines[0], "LINK")
		m := map[string]string{}
		for _, l := range lines[1:] {
			f := strings.Fields(l[link:])
			m[strings.Fields(l)[0]] = f[0] + " " + f[1]
		}
		return m
	}
	// GET /v1/ports says what the table says, no-peer included.
	steps := []struct {
		name string
		args []string // a ctl command to run first; nil for none
		want map[string]string
	}{
		{"schedule-takes-b-down", nil, map[string]string{"a": "up -", "b": "down -"}},
		{"partition", []string{"partition", "split"}, map[string]string{"a": "up split", "b": "down split"}},
		{"link-a-down", []string{"link", "a", "down"}, map[string]string{"a": "down split", "b": "down split"}},
		{"link-b-up-over-its-schedule", []string{"link", "b", "up"}, map[string]string{"a": "down split", "b": "no-peer split"}},
		{"heal", []string{"heal", "split"}, map[string]string{"a": "down -", "b": "no-peer -"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.args != nil {
				if _, err := ctl(t, sock, st.args...); err != nil {
					t.Fatalf("ctl %v: %v", st.args, err)
				}
			}
			if got := rows(); !maps.Equal(got, st.want) {
				t.Errorf("ctl ports: got LINK PARTITIONS %v, want %v", got, st.want)
			}
			ports, err := control.NewClient(sock, "").Ports(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			api := map[string]string{}
			for _, p := range ports {
				parts := "-"
				if len(p.Partitions) > 0 {
					parts = strings.Join(p.Partitions, ",")
				}
				api[p.Name] = p.Link + " " + parts
			}
			if !maps.Equal(api, st.want) {
				t.Errorf("GET /v1/ports: got link, partitions %v, want %v", api, st.want)
			}
		})
	}
}

// TestMetricsExportLinkAndPartitionState scrapes a serve session's /metrics
// for the link gauge per port and the active gauge per partition.
func TestMetricsExportLinkAndPartitionState(t *testing.T) {
	sock := serveWithPolicy(t, ctlPolicy+`
schedules:
  - {name: b-dies, port: b, at: 0s}
`)
	for _, st := range []struct {
		name string
		args []string // a ctl command to run first; nil for none
		want []string
	}{
		{"at-start", nil, []string{
			`l2hub_port_link_up{port="a"} 1`, `l2hub_port_link_up{port="b"} 0`, `l2hub_partition_active{partition="split"} 0`,
			`l2hub_partition_drops_total{partition="split"} 0`, `l2hub_port_link_down_drops_total{port="b"} 0`,
		}},
		{"partition", []string{"partition", "split"}, []string{`l2hub_partition_active{partition="split"} 1`}},
		{"link-a-down", []string{"link", "a", "down"}, []string{`l2hub_port_link_up{port="a"} 0`}},
		{"heal", []string{"heal", "split"}, []string{`l2hub_partition_active{partition="split"} 0`}},
		{"link-b-up", []string{"link", "b", "up"}, []string{`l2hub_port_link_up{port="b"} 1`}},
	} {
		t.Run(st.name, func(t *testing.T) {
			if st.args != nil {
				if _, err := ctl(t, sock, st.args...); err != nil {
					t.Fatalf("ctl %v: %v", st.args, err)
				}
			}
			m, err := ctl(t, sock, "metrics")
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range st.want {
				if !strings.Contains(m, w+"\n") {
					t.Errorf("metrics lack %q", w)
				}
			}
		})
	}
}

// TestMetricsExportCaptureCounters: a serve session with a capture exports
// the capture's counters, and they move with the traffic.
func TestMetricsExportCaptureCounters(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "ctl.sock")
	startServe(t, "serve", "--port", "a=unix:"+filepath.Join(dir, "a.sock"), "--port", "b=unix:"+filepath.Join(dir, "b.sock"),
		"--control", sock, "--capture", filepath.Join(dir, "run.pcapng"))
	metric := func(name string) string {
		t.Helper()
		m, err := ctl(t, sock, "metrics")
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(m) {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				return strings.TrimSpace(v)
			}
		}
		t.Fatalf("metrics lack %s:\n%s", name, m)
		return ""
	}
	if got := metric("l2hub_capture_files_total"); got != "1" {
		t.Errorf("files %s, want 1", got)
	}
	for _, r := range []string{"queue-full", "write-error", "closed"} {
		if got := metric(`l2hub_capture_dropped_frames_total{reason="` + r + `"}`); got != "0" {
			t.Errorf("dropped (%s) %s, want 0", r, got)
		}
	}
	vm, err := transport.DialStream(context.Background(), "unix", filepath.Join(dir, "a.sock"), 1514)
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	frame := make([]byte, 60)
	copy(frame, "\xff\xff\xff\xff\xff\xff\x52\x54\x00\x00\x00\x0a\x88\xb5")
	if err := vm.WriteFrame(frame); err != nil {
		t.Fatal(err)
	}
	// The writer flushes within its interval; the ingress record is counted
	// once it reached the file.
	deadline := time.Now().Add(hangGuard)
	for metric("l2hub_capture_written_frames_total") == "0" {
		if time.Now().After(deadline) {
			t.Fatal("the capture's written-frames counter did not move after a frame crossed the hub")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCtlPolicyWithoutPolicy: with no policy in force, ctl policy keeps
// stdout JSON (null) for scripts and says why on stderr; with one, stderr
// stays quiet.
func TestCtlPolicyWithoutPolicy(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "ctl.sock")
	startServe(t, "serve", "--port", "a=tcp:127.0.0.1:0", "--port", "b=tcp:127.0.0.1:0", "--control", sock)
	policy := func() (stdout, stderr string) {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"ctl", "--control", sock, "policy"}, &out, &errOut); err != nil {
			t.Fatalf("ctl policy: %v", err)
		}
		return out.String(), errOut.String()
	}
	out, errOut := policy()
	var v any = "not decoded"
	if err := json.Unmarshal([]byte(out), &v); err != nil || v != nil {
		t.Errorf("stdout %q: got %v, %v; want JSON null", out, v, err)
	}
	if !strings.Contains(errOut, "the hub runs without a policy") {
		t.Errorf("stderr %q: want it to say the hub runs without a policy", errOut)
	}

	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte(ctlPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl(t, sock, "set-policy", pol); err != nil {
		t.Fatalf("ctl set-policy: %v", err)
	}
	out, errOut = policy()
	var d filter.Description
	if err := json.Unmarshal([]byte(out), &d); err != nil || len(d.Partitions) != 1 {
		t.Errorf("after set-policy, stdout %q: got %+v, %v; want the policy with its partition", out, d, err)
	}
	if errOut != "" {
		t.Errorf("with a policy, stderr %q: want nothing", errOut)
	}
}

// ctl rules shows a partition as it is now, even when its schedule ran out
// while no frame crossed the hub and no one changed anything.
func TestCtlRulesStateOnAnIdleHub(t *testing.T) {
	sock := serveWithPolicy(t, "partitions:\n  - {name: blip, groups: a|b, start: 0s, end: 50ms}\n")
	for deadline := time.Now().Add(hangGuard); ; time.Sleep(20 * time.Millisecond) {
		out, err := ctl(t, sock, "rules", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var st filter.Stats
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if len(st.Partitions) != 1 {
			t.Fatalf("ctl rules --json: %s, want the one partition", out)
		}
		if !st.Partitions[0].Active {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("partition blip (0s to 50ms) still shown active after %v on an idle hub", hangGuard)
		}
	}
}

// TestCtlSetPolicyRefusesWhatTheHubWouldLocally: set-policy reads at most
// one byte more than the hub takes (a file that never ends, a device, is
// not read into memory) and refuses a larger file, or a name that spans
// lines, in the hub's words before it looks for a hub.
func TestCtlSetPolicyRefusesWhatTheHubWouldLocally(t *testing.T) {
	dir := t.TempDir()
	noHub := filepath.Join(dir, "none.sock") // nothing listens: the refusal must come first
	big := filepath.Join(dir, "big.yaml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: it takes no room on disk, and ctl reads at most its first
	// MaxPolicyBytes+1.
	if err := f.Truncate(control.MaxPolicyBytes + 10); err != nil {
		t.Fatal(err)
	}
	f.Close()
	lines := filepath.Join(dir, "new\nline.yaml")
	if err := os.WriteFile(lines, []byte("seed: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, want string }{
		{big, "policy " + big + " is larger than 1048576 bytes"},
		{lines, "holds a control character"},
	} {
		if _, err := ctl(t, noHub, "set-policy", tc.file); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ctl set-policy %q = %v, want %q", tc.file, err, tc.want)
		}
	}
}

// TestCtlRulesShowsPortLinks: after ctl link b down, ctl rules shows the
// link beside the rules and partitions, as --json does (port_links).
func TestCtlRulesShowsPortLinks(t *testing.T) {
	sock := serveWithPolicy(t, "rules: []\n")
	if _, err := ctl(t, sock, "link", "b", "down"); err != nil {
		t.Fatal(err)
	}
	out, err := ctl(t, sock, "rules")
	if want := "no rules\n\nLINK  STATE  DROPPED\nb     down   0\n"; err != nil || out != want {
		t.Errorf("ctl rules: got %q, %v; want %q", out, err, want)
	}
}

// TestCtlSetPolicyFromStdin: set-policy - reads the policy from standard
// input, as rule add --file - reads a rule. Not parallel: it replaces
// os.Stdin.
func TestCtlSetPolicyFromStdin(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "ctl.sock")
	startServe(t, "serve", "--port", "a=tcp:127.0.0.1:0", "--port", "b=tcp:127.0.0.1:0", "--control", sock)
	stdinFrom(t, ctlPolicy)
	out, err := ctl(t, sock, "set-policy", "-")
	if err != nil || !strings.Contains(out, "policy replaced with standard input") {
		t.Fatalf("ctl set-policy - = %q, %v; want the policy replaced from standard input", out, err)
	}
	d, err := control.NewClient(sock, "").CurrentPolicy(context.Background())
	if err != nil || d == nil || len(d.Partitions) != 1 {
		t.Errorf("after set-policy -: policy %+v, %v; want the policy read from stdin, with its partition", d, err)
	}
}

// stdinFrom makes os.Stdin read text until the test ends. A test that
// calls it must not be parallel.
func stdinFrom(t *testing.T, text string) {
	t.Helper()
	in := filepath.Join(t.TempDir(), "stdin")
	if err := os.WriteFile(in, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdin
	os.Stdin = f
	t.Cleanup(func() {
		os.Stdin = saved
		f.Close()
	})
}
