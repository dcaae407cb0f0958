package serve_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"l2hub/control"
	"l2hub/hub/hubtest"
	"l2hub/internal/syncbuf"
	"l2hub/serve"
	"l2hub/transport"
)

// TestNoPeerHint: a QEMU started before the hub never attaches (before
// QEMU 8.0 it does not retry connect=). Once a listening port has had no
// VM while frames for it were dropped as port-down, the session says why
// that may be, once, and the exit summary says it again; a port whose VM
// is attached gets no hint.
func TestNoPeerHint(t *testing.T) {
	dir := t.TempDir()
	cfg := serve.DefaultConfig()
	cfg.Ports = []transport.Spec{
		{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"},
		{Name: "b", Transport: transport.TCP, Address: "127.0.0.1:0"},
	}
	cfg.Control = filepath.Join(dir, "ctl.sock")
	var logs, out syncbuf.Buffer
	tick := make(chan time.Time) // unbuffered: a second send returns once the first was acted on
	opts := serve.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), SummaryOut: &out}
	serve.SetNoPeerTick(&opts, tick)
	s, stop := runServeWith(t, cfg, opts)
	ctl := control.NewClient(cfg.Control, "")
	a := dialVM(t, s.ports["a"])
	waitFor(t, "a attached", func() bool {
		ports, err := ctl.Ports(context.Background())
		return err == nil && ports[0].Attached
	})
	ticks := func() { tick <- time.Time{}; tick <- time.Time{} }
	ticks()
	if strings.Contains(logs.String(), "no VM has connected") {
		t.Fatalf("a hint before any frame was dropped:\n%s", logs.String())
	}
	for range 3 {
		if err := a.WriteFrame(hubtest.Frame(hubtest.Broadcast, hubtest.MAC("52:54:00:12:34:0a"), "arp")); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "three port-down drops on b", func() bool {
		ports, err := ctl.Ports(context.Background())
		return err == nil && ports[1].Stats.Drops["port-down"] == 3
	})
	ticks()
	ticks()
	const want = "port b: no VM has connected, and 3 frames for it were dropped (port-down); a QEMU started before the hub does not retry its connect"
	if n := strings.Count(logs.String(), want); n != 1 {
		t.Errorf("got %d hints %q in the log, want 1:\n%s", n, want, logs.String())
	}
	if strings.Contains(logs.String(), "port a: no VM") {
		t.Errorf("a hint for port a, whose VM is attached:\n%s", logs.String())
	}
	for _, fix := range []string{"reconnect-ms=", "--port b=tcp-dial:"} {
		if !strings.Contains(logs.String(), fix) {
			t.Errorf("the hint does not say %q:\n%s", fix, logs.String())
		}
	}
	stop()
	if got := out.String(); !strings.Contains(got, "\nhint: "+want) {
		t.Errorf("summary:\n%s\nwant a line %q", got, "hint: "+want)
	}
}
