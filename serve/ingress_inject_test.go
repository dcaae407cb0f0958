package serve_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/capture"
	"l2hub/capture/capturetest"
	"l2hub/replay"
	"l2hub/serve"
)

// TestIngressCaptureKeepsInjectedFrames: frames the control API injected
// are an input of the run, like what the VMs sent: a capture of the ingress
// point alone records them (as the egress copies they are, with the
// injection's note), so that a replay of it sends them again.
func TestIngressCaptureKeepsInjectedFrames(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ingress.pcapng")
	sess, ctl, vms := startInjectSession(t, serve.CaptureConfig{File: file, Points: "ingress"}, "a", "b")
	a, b := vms[0], vms[1]
	if err := a.conn.WriteFrame(lossFrame(60, a, b.mac(), 1)); err != nil { // one frame a VM sent
		t.Fatal(err)
	}
	inj := &lossClient{id: 9}
	res, err := ctl.InjectStream(context.Background(), "b", func(send func([]byte) error) {
		for i := range 2 {
			if err := send(lossFrame(100, inj, b.mac(), uint32(i+1))); err != nil {
				t.Error(err)
			}
		}
	})
	if err != nil || res.Frames != 2 {
		t.Fatalf("inject: %+v, %v", res, err)
	}
	if err := receive(b, map[byte]int{a.id: 1, inj.id: 2}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Stop(); err != nil {
		t.Fatal(err)
	}
	var in, injected int
	for _, p := range capturetest.Packets(t, file) {
		switch {
		case p.Dir == capture.DirIn:
			in++
		case strings.Contains(p.Comment, "inject"):
			injected++
		default:
			t.Errorf("an ingress capture holds an egress record that was not injected: %q", p.Comment)
		}
	}
	if in != 1 || injected != 2 {
		t.Fatalf("the ingress capture holds %d ingress and %d injected records, want 1 and 2", in, injected)
	}
	out := filepath.Join(dir, "replay.pcapng")
	rr, err := (&replay.Job{Files: []string{file}, Output: out}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rr.Injected != 2 {
		t.Errorf("the replay sent %d injected frames again, want 2", rr.Injected)
	}
}
