package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/capture/capturetest"
	"l2hub/control"
	"l2hub/control/controltest"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/hub/hubtest"
	"l2hub/transport"
)

// livePolicy is the policy of the end-to-end test: random draws on both
// links, FIFO delay; nothing that depends on the run's absolute start.
const livePolicy = `seed: 5
rules:
  - {name: loss-a-b, match: {link: a->b}, loss: 15%}
  - {name: dup-b-a, match: {link: b->a}, duplicate: 10%}
  - {name: slow-b-a, match: {link: b->a}, delay: 1ms±500us}
`

// TestServeInjectReplay runs the whole story through run(...): serve a
// two-port hub with a policy and a capture, push traffic from both VMs,
// inject a recorded exchange into b with rewritten addresses, stop, then
// replay the live capture and check it reproduces every decision.
func TestServeInjectReplay(t *testing.T) {
	dir := t.TempDir()
	ctl := filepath.Join(dir, "ctl.sock")
	live := filepath.Join(dir, "live.pcapng")
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte(livePolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "serve", "--port", "a=tcp:127.0.0.1:0", "--port", "b=tcp:127.0.0.1:0",
		"--control", ctl, "--policy", policy, "--capture", live)
	addrs := tcpPorts(t, s.stdout.String())
	a, b := dialVM(t, addrs["a"]), dialVM(t, addrs["b"])
	waitAttached(t, ctl, 2)

	var mu sync.Mutex
	got := map[string][][]byte{}
	var readers sync.WaitGroup
	for name, vm := range map[string]*transport.StreamConn{"a": a, "b": b} {
		readers.Go(func() {
			buf := make([]byte, transport.DefaultMaxFrame)
			for {
				n, err := vm.ReadFrame(buf)
				if err != nil {
					return
				}
				mu.Lock()
				got[name] = append(got[name], bytes.Clone(buf[:n]))
				mu.Unlock()
			}
		})
	}
	const n = 300
	for i := range n {
		if err := a.WriteFrame(hubtest.Frame(macVMB, macVMA, fmt.Sprintf("a-%d", i))); err != nil {
			t.Fatal(err)
		}
		if err := b.WriteFrame(hubtest.Frame(macVMA, macVMB, fmt.Sprintf("b-%d", i))); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 {
			time.Sleep(5 * time.Millisecond)
		}
		if i == n/2 { // a rule added half way, which the replay makes again
			if out, errOut, err := runCmd(t, "ctl", "--control", ctl, "rule", "add", "late-loss", "--loss", "b->a=30%"); err != nil {
				t.Fatalf("ctl rule add: %v\n%s%s", err, out, errOut)
			}
		}
	}

	// A recorded exchange between x and y, aimed at b by rewriting x's
	// MAC to a's and y's to b's, at twice its recorded speed.
	macX, macY := hubtest.MAC("02:00:00:00:00:01"), hubtest.MAC("02:00:00:00:00:02")
	var rec [][]byte
	for i := range 20 {
		rec = append(rec, hubtest.Frame(macY, macX, fmt.Sprintf("recorded-%02d", i)))
	}
	recPath := filepath.Join(dir, "recorded.pcap")
	writePcapFile(t, recPath, time.Unix(1000, 0), rec, 4*time.Millisecond)
	stdout, stderr, err := runCmd(t, "inject", recPath, "--into", "b", "--control", ctl, "--speed", "2",
		"--rewrite-mac", "02:00:00:00:00:01=52:54:00:12:34:0a", "--rewrite-mac", "02:00:00:00:00:02=52:54:00:12:34:0b")
	if err != nil {
		t.Fatalf("inject: %v\n%s%s", err, stdout, stderr)
	}
	for _, want := range []string{"sent 20 frames", "drift from schedule: median", "2× recorded timing"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("inject report lacks %q:\n%s", want, stdout)
		}
	}
	waitForCond(t, "b to read the injected frames", func() bool {
		mu.Lock()
		defer mu.Unlock()
		k := 0
		for _, f := range got["b"] {
			if bytes.Contains(f, []byte("recorded-")) {
				if !bytes.Equal(f[0:6], macVMB[:]) || !bytes.Equal(f[6:12], macVMA[:]) {
					t.Fatalf("injected frame not rewritten: % x", f[:12])
				}
				k++
			}
		}
		return k == 20
	})

	_, _, err = runCmd(t, "inject", recPath, "--into", "nope", "--control", ctl)
	if err == nil || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), "a, b") {
		t.Errorf("inject into an unknown port: got %v, want an error listing the ports", err)
	}

	time.Sleep(50 * time.Millisecond) // let delayed frames go out
	if err := s.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	a.Close()
	b.Close()
	readers.Wait()

	out := filepath.Join(dir, "replay.pcapng")
	stdout, stderr, err = runCmd(t, "replay", live, "--policy", policy, "-o", out)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "seed 5 (from capture)") {
		t.Errorf("replay summary lacks the capture's seed:\n%s", stdout)
	}
	if strings.Contains(stderr, "what-if") || strings.Contains(stderr, "has none") {
		t.Errorf("replay with the run's own policy notes a different one:\n%s", stderr)
	}
	liveDecisions, replayed := ingressComments(t, live), ingressComments(t, out)
	if len(liveDecisions) != 2*n {
		t.Fatalf("the live capture has %d ingress frames, want %d", len(liveDecisions), 2*n)
	}
	if !slices.Equal(liveDecisions, replayed) {
		for i := range min(len(liveDecisions), len(replayed)) {
			if liveDecisions[i] != replayed[i] {
				t.Fatalf("frame %d: live %q, replay %q", i+1, liveDecisions[i], replayed[i])
			}
		}
		t.Fatalf("got %d replayed decisions, want %d", len(replayed), len(liveDecisions))
	}
	// The rule added half way is made again, or, with --ignore-edits, not.
	for _, ignore := range []bool{false, true} {
		args := []string{"replay", live, "--policy", policy, "--json"}
		if ignore {
			args = append(args, "--ignore-edits")
		}
		stdout, stderr, err := runCmd(t, args...)
		if err != nil {
			t.Fatalf("replay --json: %v\n%s", err, stderr)
		}
		var res struct {
			Edits []struct {
				Edit    filter.Edit `json:"edit"`
				Applied bool        `json:"applied"`
			} `json:"edits"`
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("replay --json: %v\n%s", err, stdout)
		}
		if len(res.Edits) != 1 || res.Edits[0].Edit.Op != filter.EditRuleAdd || res.Edits[0].Edit.Name != "late-loss" || res.Edits[0].Applied == ignore {
			t.Errorf("replay --json (ignore-edits %v): edits %+v, want the rule late-loss added, applied %v", ignore, res.Edits, !ignore)
		}
	}

	// The injected frames are sent again, to b, as the live hub sent them:
	// the same frames with the same note, in the same order.
	injected := func(path string) []string {
		var out []string
		for _, p := range capturetest.Packets(t, path) {
			if p.Dir == capture.DirOut && strings.Contains(p.Comment, "inject (from the control API") {
				out = append(out, p.IfName+" "+strings.TrimRight(string(p.Data[14:]), "\x00"))
			}
		}
		return out
	}
	if l, r := injected(live), injected(out); len(l) != 20 || !slices.Equal(l, r) {
		t.Errorf("injected frames: live %d %q, replay %d %q; want the 20 in both", len(l), l, len(r), r)
	}
	if !strings.Contains(stdout, "the 20 frames the control API injected were sent again") {
		t.Errorf("the replay summary does not count the injected frames:\n%s", stdout)
	}
	acted := 0
	for _, d := range liveDecisions {
		if strings.Contains(d, "rule ") {
			acted++
		}
	}
	if acted < 50 {
		t.Errorf("the policy acted on %d of %d frames; the test needs it to act", acted, 2*n)
	}
}

func waitForCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestInjectIntoAPortWithoutAVM: injecting into a port with no VM fails
// before sending (every frame would be dropped).
func TestInjectIntoAPortWithoutAVM(t *testing.T) {
	dir := t.TempDir()
	ctl := filepath.Join(dir, "ctl.sock")
	startServe(t, "serve", "--port", "a=tcp:127.0.0.1:0", "--port", "b=tcp:127.0.0.1:0", "--control", ctl)
	recPath := writeInjectCapture(t, dir, 10)
	stdout, _, err := runCmd(t, "inject", recPath, "--into", "b", "--control", ctl, "--flood")
	if err == nil || !strings.Contains(err.Error(), "no VM is attached to port b") {
		t.Errorf("inject into a port without a VM: got %v, want a refusal", err)
	}
	if strings.Contains(stdout, "sent") {
		t.Errorf("inject into a port without a VM reported %q", stdout)
	}
}

func writeInjectCapture(t *testing.T, dir string, n int) string {
	t.Helper()
	var rec [][]byte
	for i := range n {
		rec = append(rec, hubtest.Frame(macVMB, macVMA, fmt.Sprintf("injected-%02d", i)))
	}
	path := filepath.Join(dir, "recorded.pcap")
	writePcapFile(t, path, time.Unix(1000, 0), rec, time.Millisecond)
	return path
}

