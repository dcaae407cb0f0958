package main

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"l2hub/capture"
	"l2hub/capture/capturetest"
	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// captureFrames lists a capture file's frames as "port dir comment".
func captureFrames(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	for _, p := range capturetest.Packets(t, path) {
		out = append(out, strings.TrimSpace(p.IfName+" "+p.Dir.String()+" "+hub.WithoutPeerNotes(p.Comment))) // attaches checked apart
	}
	return out
}

// TestReplacedPolicyStartsANewCaptureFile: after ctl set-policy the capture
// goes on in run-0001.pcapng, whose header names the new seed, policy hash
// and policy name, and serve logs the switch; run.pcapng keeps the frames
// and the header of the policy before.
func TestReplacedPolicyStartsANewCaptureFile(t *testing.T) {
	dir := t.TempDir()
	ctl := filepath.Join(dir, "ctl.sock")
	pcap := filepath.Join(dir, "run.pcapng")
	s := startServe(t, "serve", "--control", ctl, "--capture", pcap,
		"--port", "a=tcp:127.0.0.1:0", "--port", "b=tcp:127.0.0.1:0", "--loss", "b->a=50%", "--seed", "9")
	addrs := tcpPorts(t, s.stdout.String())
	a, b := dialVM(t, addrs["a"]), dialVM(t, addrs["b"])
	waitAttached(t, ctl, 2)

	before := hubtest.Frame(hubtest.Broadcast, macA, "under the first policy")
	if err := a.WriteFrame(before); err != nil {
		t.Fatal(err)
	}
	if got := readFrame(t, b); !bytes.Equal(got, before) {
		t.Fatalf("b got %x, want %x", got, before)
	}
	const newPolicy = "seed: 4\nrules:\n  - name: drop-a-b\n    match: {link: a->b}\n    drop: true\n"
	if err := control.NewClient(ctl, "").ReplacePolicy(context.Background(), "new.yaml", []byte(newPolicy)); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteFrame(hubtest.Frame(hubtest.Broadcast, macA, "dropped by the new policy")); err != nil {
		t.Fatal(err)
	}
	after := hubtest.Frame(macA, macB, "b->a has no rule now")
	if err := b.WriteFrame(after); err != nil {
		t.Fatal(err)
	}
	if got := readFrame(t, a); !bytes.Equal(got, after) {
		t.Fatalf("a got %x, want %x", got, after)
	}
	// a's frame came through another connection than b's: the hub may not
	// have read it yet, and would count it port-down at the stop, not
	// capture it. Wait for the hub to have taken both of a's frames.
	waitForCond(t, "the hub to read a's second frame", func() bool {
		ports, err := control.NewClient(ctl, "").Ports(context.Background())
		return err == nil && len(ports) > 0 && ports[0].Name == "a" && ports[0].Stats.RxFrames == 2
	})
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	next := capture.RotatedPath(pcap, 1)
	if got, want := captureFrames(t, pcap), []string{"a in", "b out"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s holds %q, want %q", pcap, got, want)
	}
	// a's dropped frame and b's frame come through different connections:
	// their order is not fixed.
	got := captureFrames(t, next)
	slices.Sort(got)
	if want := []string{"a in dropped: a->b: rule drop-a-b: drop (always)", "a out", "b in"}; !slices.Equal(got, want) {
		t.Errorf("%s holds %q, want %q", next, got, want)
	}
	_, old := capturetest.Section(t, pcap)
	_, cur := capturetest.Section(t, next)
	p, err := filter.Parse([]byte(newPolicy), "new.yaml", []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if old.Seed != 9 || old.Part != 0 || old.PolicyHash == "" {
		t.Errorf("%s: got seed %d part %d policy %q, want seed 9, part 0 and the first policy's hash", pcap, old.Seed, old.Part, old.PolicyHash)
	}
	if cur.Seed != 4 || cur.Part != 1 || cur.PolicyHash != p.Hash() || cur.Extra["policy-name"] != "new.yaml" ||
		cur.Extra["policy-since"] == "" || !cur.Start.Equal(old.Start) || cur.ConfigHash != old.ConfigHash {
		t.Errorf("%s: got meta %+v, want seed 4, part 1, the new policy's hash %s and name, its start time and the run's start and config", next, cur, p.Hash())
	}
	if log := s.stderr.String(); !strings.Contains(log, `msg="policy replaced" name=new.yaml seed=4`) || !strings.Contains(log, "capture="+next) {
		t.Errorf("serve's log does not report the replacement and the new file %s:\n%s", next, log)
	}
	if out := s.stdout.String(); !strings.Contains(out, "in "+pcap+", "+next) {
		t.Errorf("the summary does not list both files:\n%s", out)
	}
}
