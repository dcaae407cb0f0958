package serve_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/capture/capturetest"
	"l2hub/control"
	"l2hub/serve"
)

// startInjectSession serves ports (tcp on loopback, "name,opts") with a
// control socket and capture, and connects a VM to each; it returns the
// session, a control client and the VMs.
func startInjectSession(t *testing.T, capture serve.CaptureConfig, ports ...string) (*serve.Session, *control.Client, []*lossClient) {
	t.Helper()
	cfg := serve.Config{Stall: noStall, Control: filepath.Join(t.TempDir(), "ctl.sock"), Capture: capture}
	cfg.Ports = loopbackPorts(t, ports...)
	sess := startSession(t, cfg, func(err error) { t.Errorf("transport stopped: %v", err) })
	addr := serveControl(t, sess)
	return sess, control.NewClient(addr, ""), attachLossClients(t, sess)
}

// TestInjectionIsHeldBackByThePort: a flood of injected frames into a port
// whose VM does not read yet is held back at the port's high-water mark
// (the control API stops reading the stream, so TCP pushes back on the
// client) instead of filling the backlog and dropping the rest; once the VM
// reads, every frame arrives, in order, and nothing is dropped.
func TestInjectionIsHeldBackByThePort(t *testing.T) {
	const n = 20_000 // 30 MB: past b's socket buffers and its backlog
	sess, ctl, vms := startInjectSession(t, serve.CaptureConfig{}, "b,queue=64")
	b := vms[0]
	inj := &lossClient{id: 9}
	type answer struct {
		res control.InjectResponse
		err error
	}
	injected := make(chan answer, 1)
	var taken atomic.Int64 // frames the client has handed the stream
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		res, err := ctl.InjectStream(ctx, "b", func(send func([]byte) error) {
			for i := range n {
				if send(lossFrame(1500, inj, b.mac(), uint32(i+1))) != nil {
					return
				}
				taken.Add(1)
			}
		})
		injected <- answer{res, err}
	}()
	// b reads once the hub holds the injection back (it waits for room in
	// b, as the port's status says), the injection is over, or b met a
	// drop: a hub that held nothing back drops frames, or takes them all.
	for {
		ports, err := sess.Ports(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(ports[0].Stats.Drops) > 0 {
			break
		}
		if ports[0].InjectionsHeld > 0 {
			if k := taken.Load(); k >= n {
				t.Fatalf("the client handed over all %d frames while b read nothing: nothing held it back", k)
			}
			break
		}
		select {
		case a := <-injected:
			injected <- a
		case <-time.After(5 * time.Millisecond):
			continue
		}
		break
	}
	if err := receive(b, map[byte]int{inj.id: n}); err != nil {
		cancel() // the port may hold the rest of the stream back for good
		t.Fatal(err)
	}
	a := <-injected
	if a.err != nil || a.res.Frames != n || len(a.res.Dropped) != 0 {
		t.Errorf("the injection: %+v, %v; want %d frames sent, none dropped", a.res, a.err, n)
	}
	noDrops(t, sess)
}

// TestInjectionIntoADownLink: a frame injected into a port whose link is
// down is lost as any frame on that wire is: counted (policy), noted in
// the capture with the link's note, and the answer says so; the injection
// does not fail for it. Once the link is up, injected frames arrive.
func TestInjectionIntoADownLink(t *testing.T) {
	file := filepath.Join(t.TempDir(), "run.pcapng")
	sess, ctl, vms := startInjectSession(t, serve.CaptureConfig{File: file}, "a", "b")
	b := vms[1]
	ctx := context.Background()
	inj := &lossClient{id: 9}
	inject := func(seqs ...uint32) control.InjectResponse {
		t.Helper()
		res, err := ctl.InjectStream(ctx, "b", func(send func([]byte) error) {
			for _, s := range seqs {
				if err := send(lossFrame(100, inj, b.mac(), s)); err != nil {
					t.Error(err)
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if err := ctl.SetLink(ctx, "b", false); err != nil {
		t.Fatal(err)
	}
	if res := inject(101, 102); res.Frames != 2 || res.Dropped["policy"] != 2 {
		t.Errorf("injected into b, its link down: %+v; want 2 frames sent, both dropped (policy)", res)
	}
	if err := ctl.SetLink(ctx, "b", true); err != nil {
		t.Fatal(err)
	}
	if res := inject(1); res.Frames != 1 || len(res.Dropped) != 0 {
		t.Errorf("injected into b, its link up: %+v; want the frame sent, none dropped", res)
	}
	if err := receive(b, map[byte]int{inj.id: 1}); err != nil { // frame 1, not 101
		t.Errorf("b received: %v; want only the frame injected once its link was up", err)
	}
	ports, err := sess.Ports(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := ports[1].Stats.Drops["policy"]; got != 2 {
		t.Errorf("b counted %d policy drops, want the 2 frames injected while its link was down", got)
	}
	if err := sess.Stop(); err != nil {
		t.Fatal(err)
	}
	var dropped, delivered int
	for _, p := range capturetest.Packets(t, file) {
		first, _, _ := strings.Cut(p.Comment, "\n") // the frame's own notes; control and peer notes follow
		switch {
		case p.Dir != capture.DirOut:
		case first == "dropped: inject (from the control API (l2hub inject)); down (port b)":
			dropped++
		case first == "inject (from the control API (l2hub inject))":
			delivered++
		}
	}
	if dropped != 2 || delivered != 1 {
		t.Errorf("the capture has %d injected frames noted down and %d delivered; want 2 and 1", dropped, delivered)
	}
}