// injectRoutes is what the control.Targets of the inject tests share: the
// zero State (every link up, no partitions) and, nil, the routes an
// injection does not use.
type injectRoutes struct {
	control.Target
}

func (injectRoutes) State(context.Context) (control.State, error) { return control.State{}, nil }

// dropHub is a control.Target with one attached port, b, that drops what is
// injected into it: the first frames as queue-full, the rest as port-down
// when vmLeaves (its VM went away).
type dropHub struct {
	injectRoutes
	mu       sync.Mutex
	injected int
	vmLeaves bool
}

func (h *dropHub) Ports(context.Context) ([]hub.PortStatus, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	drops := map[string]uint64{"queue-full": uint64(min(h.injected, 3)), "policy": 7}
	if h.vmLeaves {
		drops["port-down"] = uint64(max(h.injected-3, 0))
	}
	return []hub.PortStatus{{Name: "b", Attached: true, Stats: hub.StatsSnapshot{Drops: drops}}}, nil
}
func (h *dropHub) Inject(context.Context, string, []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.injected++
	return nil
}

// TestInjectReportsDrops: the frames a port dropped while inject sent,
// beyond those the hub counts as the injection's own (here none: the
// target holds no injection back, InjectFlow), are frames forwarded to
// it: reported as such, and no failure of the injection, even those that
// found no VM while the port still has one (flow_test has the injection's
// own; replay's TestInjectIntoCountsItsOwnDrops a VM gone by the end).
func TestInjectReportsDrops(t *testing.T) {
	for _, tc := range []struct {
		name     string
		vmLeaves bool
		warning  string
		err      string
	}{
		{"queue-full", false, "port b's drop counters rose by 3 more than the injection's own drops (frames forwarded to it meanwhile): queue-full=3\n", ""},
		{"vm-went-away", true, "port b's drop counters rose by 10 more than the injection's own drops (frames forwarded to it meanwhile): port-down=7 queue-full=3\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctl := controltest.ServeTarget(t, &dropHub{vmLeaves: tc.vmLeaves})
			stdout, stderr, err := runCmd(t, "inject", writeInjectCapture(t, dir, 10), "--into", "b", "--control", ctl, "--flood")
			if !strings.Contains(stdout, "sent 10 frames") || !strings.Contains(stderr, tc.warning) {
				t.Errorf("got stdout %q, stderr %q; want 10 frames sent and the warning %q", stdout, stderr, tc.warning)
			}
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("got error %v, want %q", err, tc.err)
			}
		})
	}
}

