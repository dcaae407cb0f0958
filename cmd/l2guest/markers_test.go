package main

import (
	"errors"
	"net"
	"net/netip"
	"testing"
)

// TestMarkers pins the marker texts e2e/README.md documents and the e2e
// suite waits for ("GUEST: up", "GUEST: resume watching", "GUEST: resume
// lost", "GUEST: <check> FAIL", "GUEST: done "): labs_test checks the lab
// files against these functions, but the e2e scenarios spell the texts out
// themselves.
func TestMarkers(t *testing.T) {
	peer := netip.MustParseAddr("10.0.0.2")
	tests := []struct{ got, want string }{
		{upMarker(netip.MustParsePrefix("10.0.0.1/24"), net.HardwareAddr{0x52, 0x54, 0, 0, 0, 1}, "2.31"),
			"up ip=10.0.0.1/24 mac=52:54:00:00:00:01 uptime=2.31"},
		{passedMarker("sleep0", ""), "sleep0 ok"},
		{passedMarker("bcast", "peers=10.0.0.2"), "bcast ok peers=10.0.0.2"},
		{failedMarker("ping", errors.New("no peers (l2.peer=)")), "ping FAIL no peers (l2.peer=)"},
		{doneMarker(true), "done ok"},
		{doneMarker(false), "done FAIL"},
		{resumeWatchingMarker(peer), "resume watching peer=10.0.0.2"},
		{resumeLostMarker(peer, 7), "resume lost peer=10.0.0.2 after 7 replies"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got marker %q, want %q", tt.got, tt.want)
		}
	}
}
