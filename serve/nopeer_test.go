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
// VM while frames for it were dropped as port-down for serve.NoPeerAfter (on the
// ticks' clock, from the first tick that saw a drop), the session says why
// that may be, once, and the exit summary says it again; not sooner, as
// the VM may not have been started yet; a port whose VM is attached gets
// no hint.
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
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// ticks gives the watcher a tick at t0+d, and another so that the
	// first has been acted on when it returns.
	ticks := func(d time.Duration) { tick <- t0.Add(d); tick <- t0.Add(d) }
	const want = "no VM has attached to port b yet, and 3 frames for it were dropped (port-down): if its QEMU started before the hub, it does not retry its connect"
	ticks(0)
	ticks(10 * time.Second)
	if strings.Contains(logs.String(), "no VM has attached") {
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
	ticks(11 * time.Second) // the first tick that sees the drops
	ticks(11*time.Second + serve.NoPeerAfter - time.Millisecond)
	if strings.Contains(logs.String(), "no VM has attached") {
		t.Fatalf("a hint less than %v after the first drop was seen:\n%s", serve.NoPeerAfter, logs.String())
	}
	ticks(11*time.Second + serve.NoPeerAfter)
	ticks(20 * time.Second)
	if n := strings.Count(logs.String(), want); n != 1 {
		t.Errorf("got %d hints %q in the log, want 1:\n%s", n, want, logs.String())
	}
	if strings.Contains(logs.String(), "to port a yet") {
		t.Errorf("a hint for port a, whose VM is attached:\n%s", logs.String())
	}
	for _, fix := range []string{"reconnect-ms=", "--port b=tcp-dial:", "; otherwise start it"} {
		if !strings.Contains(logs.String(), fix) {
			t.Errorf("the hint does not say %q:\n%s", fix, logs.String())
		}
	}
	stop()
	if got := out.String(); !strings.Contains(got, "\nhint: "+want) {
		t.Errorf("summary:\n%s\nwant a line %q", got, "hint: "+want)
	}
}