// TestInjectSelectionOfNothing: --from or --from-mac matching none of the
// capture's frames fails, naming what the capture has, before the hub is
// asked anything (here there is none to ask).
func TestInjectSelectionOfNothing(t *testing.T) {
	dir := t.TempDir()
	in := writeInjectCapture(t, dir, 5)
	ctl := filepath.Join(dir, "no-hub.sock")
	for _, sel := range [][]string{{"--from", "zz"}, {"--from-mac", "52:54:00:99:99:99"}} {
		stdout, _, err := runCmd(t, append([]string{"inject", in, "--into", "b", "--control", ctl, "--flood"}, sel...)...)
		if err == nil || !strings.Contains(err.Error(), "keeps none of its frames") || !strings.Contains(err.Error(), "source MACs 52:54:00:12:34:0a") {
			t.Errorf("inject %q: %v, want a refusal naming the capture's source MACs", sel, err)
		}
		if stdout != "" {
			t.Errorf("inject %q printed %q", sel, stdout)
		}
	}
}

// --max-gap is refused before a hub is asked when it is negative or when
// the pacing has no recorded gaps to shorten.
func TestInjectMaxGapFlag(t *testing.T) {
	dir := t.TempDir()
	in := writeInjectCapture(t, dir, 5)
	ctl := filepath.Join(dir, "no-hub.sock")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-gap", "-1s"}, "--max-gap -1s: must not be negative"},
		{[]string{"--max-gap", "1s", "--pps", "10"}, "--max-gap shortens the recorded timing's gaps: at a fixed rate (--pps, --bps) or as fast as possible (--flood, --speed 0) there are none"},
		{[]string{"--max-gap", "1s", "--speed", "0"}, "--max-gap shortens the recorded timing's gaps"},
		{[]string{"--max-gap", "1s", "--speed", "2"}, "no-hub.sock"}, // accepted: the hub is asked
		{[]string{"--pps", "1e-6"}, `--pps: "1e-6" is less than a frame in 24h0m0s, the longest wait between two frames`},
		{[]string{"--bps", "0.001"}, `--bps: "0.001" is less than the smallest frame in 24h0m0s`},
		{[]string{"--pps", "0.0001"}, "no-hub.sock"}, // one frame in under three hours: accepted
	} {
		_, _, err := runCmd(t, append([]string{"inject", in, "--into", "b", "--control", ctl}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("inject %q: %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
}

// TestInjectUnreadableCapture: a capture that cannot be read (not there,
// a directory, not a capture, empty) is the error, said before anything
// else: the hub is not asked (none answers at the control address), and
// no report of nothing sent is printed (text or JSON).
func TestInjectUnreadableCapture(t *testing.T) {
	dir := t.TempDir()
	noHub := filepath.Join(dir, "no-hub.sock")
	missing, text, empty, short := filepath.Join(dir, "nope.pcapng"), filepath.Join(dir, "text.pcapng"), filepath.Join(dir, "empty.pcap"), filepath.Join(dir, "short.pcap")
	for name, content := range map[string]string{text: "not a capture\n", empty: "", short: "\xd4\xc3"} {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		path, want string
	}{
		{missing, "no such file or directory"},
		{dir, "is a directory, not a capture file"},
		{text, "not a pcap or pcapng file"},
		{empty, "file header needs 4 bytes, input has 0"},
		{short, "file header needs 4 bytes, input has 2"},
	} {
		for _, args := range [][]string{{"--into", "b"}, {"--into", "b", "--json"}} {
			stdout, _, err := runCmd(t, append([]string{"inject", tt.path, "--control", noHub}, args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("inject %s %v: got %v, want an error naming it: %s", tt.path, args, err, tt.want)
			}
			if stdout != "" {
				t.Errorf("inject %s %v printed %q", tt.path, args, stdout)
			}
		}
	}
}
