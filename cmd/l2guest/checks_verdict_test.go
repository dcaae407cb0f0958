package main

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestRunChecksSync: when the closing barrier runs and what it does to the
// verdict. The e2e scenarios whose peer is not a guest pass l2.sync=0, and
// a guest with l2.peer=none or l2.run=none has nobody to wait for; in all of
// those a barrier would fail the run at l2.timeout. When the barrier runs
// and fails, the verdict is FAIL.
func TestRunChecksSync(t *testing.T) {
	absent := []netip.Addr{netip.MustParseAddr("127.0.2.2")} // runs no barrier
	tests := []struct {
		name  string
		run   []string
		sync  bool
		peers []netip.Addr
		want  string
	}{
		{"sync-off", []string{"sleep0"}, false, absent, "GUEST: sleep0 ok\nGUEST: done ok\n"},
		{"no-peers", []string{"sleep0"}, true, nil, "GUEST: sleep0 ok\nGUEST: done ok\n"},
		{"run-none", []string{"none", "none"}, true, absent, "GUEST: none ok\nGUEST: none ok\nGUEST: done ok\n"},
		{"peer-absent", []string{"sleep0"}, true, absent,
			"GUEST: sleep0 ok\nGUEST: sync FAIL not heard from [127.0.2.2], not yet heard all []: context deadline exceeded\nGUEST: done FAIL\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			cfg := DefaultConfig()
			cfg.Run, cfg.Sync, cfg.Peers, cfg.Timeout = tt.run, tt.sync, tt.peers, 300*time.Millisecond
			self := netip.MustParseAddr("127.0.2.1")
			e := &env{cfg: cfg, self: self, bind: self, console: &console{w: &out}, ports: ports{sync: freeUDPPort(t)}}
			ok := runChecks(context.Background(), e)
			if got := out.String(); got != tt.want {
				t.Errorf("got console %q, want %q", got, tt.want)
			}
			if wantOK := strings.HasSuffix(tt.want, "done ok\n"); ok != wantOK {
				t.Errorf("got runChecks = %v, want %v", ok, wantOK)
			}
		})
	}
}

// TestRunOneOwnTimeout: sleepN runs under its own timeout, not l2.timeout,
// so a long sleep in a run with a short l2.timeout passes.
func TestRunOneOwnTimeout(t *testing.T) {
	var out strings.Builder
	cfg := DefaultConfig()
	cfg.Timeout = time.Millisecond
	e := &env{cfg: cfg, console: &console{w: &out}}
	if !runOne(context.Background(), e, "sleep1") {
		t.Errorf("got sleep1 failed under l2.timeout=1ms, want it passed: %q", out.String())
	}
}

// TestRunOneUnknownCheck: a check this build does not know still gets its
// FAIL marker (the harness gives up at it), not silence.
func TestRunOneUnknownCheck(t *testing.T) {
	var out strings.Builder
	e := &env{cfg: DefaultConfig(), console: &console{w: &out}}
	if runOne(context.Background(), e, "pong") {
		t.Error("got runOne(pong) = true, want false")
	}
	if got, want := out.String(), "GUEST: pong FAIL unknown check \"pong\"\n"; got != want {
		t.Errorf("got console %q, want %q", got, want)
	}
}
